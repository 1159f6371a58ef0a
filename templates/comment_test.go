package templates

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
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
			d.Parity = &ParityView{Undeclared: 1, Declared: 1, Findings: []FindingRow{
				{Kind: "variable", Subject: "database_engine_version", Production: "15.4", Preview: "13.9", Reason: "not declared"},
				{Kind: "variable", Subject: "instance_count", Production: "3", Preview: "1", Reason: "scale", Declared: true},
				{Kind: "config_key", Subject: "payments: RATE_LIMIT|BURST", Production: "present", Preview: "missing", Reason: "not declared"},
			}}
			return d
		}},
		{"ready-with-parity", func(d CommentData) CommentData {
			d.Status, d.AppliedSHA = "ready", d.HeadSHA
			d.Parity = &ParityView{OK: true, Declared: 1, Findings: []FindingRow{{Kind: "variable", Subject: "instance_count", Production: "3", Preview: "1", Reason: "scale", Declared: true}}}
			return d
		}},
		{"ready-with-warning", func(d CommentData) CommentData {
			d.Status, d.AppliedSHA = "ready", d.HeadSHA
			d.Parity = &ParityView{OK: true, Declared: 1, CheckRunURL: "https://github.com/acme/shop/runs/7", Findings: []FindingRow{
				revertsConnectionLimit,
				{Kind: "variable", Subject: "instance_count", Production: "3", Preview: "1", Reason: "scale", Declared: true},
			}}
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
	waiting := base()
	waiting.WaitingFor = []string{"build-image", "ci/e2e"}
	hostile := base()
	hostile.Status, hostile.URL, hostile.AppliedSHA = "ready", "javascript:alert(1)", hostile.HeadSHA
	warned := ready
	warned.Parity = &ParityView{OK: true, Findings: []FindingRow{revertsConnectionLimit}}
	driftWarned := ready
	driftWarned.Parity = &ParityView{Undeclared: 1, Findings: []FindingRow{
		{Kind: "variable", Subject: "replicas", Production: "3", Preview: "1", Reason: "not declared"}, revertsConnectionLimit}}
	warning := "⚠️ **Deploying this would revert a change made to production:** production runs `postgresql_role.app.connection_limit` = `400` since a change outside Terraform; " +
		"merging this pull request and deploying would set it back to `200` (`main.tf:12`)."
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
		{"queued says which checks it waits for", waiting, []string{"Waiting to deploy commit `def5678` from branch `feature/login` until its required checks pass: `build-image`, `ci/e2e`."}, nil},
		{"a non-http URL is shown as code", hostile, []string{"`javascript:alert(1)`"}, []string{"<javascript:"}},
		{"a warning alone is parity, warned of under the verdict", warned,
			[]string{"✅ differs from production only where declared.\n\n" + warning + "\n\n<details>\n", "| ⚠️ warning | reverts_production |"},
			[]string{"declared)", "**drift**", "undeclared"}},
		{"a warning is not counted as drift", driftWarned,
			[]string{"❌ 1 undeclared difference from production.\n\n" + warning, "| **drift** | variable | `replicas`", "| ⚠️ warning | reverts_production |"}, nil},
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
			got := errorBlock(tt.msg, tt.logURL, MaxErrorLength)
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
		{"a\r\nb", "`a b`"},
		{"\u2028", "`?`"},
		{"x\n<!-- y -->", "`x <!-- y -->`"},
		{"a\n`b`", "`` a `b` ``"},
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

// revertsConnectionLimit warns that deploying would revert a hotfix, as
// parity.RevertWarnings makes it.
var revertsConnectionLimit = FindingRow{Kind: "reverts_production", Subject: "postgresql_role.app.connection_limit", Production: "400", Preview: "200",
	Warning: true, Location: "main.tf:12",
	Reason: "production runs `postgresql_role.app.connection_limit = 400` since a change outside Terraform; merging this pull request and deploying would set it back to `200` (main.tf:12)"}

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

func TestInert(t *testing.T) {
	tests := []struct {
		in    string
		limit int
		want  string
	}{
		{"feature/login", 200, "feature/login"},
		{"a\r\nb", -1, "a b"},
		{"  a \n\n\t b  ", -1, "a b"},
		{"a\u2028b\u2029c\u0085d", -1, "a b c d"},
		{"\u2028", -1, ""},
		{"a\x00b\x1bc\u009bd", -1, "a\ufffdb\ufffdc\ufffdd"},
		{"abc\u202eevil\u2066", -1, "abc\ufffdevil\ufffd"},
		{"a\xffb", -1, "a\ufffdb"},
		{"abcde", 5, "abcde"},
		{"abcdef", 5, "abcd…"},
		{"abc  def", 5, "abc…"},
		{strings.Repeat("é", 300), 200, strings.Repeat("é", 199) + "…"},
	}
	for _, tt := range tests {
		if got := inert(tt.in, tt.limit); got != tt.want {
			t.Errorf("inert(%q, %d) = %q, want %q", tt.in, tt.limit, got, tt.want)
		}
	}
}

func TestTableCell(t *testing.T) {
	tests := []struct{ in, want string }{
		{"instance_count", "`instance_count`"},
		{"a|b\nc", "`a\\|b c`"},
		{"`|`", "`` `\\|` ``"},
		{"", "—"},
		{"\r\n", "—"},
		{strings.Repeat("x", 200), "`" + strings.Repeat("x", 119) + "…`"},
	}
	for _, tt := range tests {
		if got := tableCell(tt.in); got != tt.want {
			t.Errorf("tableCell(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestSubjectCell: a subject too long for a cell keeps its end, which
// names the key that differs.
func TestSubjectCell(t *testing.T) {
	long := "module.shop.module.payments.terraform_data.gateway[\"eu-west-1\"].input.settings.limits.feature_flags.new_checkout_for_returning_customers"
	tests := []struct{ in, want string }{
		{"terraform_data.app.input.settings.feature_flags.new_checkout", "`terraform_data.app.input.settings.feature_flags.new_checkout`"},
		{long, "`" + long[:39] + "…" + long[len(long)-80:] + "`"},
		{"a|b", "`a\\|b`"},
	}
	for _, tt := range tests {
		got := subjectCell(tt.in)
		if got != tt.want {
			t.Errorf("subjectCell(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if n := utf8.RuneCountInString(strings.Trim(got, "`")); n > maxCellLength {
			t.Errorf("subjectCell(%q) is %d characters, more than %d", tt.in, n, maxCellLength)
		}
	}
	if !strings.HasSuffix(subjectCell(long), ".feature_flags.new_checkout_for_returning_customers`") {
		t.Errorf("subjectCell cut the key: %s", subjectCell(long))
	}
}

func TestWord(t *testing.T) {
	tests := []struct{ in, want string }{
		{"variable", "variable"},
		{"config_key", "config_key"},
		{"_x_", "`_x_`"},
		{"variable|x\n# y", "`variable\\|x # y`"},
		{"<img src=x>", "`<img src=x>`"},
		{"", "—"},
	}
	for _, tt := range tests {
		if got := word(tt.in); got != tt.want {
			t.Errorf("word(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCommentMarker(t *testing.T) {
	tests := []struct{ name, want string }{
		{"feature-login", "<!-- previewd:environment=feature-login -->"},
		{"Feature_Login", "<!-- previewd:environment=feature-login -->"},
		{"x-->", "<!-- previewd:environment=x--- -->"},
		{"a\nb", "<!-- previewd:environment=a-b -->"},
		{"é<!--", "<!-- previewd:environment=----- -->"},
		{strings.Repeat("a", 1000), "<!-- previewd:environment=" + strings.Repeat("a", 63) + " -->"},
		{"", "<!-- previewd:environment= -->"},
	}
	for _, tt := range tests {
		if got := CommentMarker(tt.name); got != tt.want {
			t.Errorf("CommentMarker(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestCommit(t *testing.T) {
	tests := []struct{ in, wantShort, want string }{
		{"def5678901234567890123456789012345678901", "def5678", "`def5678`"},
		{"DEF5678", "DEF5678", "`DEF5678`"},
		{"zz\n# x", "zz\n# x", "`zz # x`"},
		{"ééééééééé", "ééééééééé", "`ééééééééé`"},
		{strings.Repeat("g", 100), strings.Repeat("g", 100), "`" + strings.Repeat("g", 39) + "…`"},
		{"", "", "`?`"},
	}
	for _, tt := range tests {
		short := shortSHA(tt.in)
		if short != tt.wantShort {
			t.Errorf("shortSHA(%q) = %q, want %q", tt.in, short, tt.wantShort)
		}
		if got := commit(short); got != tt.want {
			t.Errorf("commit(%q) = %q, want %q", short, got, tt.want)
		}
	}
}

func TestPullRef(t *testing.T) {
	tests := []struct{ repo, want string }{
		{"acme/shop", "acme/shop#42"},
		{"acme/shop.github.io", "acme/shop.github.io#42"},
		{"acme/_my_repo_", `acme/\_my\_repo\_#42`},
		{"acme/shop\n# Heading", "`acme/shop # Heading`#42"},
		{"<img src=x>/y", "`<img src=x>/y`#42"},
		{"acme/shop/extra", "`acme/shop/extra`#42"},
		{"", "`?`#42"},
	}
	for _, tt := range tests {
		if got := pullRef(tt.repo, 42); got != tt.want {
			t.Errorf("pullRef(%q, 42) = %q, want %q", tt.repo, got, tt.want)
		}
	}
}

func TestLink(t *testing.T) {
	long := "https://x.example.com/" + strings.Repeat("a", maxURLLength)
	tests := []struct{ raw, wantLink, wantNamed string }{
		{"https://x.example.com/a?b=c#d", "<https://x.example.com/a?b=c#d>", "[Run log](<https://x.example.com/a?b=c#d>)"},
		{"javascript:alert(1)", "`javascript:alert(1)`", "Run log: `javascript:alert(1)`"},
		{"https://x/y)\n[z](http://evil)", "`https://x/y) [z](http://evil)`", "Run log: `https://x/y) [z](http://evil)`"},
		{"https://x/a b", "`https://x/a b`", "Run log: `https://x/a b`"},
		{"https://x/a>b<img src=x>", "`https://x/a>b<img src=x>`", "Run log: `https://x/a>b<img src=x>`"},
		{`https://x/a\`, "`https://x/a\\`", "Run log: `https://x/a\\`"},
		{"https://x/`a`", "`` https://x/`a` ``", "Run log: `` https://x/`a` ``"},
		{"https:///no-host", "`https:///no-host`", "Run log: `https:///no-host`"},
		{long, "`" + long[:maxValueLength-1] + "…`", "Run log: `" + long[:maxValueLength-1] + "…`"},
	}
	for _, tt := range tests {
		if got := link(tt.raw); got != tt.wantLink {
			t.Errorf("link(%q) = %q, want %q", tt.raw, got, tt.wantLink)
		}
		if got := namedLink("Run log", tt.raw); got != tt.wantNamed {
			t.Errorf("namedLink(%q) = %q, want %q", tt.raw, got, tt.wantNamed)
		}
	}
}

func TestBlockText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Error: boom\n\tat line 3", "Error: boom\n\tat line 3"},
		{"a\r\nb\rc", "a\nb\nc"},
		{"a\u0085b\u2028c\u2029d", "a\nb\nc\nd"},
		{"\x1b[31mError:\x1b[0m boom", "Error: boom"},
		{"a\x00b\x1bc", "a\ufffdb\ufffdc"},
		{"a\u202eb", "a\ufffdb"},
		{"a\xffb", "a\ufffdb"},
	}
	for _, tt := range tests {
		if got := blockText(tt.in); got != tt.want {
			t.Errorf("blockText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// statuses are the comment's shapes: each status, and the fork's wait.
var statuses = []struct{ status, reason string }{
	{"queued", ""}, {"provisioning", ""}, {"ready", ""}, {"failed", ""},
	{"destroying", ""}, {"destroyed", "expired"}, {"destroyed", "fork-awaiting-approval"},
}

// rich is base with every value set, in status with reason.
func rich(status, reason string) CommentData {
	d := base()
	d.Status, d.Reason = status, reason
	d.AppliedSHA = "abc1234567890123456789012345678901234567"
	d.URL = "https://feature-login.preview.example.com"
	d.LogURL = "https://previewd.example.com/api/v1/environments/feature-login/runs/1/log"
	d.LastError = "Error: boom"
	d.Parity = &ParityView{Undeclared: 1, Declared: 1, Findings: []FindingRow{
		{Kind: "variable", Subject: "database_engine_version", Production: "15.4", Preview: "13.9", Reason: "not declared"},
		revertsConnectionLimit,
		{Kind: "variable", Subject: "instance_count", Production: "3", Preview: "1", Reason: "scale", Declared: true},
	}}
	return d
}

func TestRenderCommentHostileValues(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(d *CommentData)
	}{
		{"branch with a comment, heading and image", func(d *CommentData) { d.Branch = "x\n\n<!-- evil -->\n# Heading\n<img src=x>" }},
		{"branch with backticks and pipes", func(d *CommentData) { d.Branch = "a`b``c|d|`" }},
		{"branch with CR LF", func(d *CommentData) { d.Branch = "a\r\nb" }},
		{"branch of a line separator", func(d *CommentData) { d.Branch = "\u2028" }},
		{"branch with separators and NEL", func(d *CommentData) { d.Branch = "a\u2028# b\u2029- c\u0085> d" }},
		{"branch with controls and bidi marks", func(d *CommentData) { d.Branch = "a\x00b\x1b[31mc\u202ed" }},
		{"branch of invalid UTF-8", func(d *CommentData) { d.Branch = "a\xff\xfeb" }},
		{"name closing the marker", func(d *CommentData) { d.Name = "x -->\n<img src=x>\n# y" }},
		{"error with fences", func(d *CommentData) { d.LastError = "```\n~~~\n````\nboom\n```` \n<!--\n# x" }},
		{"error with CRs and separators", func(d *CommentData) { d.LastError = "a\r```\rb\u2028````\u2029c" }},
		{"javascript URL", func(d *CommentData) { d.URL = "javascript:alert(1)" }},
		{"URL breaking out of its link", func(d *CommentData) { d.URL = "https://x/y)\n[z](http://evil)" }},
		{"URL closing its autolink", func(d *CommentData) { d.URL = "https://x/a><img src=x>" }},
		{"log URL breaking out of its link", func(d *CommentData) { d.LogURL = "https://x/y)\n[z](http://evil)" }},
		{"SHAs that are not hex", func(d *CommentData) { d.HeadSHA, d.AppliedSHA = "zz\n# x", "<!-- y -->" }},
		{"repository with a heading", func(d *CommentData) { d.Repo = "acme/shop\n# Heading\n<img src=x>" }},
		{"repository with underscores", func(d *CommentData) { d.Repo = "acme/_x_" }},
		{"findings with pipes and newlines", func(d *CommentData) {
			d.Parity.Findings[0] = FindingRow{Kind: "variable|x\n# k", Subject: "a|b\n| c |", Production: "`|`", Preview: "<!--", Reason: "-->\n<img src=x>"}
		}},
		{"a warning with a heading, a comment and fences", func(d *CommentData) {
			d.Parity.Findings[1] = FindingRow{Kind: "reverts_production", Warning: true, Subject: "a|b\n# c", Production: "```\n<!-- x -->", Preview: "\n- item\n> quote", Location: "main.tf:1\n[x](http://evil)"}
		}},
		{"a warning of another kind", func(d *CommentData) {
			d.Parity.Findings[1] = FindingRow{Kind: "other", Warning: true, Reason: "production runs `x = 1`\n# since\n<img src=x>"}
		}},
		{"parity error with a pipe and a heading", func(d *CommentData) {
			d.Parity = &ParityView{Error: "plan | failed\n# x\n<!-- y -->"}
		}},
	}
	for _, tt := range tests {
		for _, s := range statuses {
			t.Run(tt.name+"/"+s.status+s.reason, func(t *testing.T) {
				d := rich(s.status, s.reason)
				tt.mutate(&d)
				got, err := RenderComment(d)
				if err != nil {
					t.Fatalf("RenderComment: %v", err)
				}
				checkStructure(t, got, d.Name)
				checkLineCount(t, got, d)
			})
		}
	}
}

func TestRenderCommentFitsAnyInput(t *testing.T) {
	// The values are built once: under -race, allocating megabytes costs
	// more than rendering them.
	var (
		branch       = strings.Repeat("b", 1<<20)
		backticks    = strings.Repeat("`", 1<<20)
		lines        = strings.Repeat("`|\n", 1<<20)
		hexes        = strings.Repeat("a", 1<<20)
		errorText    = strings.Repeat("Error: x\n", 10<<20/9)
		errorTick    = strings.Repeat("`", 10<<20)
		findings     = make([]FindingRow, 10_000)
		tickRows     = make([]FindingRow, 10_000)
		tickWarnings = make([]FindingRow, 10_000)
	)
	for i := range findings {
		findings[i] = FindingRow{Kind: "variable", Subject: branch[:10_000], Production: "a", Preview: "b", Reason: "c"}
		tickRows[i] = FindingRow{Kind: backticks, Subject: backticks, Production: backticks, Preview: backticks, Reason: errorTick, Location: backticks}
		if i%2 == 0 {
			tickRows[i].Kind, tickRows[i].Warning = "reverts_production", true
		}
		tickWarnings[i] = FindingRow{Kind: "reverts_production", Subject: backticks, Production: backticks, Preview: backticks, Reason: errorTick, Location: backticks, Warning: true}
	}
	tests := []struct {
		name   string
		mutate func(d *CommentData)
		want   []string
	}{
		{"1 MB branch", func(d *CommentData) { d.Branch = branch }, []string{"`" + branch[:199] + "…`"}},
		{"1 MB branch of backticks", func(d *CommentData) { d.Branch = backticks }, nil},
		{"10,000 findings with 10 KB subjects", func(d *CommentData) { d.Parity = &ParityView{Undeclared: len(findings), Findings: findings} },
			[]string{"… and 9950 more findings: see `GET /api/v1/environments/feature-login/parity`."}},
		{"10,000 warnings of backticks", func(d *CommentData) { d.Parity = &ParityView{OK: true, Findings: tickWarnings} },
			[]string{"⚠️ … and 9990 more warnings: see `GET /api/v1/environments/feature-login/parity`.", "10000 findings, too many to list here"}},
		{"10 MB error", func(d *CommentData) { d.LastError = errorText }, []string{"earlier bytes cut"}},
		{"all at once", func(d *CommentData) {
			d.Name, d.Repo, d.Branch = branch, backticks, lines
			d.HeadSHA, d.AppliedSHA = backticks, hexes
			d.URL, d.LogURL = "https://x/"+hexes, backticks
			d.LastError = errorTick
			d.Parity = &ParityView{Error: backticks, Undeclared: len(tickRows), Findings: tickRows}
		}, []string{"10000 findings, too many to list here: see `GET /api/v1/environments/" + branch[:63] + "/parity`."}},
	}
	for _, tt := range tests {
		for _, s := range statuses {
			t.Run(tt.name+"/"+s.status+s.reason, func(t *testing.T) {
				d := rich(s.status, s.reason)
				tt.mutate(&d)
				got, err := RenderComment(d)
				if err != nil {
					t.Fatalf("RenderComment: %v", err)
				}
				if !strings.HasPrefix(got, CommentMarker(d.Name)+"\n") {
					t.Errorf("body starts %q, want the marker %q", got[:min(len(got), 80)], CommentMarker(d.Name))
				}
				checkStructure(t, got, d.Name)
				for _, w := range tt.want {
					if shown := strings.Contains(got, w); !shown && shows(s.status, s.reason, w) {
						t.Errorf("body lacks %q", w)
					}
				}
			})
		}
	}
}

// shows reports whether a comment in status for reason shows text that
// TestRenderCommentFitsAnyInput wants: the branch only while not destroyed,
// the error only when failed.
func shows(status, reason, text string) bool {
	switch {
	case strings.Contains(text, "earlier bytes cut"):
		return status == "failed" && reason == ""
	case strings.HasPrefix(text, "`bbb"):
		return !strings.HasPrefix(status, "destroy") && reason == ""
	}
	return true
}

func FuzzRenderComment(f *testing.F) {
	f.Add("feature-login", "feature/login", "def5678901234567890123456789012345678901", "https://x.example.com", "Error: boom", "acme/shop", "variable", "instance_count", uint8(2), uint8(2))
	f.Add("x -->", "x\n\n<!-- evil -->\n# Heading\n<img src=x>", "zz\n# x", "javascript:alert(1)", "```\n~~~\n", "acme/shop\n# h", "variable|x", "a|b\nc", uint8(3), uint8(3))
	f.Add("a\r\nb", "a`b``c|d|", "<!-- y -->", "https://x/y)\n[z](http://evil)", "a\r```\rb\u2028````", "acme/_x_", "\u2028", "\u0085|", uint8(0), uint8(4))
	f.Add("", "\u2028", "", "", "\x1b[31m\x00", "", "", "`", uint8(8), uint8(5))
	f.Add("\xff", "a\u202eb", "\xfe", "https://x/a><img src=x>", "````", "_/_", "_x_", "-->", uint8(12), uint8(1))
	f.Fuzz(func(t *testing.T, name, branch, sha, rawURL, lastError, repo, kind, subject string, status, findings uint8) {
		s := statuses[int(status)%len(statuses)]
		d := base()
		d.Status, d.Reason = s.status, s.reason
		d.Name, d.Branch, d.HeadSHA, d.AppliedSHA = name, branch, sha, sha
		d.URL, d.LogURL, d.LastError, d.Repo = rawURL, rawURL, lastError, repo
		switch n := int(findings) % 6; n {
		case 0:
		case 5:
			d.Parity = &ParityView{Error: subject}
		default:
			d.Parity = &ParityView{}
			for i := range n {
				d.Parity.Findings = append(d.Parity.Findings, FindingRow{Kind: kind, Subject: subject,
					Production: branch, Preview: sha, Reason: rawURL, Declared: i%3 == 1, Warning: i%3 == 2, Location: lastError})
				if i%3 == 0 {
					d.Parity.Undeclared++
				}
			}
		}
		got, err := RenderComment(d)
		if err != nil {
			t.Fatalf("RenderComment: %v", err)
		}
		checkStructure(t, got, d.Name)
		checkLineCount(t, got, d)
	})
}

var (
	markerLine = regexp.MustCompile(`^<!-- previewd:environment=[a-z0-9-]{0,63} -->$`)
	// blockStart matches a line that would start a block no line of the
	// template starts: indented code, a quote, a list item, a setext
	// underline or a fence.
	blockStart = regexp.MustCompile("^([ \t]|>|[-+*]([ \t]|$)|[0-9]{1,9}[.)]([ \t]|$)|=+[ \t]*$|-+[ \t]*$|```|~~~)")
	autolink   = regexp.MustCompile(`<https?://[^<>\s]*>`)
	// emphasisOpener matches an underscore that could start emphasis.
	emphasisOpener = regexp.MustCompile(`(^|[^\\A-Za-z0-9])_`)
	errorFence     = regexp.MustCompile("^(```+)text$")
	// templateTags are the only HTML the template writes.
	templateTags = []string{"<details>", "<details open>", "</details>", "<summary>", "</summary>", "<sub>", "</sub>"}
)

// checkStructure fails t unless body has the structure of a comment
// rendered from harmless values: at most MaxCommentLength characters, the
// marker of name on line 1 and no other HTML comment, the title the only
// heading, no control character or line separator outside the error block,
// every backtick run closing a code span, no HTML but the template's, no
// link but the run log's and URLs, and every table row as many unescaped
// pipes as its header.
func checkStructure(t *testing.T, body, name string) {
	t.Helper()
	if n := utf8.RuneCountInString(body); n > MaxCommentLength {
		t.Errorf("body is %d characters, want at most %d", n, MaxCommentLength)
	}
	if !utf8.ValidString(body) {
		t.Errorf("body is not valid UTF-8")
	}
	lines, err := proseLines(body)
	if err != nil {
		t.Fatalf("%v; body:\n%s", err, body)
	}
	if lines[0] != CommentMarker(name) || !markerLine.MatchString(lines[0]) {
		t.Errorf("line 1 is %q, want the marker %q", lines[0], CommentMarker(name))
	}
	checkLines(t, lines, body)
}

// checkLines checks each line of body after the marker (checkLine), and
// that each row of a table has as many unescaped pipes as its header.
func checkLines(t *testing.T, lines []string, body string) {
	t.Helper()
	pipes := -1
	for i, line := range lines[1:] {
		if err := checkLine(i+2, line); err != nil {
			t.Errorf("%v; body:\n%.2000s", err, body)
		}
		if !strings.HasPrefix(line, "|") {
			pipes = -1
			continue
		}
		if n := unescapedPipes(line); pipes < 0 {
			pipes = n
		} else if n != pipes {
			t.Errorf("table row %.200q has %d unescaped pipes, want %d as its header", line, n, pipes)
		}
	}
}

// checkLine says what is wrong with line n, after the marker, of a comment
// outside its error block, if anything.
func checkLine(n int, line string) error {
	for _, r := range line {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || reordering(r) {
			return fmt.Errorf("line %d %q holds %U", n, line, r)
		}
	}
	if (n == 2) != strings.HasPrefix(line, "## ") || n != 2 && strings.HasPrefix(line, "#") || blockStart.MatchString(line) {
		return fmt.Errorf("line %d %q starts a block of its own", n, line)
	}
	text, ok := stripCodeSpans(line)
	if !ok {
		return fmt.Errorf("line %d %q has a backtick run that closes no code span", n, line)
	}
	text = autolink.ReplaceAllString(text, "URL")
	if strings.Contains(text, "<!--") || strings.Contains(text, "-->") {
		return fmt.Errorf("line %d %q holds an HTML comment outside code", n, line)
	}
	for rest := text; strings.Contains(rest, "<"); {
		rest = rest[strings.IndexByte(rest, '<'):]
		if !hasAnyPrefix(rest, templateTags) {
			return fmt.Errorf("line %d %q holds HTML outside code: %q", n, line, rest)
		}
		rest = rest[1:]
	}
	if emphasisOpener.MatchString(text) {
		return fmt.Errorf("line %d %q has an underscore outside code that could start emphasis", n, line)
	}
	if strings.Contains(text, "![") || strings.Count(text, "](") != strings.Count(text, "[Run log](URL)") {
		return fmt.Errorf("line %d %q holds a link or image outside code", n, line)
	}
	return nil
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// proseLines returns the lines of body outside its error block, after
// checking that the block is closed by its own fence and nothing else.
func proseLines(body string) ([]string, error) {
	var prose []string
	fence := ""
	for i, line := range strings.Split(body, "\n") {
		switch m := errorFence.FindStringSubmatch(line); {
		case fence == "" && m != nil:
			fence = m[1]
		case fence == "":
			prose = append(prose, line)
		case line == fence:
			fence = "done"
		case strings.Contains(line, fence):
			return nil, fmt.Errorf("line %d %q holds the error block's fence %q", i+1, line, fence)
		}
	}
	if fence != "" && fence != "done" {
		return nil, fmt.Errorf("the error block's fence %q is never closed", fence)
	}
	return prose, nil
}

// stripCodeSpans replaces each code span of line by "C", as CommonMark pairs
// backtick runs of equal length; ok is false if a run closes no span.
func stripCodeSpans(line string) (text string, ok bool) {
	var b strings.Builder
	for i := 0; i < len(line); {
		if line[i] != '`' {
			b.WriteByte(line[i])
			i++
			continue
		}
		n := runAt(line, i)
		j := i + n
		for j < len(line) && (line[j] != '`' || runAt(line, j) != n) {
			j += max(1, runAt(line, j))
		}
		if j >= len(line) {
			return b.String() + line[i:], false
		}
		b.WriteString("C")
		i = j + n
	}
	return b.String(), true
}

func runAt(s string, i int) int {
	n := 0
	for i+n < len(s) && s[i+n] == '`' {
		n++
	}
	return n
}

func unescapedPipes(line string) int {
	n := 0
	for i := 0; i < len(line); i++ {
		if line[i] == '|' && (i == 0 || line[i-1] != '\\') {
			n++
		}
	}
	return n
}

// checkLineCount fails t unless body, the rendering of d, has as many lines
// outside its error block as the rendering of d with every value replaced by
// a harmless one: no value added or removed a line.
func checkLineCount(t *testing.T, body string, d CommentData) {
	t.Helper()
	want, err := RenderComment(benign(d))
	if err != nil {
		t.Fatalf("RenderComment(benign): %v", err)
	}
	gotLines, err := proseLines(body)
	if err != nil {
		t.Fatal(err)
	}
	wantLines, err := proseLines(want)
	if err != nil {
		t.Fatal(err)
	}
	if len(gotLines) != len(wantLines) {
		t.Errorf("body has %d lines outside the error block, want %d as with harmless values\ngot:\n%s\nwant:\n%s", len(gotLines), len(wantLines), body, want)
	}
}

// benign is d with every value from outside previewd replaced by a harmless
// one, empty ones left empty.
func benign(d CommentData) CommentData {
	swap := func(s *string, v string) {
		if *s != "" {
			*s = v
		}
	}
	swap(&d.Name, "x")
	swap(&d.Repo, "acme/shop")
	swap(&d.Branch, "b")
	swap(&d.HeadSHA, "abcdef0")
	swap(&d.ShortSHA, "abcdef0")
	swap(&d.AppliedSHA, "abcdef0")
	swap(&d.URL, "https://x.example.com")
	swap(&d.LogURL, "https://x.example.com/log")
	swap(&d.LastError, "e")
	if d.Parity != nil {
		p := *d.Parity
		swap(&p.Error, "e")
		p.Findings = make([]FindingRow, len(d.Parity.Findings))
		for i, f := range d.Parity.Findings {
			p.Findings[i] = FindingRow{Kind: "variable", Subject: "s", Declared: f.Declared, Warning: f.Warning}
		}
		d.Parity = &p
	}
	return d
}

// TestCommentCost shows what an environment cost, and keeps a currency
// from carrying markup.
func TestCommentCost(t *testing.T) {
	d := CommentData{Name: "c", Repo: "acme/shop", PR: 1, Branch: "c", Status: "ready", HeadSHA: "abc", AppliedSHA: "abc",
		Cost: &CostView{Currency: "$", SoFar: 3.1, UntilExpiry: 7.4}}
	body, err := RenderComment(d)
	if err != nil || !strings.Contains(body, "**Cost:** ≈ $3.10 so far, ≈ $7.40 if it lives until its expiry.") {
		t.Errorf("ready: %v\n%s", err, body)
	}
	d.Status, d.Destroyed = "destroyed", true
	if body, _ := RenderComment(d); !strings.Contains(body, "**Cost:** ≈ $3.10 in all.") {
		t.Errorf("destroyed:\n%s", body)
	}
	for currency, want := range map[string]string{"€": "€3.10", "USD": "3.10 USD", "[x](http://evil)": "3.10 xhttpevi", "`$`": "$3.10"} {
		if got := money(currency, 3.1); got != want {
			t.Errorf("money(%q) = %q, want %q", currency, got, want)
		}
	}
}
