// Command demo plays a pull request's life against a running previewd: it
// sends signed pull_request webhooks (opened, synchronize, closed) the way
// GitHub does, follows the environment through the admin API, and fetches
// the live preview in between. It leaves a second pull request's environment
// running for you to look at. With a PostgreSQL server (-database-server),
// it then shows previewd/migrations failing a migration that would lock
// production's table, and passing the same one with CONCURRENTLY.
package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

var (
	base    = flag.String("url", "http://127.0.0.1:8080", "previewd's base URL")
	secret  = flag.String("secret", os.Getenv("PREVIEWD_WEBHOOK_SECRET"), "webhook secret")
	token   = flag.String("token", os.Getenv("PREVIEWD_ADMIN_TOKEN"), "admin token")
	repo    = flag.String("repo", "acme/shop", "repository owner/name")
	timeout = flag.Duration("timeout", 3*time.Minute, "how long to wait for each step")

	databaseServer = flag.String("database-server", "", "a PostgreSQL server for acme/orders' databases, as examples/previewd.yaml names it (postgres://user@host:port); empty: step 5 is skipped")
	databaseSkip   = flag.String("database-skip", "no -database-server", "why there is no PostgreSQL server, for the skipped step 5")
	releases       = flag.String("releases", os.Getenv("PREVIEW_WEB_RELEASES"), "where the example application finds each commit's release (previewd's PREVIEW_WEB_RELEASES)")
	previewWeb     = flag.String("preview-web", "bin/preview-web", "the preview-web binary, which creates production's database")
)

