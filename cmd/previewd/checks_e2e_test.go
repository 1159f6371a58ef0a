package main

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/previewd/previewd/internal/waittest"
)

// TestHeadsWaitForRequiredChecks runs wait_for_checks against the fake
// GitHub: a head is applied once its required check run succeeded (a
// check_run event reads it at once), a failed check fails the environment
// without an apply, and a check re-run to success with no event at all is
// found by the next poll.
func TestHeadsWaitForRequiredChecks(t *testing.T) {
	gh := &fakeGitHub{comments: map[int64]string{}, checkRuns: map[string]map[string]string{}}
	srv := httptest.NewServer(gh.handler())
	defer srv.Close()
	module, _ := filepath.Abs("testdata/module")
	configFile := filepath.Join(t.TempDir(), "previewd.yaml")
	os.WriteFile(configFile, fmt.Appendf(nil, "repos:\n  - name: acme/shop\n    module_dir: %s\n    wait_for_checks: [build-image]\ncheck_poll_interval: 1s\n", module), 0o600)
	p := startPreviewd(t, map[string]string{"PREVIEWD_CONFIG": configFile, "PREVIEWD_GITHUB_TOKEN": "ghs_e2etoken", "PREVIEWD_GITHUB_API_URL": srv.URL + "/"})
	check := func(sha, conclusion string) {
		gh.mu.Lock()
		defer gh.mu.Unlock()
		if gh.checkRuns[sha] == nil {
			gh.checkRuns[sha] = map[string]string{}
		}
		gh.checkRuns[sha]["build-image"] = conclusion
	}
	t0 := time.Now().Add(-time.Hour)
	sha1, sha2 := strings.Repeat("1", 40), strings.Repeat("2", 40)

	check(sha1, "")
	p.send(prEvent{"opened", "feature/wait", sha1, 1, t0})
	env := p.waitFor("feature-wait", "waiting for build-image", func(e apiEnvironment) bool {
		return e.Status == "queued" && strings.Contains(e.Comment.Body, "until its required checks pass: `build-image`")
	})
	if env.AppliedSHA != "" {
		t.Fatalf("applied before its check passed: %+v", env)
	}
	check(sha1, "success")
	code, out := p.sendEvent("check_run", fmt.Appendf(nil, `{"action":"completed","check_run":{"id":1,"name":"build-image","head_sha":%q,"status":"completed","conclusion":"success"},"repository":{"full_name":"acme/shop"},"installation":{"id":99}}`, sha1))
	if code != 202 || out["result"] != "checks" {
		t.Errorf("check_run delivery: %d %v", code, out)
	}
	p.waitFor("feature-wait", "ready at sha1", readyAt(sha1))

	p.send(prEvent{"synchronize", "feature/wait", sha2, 1, t0.Add(time.Minute)})
	check(sha2, "failure")
	p.sendEvent("check_suite", fmt.Appendf(nil, `{"action":"completed","check_suite":{"id":2,"head_sha":%q,"status":"completed","conclusion":"failure"},"repository":{"full_name":"acme/shop"}}`, sha2))
	env = p.waitFor("feature-wait", "failed on its check, and said so", func(e apiEnvironment) bool {
		return e.Status == "failed" && strings.Contains(e.Comment.Body, "build-image failed")
	})
	if !strings.Contains(env.LastError, "required check build-image failed on 2222222") || env.AppliedSHA != sha1 {
		t.Errorf("after the failed check: %+v", env)
	}

	check(sha2, "success") // re-run; the event is lost
	p.waitFor("feature-wait", "ready at sha2 without an event", readyAt(sha2))
	// previewd's statuses, joined: pending then success on each head, and
	// failure on the second before its success.
	statuses := func() string {
		gh.mu.Lock()
		defer gh.mu.Unlock()
		var own []string
		for _, s := range gh.statuses {
			if !strings.Contains(s, "previewd/parity") {
				own = append(own, s)
			}
		}
		return strings.Join(own, ",")
	}
	waittest.For(t, "previewd's statuses: pending then success on each head, failure on the second before its success", statuses, func(joined string) bool {
		failure, success := strings.Index(joined, "2222222 failure"), strings.LastIndex(joined, "2222222 success")
		return strings.HasPrefix(joined, "1111111 pending,1111111 success,") && failure > 0 && success > failure &&
			strings.HasSuffix(joined, "2222222 success") && !strings.Contains(joined[:failure], "2222222 success")
	})
}
