package templates

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func drifted() ProductionIssueData {
	return ProductionIssueData{
		Repo:         "acme/shop",
		ModuleSource: "git::https://github.com/acme/infra.git//shop",
		ModuleRef:    "main",
		ModuleCommit: "0123456789abcdef0123456789abcdef01234567",
		Findings: []DriftRow{
			{Kind: "changed_outside", Subject: "postgresql_role.app.connection_limit", Live: "400", Module: "200", Where: "main.tf:31"},
			{Kind: "deleted_outside", Subject: `local_file.motd["a b"]`, Where: "files.tf:4"},
			{Kind: "pending", Subject: "postgresql_role.app.password", Live: "(sensitive value)", Module: "(sensitive value)", Where: "main.tf:33"},
		},
		Ignored: 2,
	}
}

func TestRenderProductionIssueGolden(t *testing.T) {
	tests := []struct {
		name string
		data func(d ProductionIssueData) ProductionIssueData
	}{
		{"production-drift", func(d ProductionIssueData) ProductionIssueData { return d }},
		{"production-drift-one", func(d ProductionIssueData) ProductionIssueData {
			d.Findings, d.Ignored, d.ModuleSource, d.ModuleRef = d.Findings[:1], 1, "", ""
			return d
		}},
		{"production-matches", func(d ProductionIssueData) ProductionIssueData { d.Findings = nil; return d }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RenderProductionIssue(tt.data(drifted()))
			if err != nil {
				t.Fatalf("RenderProductionIssue: %v", err)
			}
			checkIssueStructure(t, got, "acme/shop")
			checkGolden(t, filepath.Join("testdata", tt.name+".golden"), got)
		})
	}
}

func TestRenderProductionIssueContent(t *testing.T) {
	body, err := RenderProductionIssue(drifted())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"<!-- previewd:production-drift acme/shop -->\n",
		"| changed outside Terraform | `postgresql_role.app.connection_limit` | `400` | `200` | `main.tf:31` |",
		"| deleted outside Terraform | `local_file.motd[\"a b\"]` | — | — | `files.tf:4` |",
		"| not applied yet | `postgresql_role.app.password` | `(sensitive value)` | `(sensitive value)` | `main.tf:33` |",
		"found 3 attributes apart from its module `git::https://github.com/acme/infra.git//shop` at `main` (commit `0123456789abcdef0123456789abcdef01234567`).",
		"2 attributes listed in `production.ignore` moved as expected and are not reported.",
		"adopt the change in the module (so the next apply keeps it), or apply the module to revert it",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	if got := ProductionIssueTitle("acme/shop"); got != "Production drift: acme/shop" {
		t.Errorf("title = %q", got)
	}
}

func TestRenderProductionIssueHostileValues(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(d *ProductionIssueData)
	}{
		{"repository closing the marker", func(d *ProductionIssueData) { d.Repo = "acme/x -->\n<img src=x>\n# y" }},
		{"module source with a heading and a link", func(d *ProductionIssueData) { d.ModuleSource = "x\n# H\n[z](http://evil)" }},
		{"ref and commit with backticks", func(d *ProductionIssueData) { d.ModuleRef, d.ModuleCommit = "a`b``c", "<!-- y -->\n`" }},
		{"values with pipes, backticks and newlines", func(d *ProductionIssueData) {
			d.Findings[0] = DriftRow{Kind: "changed_outside|x\n# k", Subject: "a|b\n| c |", Live: "`|`", Module: "<!--", Where: "-->\n<img src=x>"}
		}},
		{"values with controls and bidi marks", func(d *ProductionIssueData) {
			d.Findings[1] = DriftRow{Kind: "pending", Subject: "a\x00b\u202ec", Live: "a\r\nb\u2028c", Module: "\xff\xfe", Where: "main.tf:1\u2029- x"}
		}},
	}
	for _, tt := range tests {
		for _, matches := range []bool{false, true} {
			d := drifted()
			tt.mutate(&d)
			if matches {
				d.Findings = nil
			}
			got, err := RenderProductionIssue(d)
			if err != nil {
				t.Fatalf("%s: RenderProductionIssue: %v", tt.name, err)
			}
			checkIssueStructure(t, got, d.Repo)
			want, _ := RenderProductionIssue(map[bool]ProductionIssueData{false: drifted(), true: {Repo: "acme/shop", ModuleSource: "s", ModuleRef: "r", ModuleCommit: "c", Ignored: 2}}[matches])
			if g, w := strings.Count(got, "\n"), strings.Count(want, "\n"); g != w {
				t.Errorf("%s: body has %d lines, want %d as with harmless values:\n%s", tt.name, g, w, got)
			}
		}
	}
}

