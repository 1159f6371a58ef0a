package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestFullDiskRefusesWebhooksWithoutLosingAcknowledged puts previewd's data
// directory on a 2 MiB tmpfs and fills it. A delivery that cannot be stored
// is refused with 503 (GitHub may redeliver it); every delivery answered 2xx
// is in the store; freeing space brings intake back. Mounting needs root; the
// same refusal through an injected write error is tested in server/.
func TestFullDiskRefusesWebhooksWithoutLosingAcknowledged(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root; server.TestWebhookStoreFailureIsA5xx covers the refusal with an injected error")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	moduleDir, _ := filepath.Abs("testdata/module")
	p := startPreviewd(t, map[string]string{"PREVIEWD_MODULE_DIR": moduleDir, "PREVIEWD_DATA_DIR": dir, "PREVIEWD_MAX_CONCURRENT_RUNS": "1"})

	// Fill the disk.
	filler, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := filler.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill: %v", err)
			}
			break
		}
	}
	filler.Close()

	t0 := time.Now().Add(-time.Hour)
	var accepted []string
	refused := 0
	for i := 1; i <= 500 && refused == 0; i++ {
		branch := fmt.Sprintf("full/%03d", i)
		code, out := p.send(prEvent{"opened", branch, fmt.Sprintf("%040d", i), i, t0})
		switch code {
		case 202:
			accepted = append(accepted, out["environment"])
		case 503:
			refused++
		default:
			t.Fatalf("delivery %d: got %d %v, want 202 or 503", i, code, out)
		}
	}
	if refused == 0 {
		t.Fatalf("500 deliveries on a full disk were all accepted; want a 503 once bbolt cannot grow")
	}
	t.Logf("%d deliveries stored before the disk ran out", len(accepted))
	for _, name := range accepted {
		var env apiEnvironment
		if code := p.get("/api/v1/environments/"+name, &env); code != 200 {
			t.Errorf("acknowledged environment %s: got %d, want it stored", name, code)
		}
	}
	if code := p.get("/healthz", nil); code != 200 {
		t.Errorf("healthz on a full disk: got %d", code)
	}

	os.Remove(filepath.Join(dir, "filler"))
	if code, out := p.send(prEvent{"opened", "after/space", "f00d", 9999, t0}); code != 202 {
		t.Errorf("after freeing space: got %d %v, want 202", code, out)
	}
}
