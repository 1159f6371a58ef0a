package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/previewd/previewd/store"
)

func TestBackupOnlineAndOffline(t *testing.T) {
	moduleDir, _ := filepath.Abs("testdata/module")
	p := startPreviewd(t, map[string]string{"PREVIEWD_MODULE_DIR": moduleDir})
	p.send(prEvent{"opened", "backed/up", "s1", 1, time.Now()})
	p.waitFor("backed-up", "ready", readyAt("s1"))

	var out, errOut strings.Builder
	online := filepath.Join(t.TempDir(), "online.db")
	t.Setenv("PREVIEWD_ADMIN_TOKEN", testToken)
	if code := run([]string{"backup", "--url", p.base, "--out", online}, &out, &errOut); code != 0 {
		t.Fatalf("online backup: exit %d: %s", code, errOut.String())
	}
	// While previewd runs, an offline backup is refused with a pointer to --url.
	errOut.Reset()
	if code := run([]string{"backup", "--data-dir", p.dataDir, "--out", filepath.Join(t.TempDir(), "x.db")}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "--url") {
		t.Errorf("offline backup of a running previewd: exit %d %q", code, errOut.String())
	}
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	offline := filepath.Join(t.TempDir(), "offline.db")
	if code := run([]string{"backup", "--data-dir", p.dataDir, "--out", offline}, &out, &errOut); code != 0 {
		t.Fatalf("offline backup: exit %d: %s", code, errOut.String())
	}
	for _, path := range []string{online, offline} {
		db, err := store.Open(path, store.Options{})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		env, err := db.FindEnvironmentByName(context.Background(), "backed-up")
		db.Close()
		if err != nil || env.AppliedSHA != "s1" {
			t.Errorf("%s: got %+v (err %v), want the ready environment", path, env, err)
		}
	}
	// A wrong token leaves no file behind.
	t.Setenv("PREVIEWD_ADMIN_TOKEN", "wrong")
	bad := filepath.Join(t.TempDir(), "bad.db")
	p2 := startPreviewd(t, map[string]string{"PREVIEWD_MODULE_DIR": moduleDir})
	if code := run([]string{"backup", "--url", p2.base, "--out", bad}, &out, &errOut); code != 1 {
		t.Errorf("backup with a wrong token: exit %d", code)
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Errorf("a failed backup left %s", bad)
	}
}