func main() {
	flag.Parse()
	if err := demo(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

type environment struct {
	Name       string `json:"name"`
	Status     string `json:"status"`
	URL        string `json:"url"`
	HeadSHA    string `json:"head_sha"`
	AppliedSHA string `json:"applied_sha"`
	LastError  string `json:"last_error"`
	Comment    struct {
		Body string `json:"body"`
	} `json:"comment"`
}

func demo() error {
	if err := waitReady(); err != nil {
		return err
	}
	start := time.Now()
	sha1, sha2 := randomSHA(), randomSHA()
	step("1. A pull request opens: feature/checkout at %s", sha1[:7])
	// Events carry GitHub's real clock, so a second run of the demo on the
	// same data directory reopens the first pull request and moves the
	// second one to a new commit.
	pr1, pr2 := 1, 2
	name, err := sendPR(*repo, pr1, "opened", "feature/checkout", sha1, "open", time.Now())
	if err != nil {
		return err
	}
	env, err := waitFor(name, func(e environment) bool { return e.Status == "ready" && e.AppliedSHA == sha1 })
	if err != nil {
		return err
	}
	fmt.Printf("   environment %q is ready at %s (%.1fs after the webhook)\n", env.Name, env.URL, time.Since(start).Seconds())
	if err := show(env.URL); err != nil {
		return err
	}
	if err := showParity(name); err != nil {
		return err
	}

	step("2. A push: the head moves to %s", sha2[:7])
	pushed := time.Now()
	if _, err := sendPR(*repo, pr1, "synchronize", "feature/checkout", sha2, "open", time.Now()); err != nil {
		return err
	}
	if env, err = waitFor(name, func(e environment) bool { return e.Status == "ready" && e.AppliedSHA == sha2 }); err != nil {
		return err
	}
	fmt.Printf("   re-applied in %.1fs; the same URL now serves the new commit\n", time.Since(pushed).Seconds())
	if err := show(env.URL); err != nil {
		return err
	}
	fmt.Println("   the pull-request comment previewd keeps (offline mode: stored, not sent):")
	fmt.Println(indent(env.Comment.Body, "   | "))

	step("3. The pull request closes")
	if _, err := sendPR(*repo, pr1, "closed", "feature/checkout", sha2, "closed", time.Now()); err != nil {
		return err
	}
	if _, err := waitFor(name, func(e environment) bool { return e.Status == "destroyed" }); err != nil {
		return err
	}
	if _, err := http.Get(env.URL); err != nil {
		fmt.Printf("   destroyed: %s no longer answers (%v)\n", env.URL, shortErr(err))
	} else {
		return fmt.Errorf("%s still answers after destroy", env.URL)
	}

	step("4. Another pull request, left running for you")
	sha3 := randomSHA()
	name2, err := sendPR(*repo, pr2, "opened", "feature/search", sha3, "open", time.Now())
	if err != nil {
		return err
	}
	if env, err = waitFor(name2, func(e environment) bool { return e.Status == "ready" && e.AppliedSHA == sha3 }); err != nil {
		return err
	}

	if err := migrations(); err != nil {
		return err
	}
	fmt.Printf(`
Done. previewd is still running with environment %[1]q at %[2]s

  curl %[2]s
  curl -H "Authorization: Bearer $PREVIEWD_ADMIN_TOKEN" %[3]s/api/v1/environments
  curl -H "Authorization: Bearer $PREVIEWD_ADMIN_TOKEN" -X DELETE %[3]s/api/v1/environments/%[1]s
`, env.Name, env.URL, *base)
	return nil
}

// waitReady waits for previewd's readiness probe.
func waitReady() error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(*base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("previewd at %s is not ready after 30s", *base)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// showParity waits for the environment's parity report and prints it.
func showParity(name string) error {
	deadline := time.Now().Add(*timeout)
	for {
		var report struct {
			Status   string `json:"status"`
			Findings []struct {
				Kind, Subject, Production, Preview, Reason string
				Declared                                   bool
			} `json:"findings"`
		}
		req, _ := http.NewRequest(http.MethodGet, *base+"/api/v1/environments/"+name+"/parity", nil)
		req.Header.Set("Authorization", "Bearer "+*token)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&report)
			resp.Body.Close()
		}
		if err == nil && resp.StatusCode == http.StatusOK {
			verdict := "OK: the preview differs from production only where declared"
			if report.Status != "ok" {
				verdict = "DRIFT: the preview differs from production where nobody declared it"
			}
			fmt.Printf("   parity with production (GET /api/v1/environments/%s/parity): %s\n", name, verdict)
			for _, f := range report.Findings {
				mark := "declared"
				if !f.Declared {
					mark = "DRIFT"
				}
				fmt.Printf("     %-8s %-16s %-24s production %-34q preview %-36q %s\n", mark, f.Kind, f.Subject, f.Production, f.Preview, f.Reason)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no parity report for %s", name)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func step(format string, args ...any) { fmt.Printf("\n"+format+"\n", args...) }

// sendPR sends a signed pull_request delivery of repo shaped like
// GitHub's and returns the environment previewd assigned.
func sendPR(repo string, number int, action, branch, sha, state string, updated time.Time) (string, error) {
	payload := map[string]any{
		"action": action,
		"number": number,
		"pull_request": map[string]any{
			"number": number, "state": state, "title": "Demo change", "draft": false, "merged": action == "closed",
			"updated_at": updated.UTC().Format(time.RFC3339),
			"user":       map[string]any{"login": "octocat"},
			"head":       map[string]any{"ref": branch, "sha": sha, "repo": map[string]any{"full_name": repo}},
			"base":       map[string]any{"ref": "main", "sha": randomSHA(), "repo": map[string]any{"full_name": repo}},
			"labels":     []any{},
		},
		"repository": map[string]any{"full_name": repo},
		"sender":     map[string]any{"login": "octocat"},
	}
	body, _ := json.Marshal(payload)
	mac := hmac.New(sha256.New, []byte(*secret))
	mac.Write(body)
	req, _ := http.NewRequest(http.MethodPost, *base+"/webhooks/github", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "pull_request")
	req.Header.Set("X-GitHub-Delivery", randomSHA()[:32])
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	sent := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Result      string `json:"result"`
		Environment string `json:"environment"`
		Error       string `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("webhook %s: %s %s", action, resp.Status, out.Error)
	}
	fmt.Printf("   webhook %-11s → %d %s in %s (stored and fsynced before the answer)\n", action, resp.StatusCode, out.Result, time.Since(sent).Round(time.Millisecond))
	return out.Environment, nil
}

func waitFor(name string, done func(environment) bool) (environment, error) {
	deadline := time.Now().Add(*timeout)
	last := ""
	for {
		var env environment
		req, _ := http.NewRequest(http.MethodGet, *base+"/api/v1/environments/"+name, nil)
		req.Header.Set("Authorization", "Bearer "+*token)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&env)
			resp.Body.Close()
		}
		if err == nil && env.Status != last {
			fmt.Printf("   status: %s\n", env.Status)
			last = env.Status
		}
		if err == nil && done(env) {
			return env, nil
		}
		if err == nil && env.Status == "failed" {
			return env, fmt.Errorf("environment %s failed: %s", name, env.LastError)
		}
		if time.Now().After(deadline) {
			return env, fmt.Errorf("environment %s: timed out (last status %q, err %v)", name, env.Status, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func show(url string) error {
	resp, err := http.Get(url)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 16384))
	var shown []string // the lines that tell this preview apart
	for _, line := range strings.Split(string(body), "\n") {
		if strings.Contains(line, "<h1>") || strings.Contains(line, "Commit") || strings.Contains(line, "records") || strings.Contains(line, "instance_count") {
			shown = append(shown, tagless(line))
		}
	}
	fmt.Printf("   curl %s → %s\n%s\n", url, resp.Status, indent(strings.Join(shown, "\n"), "   | "))
	return nil
}

// tagless drops HTML tags from a line.
func tagless(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
		case r == '>':
			in = false
			b.WriteByte(' ')
		case !in:
			b.WriteRune(r)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

func indent(s, prefix string) string {
	lines := strings.Split(s, "\n")
	if len(lines) > 25 {
		lines = append(lines[:25], "…")
	}
	return prefix + strings.Join(lines, "\n"+prefix)
}

func shortErr(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return s
}

func randomSHA() string {
	b := make([]byte, 20)
	rand.Read(b)
	return hex.EncodeToString(b)
}
