package provisioner

// This test applies examples/preview-web-module with the real Terraform
// binary and talks to the servers it starts.

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/previewd/previewd/internal/enginetest"
)

func TestExampleModule(t *testing.T) {
	tfBin := enginetest.Terraform(t, "..")
	binDir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(binDir, "preview-web"), "../cmd/preview-web")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build preview-web: %v\n%s", err, out)
	}
	// PATH is passed to Terraform, and local-exec finds preview-web there.
	t.Setenv("PATH", binDir+string(os.PathListSeparator)+os.Getenv("PATH"))

	dir, _ := filepath.Abs(filepath.Join("..", "examples", "preview-web-module"))
	before := treeDigest(t, dir)
	mod := Module{
		Dir:      dir,
		VarFiles: []string{"production.tfvars"},
		Vars: map[string]any{
			"instance_count":   1,
			"external_api_url": "https://sandbox.payments.example.com",
			"feature_flags":    map[string]bool{"new_checkout": true},
		},
	}
	prov, err := New(Config{TerraformBin: tfBin, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	p := testProvisioner{Provisioner: prov, modules: fixed(mod)}
	ctx := context.Background()
	env := testEnv("feat-web", "1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
	var log bytes.Buffer
	t.Cleanup(func() { p.Destroy(context.Background(), env, io.Discard) }) // stop the servers if the test failed half way

	res, err := p.Apply(ctx, env, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	page := get(t, res.URL)
	for _, want := range []string{"feat-web", "feat/feat-web", env.HeadSHA, "acme/shop", "#42", "15.4", "https://sandbox.payments.example.com", "new_checkout&#34;:true"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "https://api.payments.example.com") {
		t.Errorf("page shows production's API URL, which the preview overrides:\n%s", page)
	}

	env.HeadSHA = "2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	res2, err := p.Apply(ctx, env, &log)
	if err != nil {
		t.Fatalf("re-apply: %v\n%s", err, log.String())
	}
	if res2.URL != res.URL {
		t.Errorf("re-apply moved the server from %s to %s", res.URL, res2.URL)
	}
	if page := get(t, res2.URL); !strings.Contains(page, env.HeadSHA) || strings.Contains(page, "1111111") {
		t.Errorf("re-apply: page does not show the new commit only:\n%s", page)
	}

	if err := p.Destroy(ctx, env, &log); err != nil {
		t.Fatalf("destroy: %v\n%s", err, log.String())
	}
	u, _ := url.Parse(res2.URL)
	if conn, err := net.DialTimeout("tcp", u.Host, time.Second); err == nil {
		conn.Close()
		t.Errorf("%s still accepts connections after destroy", u.Host)
	}
	if after := treeDigest(t, dir); after != before {
		t.Errorf("example module directory changed")
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, %v", url, resp.StatusCode, err)
	}
	return string(b)
}
