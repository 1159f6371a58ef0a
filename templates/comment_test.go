package templates

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the rendered comments")

var (
	expires = time.Date(2025, 3, 4, 17, 30, 0, 0, time.UTC)
	updated = time.Date(2025, 3, 1, 17, 30, 0, 0, time.FixedZone("CET", 3600))
	now     = time.Date(2025, 3, 2, 15, 10, 0, 0, time.UTC) // 2 days 2 h 20 min before expires
)

func base() CommentData {
	return CommentData{
		Name:      "feature-login",
		Repo:      "acme/shop",
		PR:        42,
		Branch:    "feature/login",
		HeadSHA:   "def5678901234567890123456789012345678901",
		ExpiresAt: expires,
		UpdatedAt: updated,
		Now:       now,
	}
}

// longError is about 100 KB of Terraform output whose reason is at its end.
func longError() string {
	var b strings.Builder
	for i := 0; b.Len() < 100_000; i++ {
		b.WriteString("module.app.aws_instance.web: Still creating... [10s elapsed] ``` line\n")
	}
	b.WriteString("Error: creating EC2 Instance: InvalidParameterValue: the final reason\n")
	return b.String()
}

func TestRenderCommentGolden(t *testing.T) {
	tests := []struct {
		name string
		data func(d CommentData) CommentData
	}{
		{"queued", func(d CommentData) CommentData { d.Status = "queued"; d.Now = time.Time{}; return d }},
		{"provisioning", func(d CommentData) CommentData {
			d.Status = "provisioning"
			d.AppliedSHA = "abc1234567890123456789012345678901234567"
			d.URL = "https://feature-login.preview.example.com"
			return d
		}},
		{"ready", func(d CommentData) CommentData {
			d.Status = "ready"
			d.AppliedSHA = d.HeadSHA
			d.URL = "https://feature-login.preview.example.com"
			d.LogURL = "https://previewd.example.com/api/v1/environments/feature-login/runs/1/log"
			return d
		}},
		{"failed", func(d CommentData) CommentData {
			d.Status = "failed"
			d.LastError = longError()
			d.LogURL = "https://previewd.example.com/api/v1/environments/feature-login/runs/2/log"
			d.Now = expires.Add(-5 * time.Hour)
			return d
		}},
		{"destroying", func(d CommentData) CommentData { d.Status = "destroying"; d.AppliedSHA = d.HeadSHA; return d }},
		{"destroyed", func(d CommentData) CommentData {
			d.Status = "ready" // Destroyed wins
			d.Destroyed = true
			d.AppliedSHA = d.HeadSHA
			d.URL = "https://feature-login.preview.example.com"
			return d
		}},
		{"ready-with-drift", func(d CommentData) CommentData {
			d.Status, d.AppliedSHA, d.URL = "ready", d.HeadSHA, "https://feature-login.preview.example.com"
			d.Parity = &ParityView{Undeclared: 1, Findings: []FindingRow{
				{Kind: "variable", Subject: "database_engine_version", Production: "15.4", Preview: "13.9", Reason: "not declared"},
				{Kind: "variable", Subject: "instance_count", Production: "3", Preview: "1", Reason: "scale", Declared: true},
				{Kind: "config_key", Subject: "payments: RATE_LIMIT|BURST", Production: "present", Preview: "missing", Reason: "not declared"},
			}}
			return d
		}},
		{"ready-with-parity", func(d CommentData) CommentData {
			d.Status, d.AppliedSHA = "ready", d.HeadSHA
			d.Parity = &ParityView{OK: true, Findings: []FindingRow{{Kind: "variable", Subject: "instance_count", Production: "3", Preview: "1", Reason: "scale", Declared: true}}}
			return d
		}},
		{"expired", func(d CommentData) CommentData {
			d.Status, d.Reason, d.AppliedSHA = "destroyed", "expired", d.HeadSHA
			return d
		}},
		{"fork-awaiting-approval", func(d CommentData) CommentData {
			d.Status, d.Reason = "destroyed", "fork-awaiting-approval"
			return d
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RenderComment(tt.data(base()))
			if err != nil {
				t.Fatalf("RenderComment: %v", err)
			}
			if !strings.HasPrefix(got, CommentMarker("feature-login")+"\n") {
				t.Errorf("body starts %q, want the marker %q", got[:min(len(got), 60)], CommentMarker("feature-login"))
			}
			if n := utf8.RuneCountInString(got); n >= MaxCommentLength {
				t.Errorf("body is %d characters, want under %d", n, MaxCommentLength)
			}
			checkGolden(t, filepath.Join("testdata", tt.name+".golden"), got)
		})
	}
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatalf("write golden: %v", err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run go test ./templates -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("comment differs from %s (run with -update to accept)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestRenderCommentContent(t *testing.T) {
	ready := base()
	ready.Status, ready.AppliedSHA, ready.URL = "ready", ready.HeadSHA, "https://x.example.com/"
	failed := base()
	failed.Status, failed.LastError = "failed", longError()
	destroyed := base()
	destroyed.Status, destroyed.URL = "destroyed", "https://x.example.com/"
	hostile := base()
	hostile.Status, hostile.URL, hostile.AppliedSHA = "ready", "javascript:alert(1)", hostile.HeadSHA
	tests := []struct {
		name    string
		data    CommentData
		want    []string
		notWant []string
	}{
		{"ready links the URL", ready, []string{"<https://x.example.com/>", "Deployed commit `def5678`",
			"expires in 2 days (at **2025-03-04 17:30 UTC**) unless the pull request is updated."}, nil},
		{"failed keeps the error's end", failed, []string{"the final reason", "earlier bytes cut)", "````text\n"}, []string{"Deployed commit", "run log"}},
		{"every comment lists the commands", ready, []string{"<details>\n<summary>Commands</summary>", "`/preview redeploy`", "`/preview destroy`",
			"`/preview extend <duration>`", "`/preview keep`", "`/preview help`", "write access", "</details>"}, nil},
		{"destroyed says so, without link or expiry", destroyed, []string{"This preview environment has been destroyed."}, []string{"x.example.com", "expires"}},
		{"a non-http URL is shown as code", hostile, []string{"`javascript:alert(1)`"}, []string{"<javascript:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RenderComment(tt.data)
			if err != nil {
				t.Fatalf("RenderComment: %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("body lacks %q; got:\n%s", w, got)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(got, w) {
					t.Errorf("body contains %q; got:\n%s", w, got)
				}
			}
		})
	}
}

func TestErrorBlockTruncation(t *testing.T) {
	tests := []struct {
		name     string
		msg      string
		logURL   string
		wantCut  bool
		wantTail string
	}{
		{"short error kept whole", "Error: boom", "", false, "Error: boom\n```"},
		{"long error loses its start", strings.Repeat("x", 3*MaxErrorLength) + "\nError: end", "", true, "Error: end\n```"},
		{"a cut points at the log", strings.Repeat("x", 3*MaxErrorLength) + "\nError: end", "https://p.example.com/log", true, "Error: end\n```"},
		{"multi-byte runes are not split", strings.Repeat("é", MaxErrorLength) + "\nend", "", true, "end\n```"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := errorBlock(tt.msg, tt.logURL)
			if !utf8.ValidString(got) {
				t.Errorf("errorBlock produced invalid UTF-8")
			}
			if cut := strings.Contains(got, "earlier bytes cut"); cut != tt.wantCut {
				t.Errorf("cut = %v, want %v", cut, tt.wantCut)
			}
			if pointed := strings.Contains(got, "the run log has them"); pointed != (tt.wantCut && tt.logURL != "") {
				t.Errorf("points at the log = %v, want %v", pointed, tt.wantCut && tt.logURL != "")
			}
			if !strings.HasSuffix(got, tt.wantTail) {
				t.Errorf("block ends %q, want suffix %q", got[max(0, len(got)-40):], tt.wantTail)
			}
			if len(got) > MaxErrorLength+100 {
				t.Errorf("block is %d bytes, want at most %d", len(got), MaxErrorLength+100)
			}
		})
	}
}

func TestInlineCode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"main", "`main`"},
		{"a`b", "``a`b``"},
		{"`x", "`` `x ``"},
		{"", "`?`"},
	}
	for _, tt := range tests {
		if got := inlineCode(tt.in); got != tt.want {
			t.Errorf("inlineCode(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestExpiry(t *testing.T) {
	at := "**2025-03-04 17:30 UTC**"
	tests := []struct {
		name string
		now  time.Time
		want string
	}{
		{"no clock", time.Time{}, "This environment expires at " + at + " unless the pull request is updated."},
		{"days", expires.Add(-50 * time.Hour), "This environment expires in 2 days (at " + at + ") unless the pull request is updated."},
		{"days round to the nearest", expires.Add(-(4*24 + 13) * time.Hour), "This environment expires in 5 days (at " + at + ") unless the pull request is updated."},
		{"under two days in hours", expires.Add(-47*time.Hour - 10*time.Minute), "This environment expires in 47 hours (at " + at + ") unless the pull request is updated."},
		{"hours round to the nearest", expires.Add(-5*time.Hour - 31*time.Minute), "This environment expires in 6 hours (at " + at + ") unless the pull request is updated."},
		{"one hour", expires.Add(-70 * time.Minute), "This environment expires in 1 hour (at " + at + ") unless the pull request is updated."},
		{"under an hour", expires.Add(-59 * time.Minute), "This environment expires in less than an hour (at " + at + ") unless the pull request is updated."},
		{"past", expires.Add(time.Minute), "This environment expired at " + at + " and is about to be torn down."},
	}
	for _, tt := range tests {
		if got := expiry(expires, tt.now); got != tt.want {
			t.Errorf("%s: expiry = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestRenderCommentStableWithinTheHour checks that the clock alone changes
// the body at most once an hour.
func TestRenderCommentStableWithinTheHour(t *testing.T) {
	for _, start := range []time.Duration{10 * time.Hour, 60 * time.Hour, 10*time.Hour + 17*time.Minute} {
		d := base()
		d.Status = "ready"
		bodies := map[string]bool{}
		for m := range 60 {
			d.Now = expires.Add(-start + time.Duration(m)*time.Minute)
			got, err := RenderComment(d)
			if err != nil {
				t.Fatal(err)
			}
			bodies[got] = true
		}
		if len(bodies) > 2 {
			t.Errorf("from %v before expiry, an hour of renders gave %d bodies, want at most 2", start, len(bodies))
		}
	}
}