func TestRenderProductionIssueFitsAnyInput(t *testing.T) {
	var (
		long      = strings.Repeat("b", 1<<20)
		backticks = strings.Repeat("`", 1<<20)
		many      = make([]DriftRow, 10_000)
		tickRows  = make([]DriftRow, 10_000)
	)
	for i := range many {
		many[i] = DriftRow{Kind: "changed_outside", Subject: long[:10_000], Live: "a", Module: "b", Where: "main.tf:1"}
		tickRows[i] = DriftRow{Kind: backticks, Subject: backticks, Live: backticks, Module: backticks, Where: backticks}
	}
	tests := []struct {
		name   string
		mutate func(d *ProductionIssueData)
		want   string
	}{
		{"10,000 findings with 10 KB subjects", func(d *ProductionIssueData) { d.Findings = many }, "…and 9"},
		{"10,000 findings of backticks, and a 1 MB source", func(d *ProductionIssueData) {
			d.Findings, d.ModuleSource, d.ModuleRef, d.Repo = tickRows, backticks, long, long
		}, "…and 9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := drifted()
			tt.mutate(&d)
			got, err := RenderProductionIssue(d)
			if err != nil {
				t.Fatal(err)
			}
			checkIssueStructure(t, got, d.Repo)
			if !strings.Contains(got, tt.want) {
				t.Errorf("body lacks %q", tt.want)
			}
			shown := strings.Count(got, "\n| ") - 2 // the header and its rule
			more := regexp.MustCompile(`…and (\d+) more findings`).FindStringSubmatch(got)
			if more == nil || shown <= 0 || more[1] != strconv.Itoa(len(d.Findings)-shown) {
				t.Errorf("table shows %d rows and says %v more, of %d", shown, more, len(d.Findings))
			}
			// One more row would not have fitted.
			d.Findings = d.Findings[:shown+1]
			if longer, _ := RenderProductionIssue(d); utf8.RuneCountInString(longer) <= MaxIssueLength && !strings.Contains(longer, "…and") {
				t.Errorf("%d rows fit, the table shows %d", shown+1, shown)
			}
		})
	}
}

var issueMarker = regexp.MustCompile(`^<!-- previewd:production-drift [A-Za-z0-9._/-]{0,201} -->$`)

// checkIssueStructure fails t unless body has the structure of the drift
// issue: the marker of repo, then lines no value could give a block or HTML
// of their own, and tables whose rows have as many cells as their header.
func checkIssueStructure(t *testing.T, body, repo string) {
	t.Helper()
	if n := utf8.RuneCountInString(body); n > MaxIssueLength {
		t.Errorf("body is %d characters, want at most %d", n, MaxIssueLength)
	}
	if !utf8.ValidString(body) {
		t.Errorf("body is not valid UTF-8")
	}
	lines := strings.Split(body, "\n")
	if lines[0] != ProductionIssueMarker(repo) || !issueMarker.MatchString(lines[0]) {
		t.Errorf("line 1 is %q, want the marker %q", lines[0], ProductionIssueMarker(repo))
	}
	checkLines(t, lines, body)
}
