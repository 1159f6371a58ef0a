package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/previewd/previewd/internal/enginetest"
)

// TestLifecycleAndParityOnOpenTofu runs previewd on OpenTofu: a pull
// request's environment is built, checked for parity, moved by a push and
// destroyed, and the engine check sees OpenTofu, the same as production's
// when production runs it, and another engine when production runs
// Terraform.
func TestLifecycleAndParityOnOpenTofu(t *testing.T) {
	tofu := enginetest.Tofu(t, "../..")
	module, _ := filepath.Abs("testdata/module")
	for _, tc := range []struct {
		production string
		status     string
		engine     []string // the engine findings' subjects
	}{
		{"opentofu 1.10.10", "ok", nil},
		{"terraform 1.5.7", "drift", []string{"engine", "version"}},
	} {
		t.Run(tc.production, func(t *testing.T) {
			p := startPreviewd(t, map[string]string{"PREVIEWD_TERRAFORM_BIN": tofu, "PREVIEWD_MODULE_DIR": module,
				"PREVIEWD_PRODUCTION_TERRAFORM_VERSION": tc.production})
			t0 := time.Now().Add(-time.Hour)
			p.send(prEvent{"opened", "tofu/life", "sha1", 7, t0})
			env := p.waitFor("tofu-life", "ready and checked", func(e apiEnvironment) bool { return readyAt("sha1")(e) && e.Parity.SHA == "sha1" })
			if !strings.HasPrefix(env.URL, "https://tofu-life.preview.test/?sha=sha1") {
				t.Errorf("url %q", env.URL)
			}
			var report struct {
				Status   string                           `json:"status"`
				Findings []struct{ Kind, Subject string } `json:"findings"`
			}
			if code := p.get("/api/v1/environments/tofu-life/parity", &report); code != 200 {
				t.Fatalf("parity: %d", code)
			}
			var engine []string
			for _, f := range report.Findings {
				if f.Kind == "engine_version" {
					engine = append(engine, f.Subject)
				}
			}
			if report.Status != tc.status || strings.Join(engine, ",") != strings.Join(tc.engine, ",") {
				t.Errorf("parity %s with engine findings %v; want %s with %v (all: %+v)", report.Status, engine, tc.status, tc.engine, report.Findings)
			}
			if log := logOf(t, p, "tofu-life", 0); !strings.Contains(log, "$ tofu apply") {
				t.Errorf("the run log does not show OpenTofu's apply:\n%s", log)
			}
			p.send(prEvent{"synchronize", "tofu/life", "sha2", 7, t0.Add(time.Minute)})
			p.waitFor("tofu-life", "ready at the new head", readyAt("sha2"))
			p.send(prEvent{"closed", "tofu/life", "sha2", 7, t0.Add(2 * time.Minute)})
			p.waitFor("tofu-life", "destroyed", func(e apiEnvironment) bool { return e.Status == "destroyed" })
		})
	}
}
