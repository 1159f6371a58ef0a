package github

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/templates"
)

const (
	runSHA    = "aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111"
	runSHA2   = "bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222"
	modCommit = "cccc3333cccc3333cccc3333cccc3333cccc3333"
)

// checkedEnv is an environment ready on runSHA whose module is infra/ of
// the pull request's own repository (base//infra), parity-checked with
// findings.
func checkedEnv(findings ...preview.Finding) preview.Environment {
	env := testEnv()
	env.Status, env.HeadSHA, env.AppliedSHA, env.URL = preview.StatusReady, runSHA, runSHA, "https://feature-login.preview.example.com"
	env.Desired = preview.Desired{Present: true, PROpen: true}
	env.Module = preview.ModuleVersion{Source: "git::https://github.com/acme/shop.git//infra", Commit: modCommit}
	env.Parity = preview.ParityReport{Status: preview.Verdict(findings), SHA: runSHA, Findings: findings}
	return env
}

var engineDrift = preview.Finding{Kind: "attribute", Subject: "aws_db_instance.main.engine_version", Production: "15.4", Preview: "13.11", Location: "main.tf:15"}

// TestParityCheckRunAnnotatesTheModuleLines: undeclared drift fails the
// previewd/parity check run, with a failure annotation at the line of the
// module in the pull request's repository (infra/main.tf:15) and a table
// of every finding; a declared difference is listed, not annotated.
func TestParityCheckRunAnnotatesTheModuleLines(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := newTestApp(t, f, map[int64][]string{101: {"acme/shop"}}, newFakeClock())
	declared := preview.Finding{Kind: "variable", Subject: "replicas", Production: "3", Preview: "1", Declared: true, Reason: "scale", Location: "variables.tf:4"}
	env := checkedEnv(engineDrift, declared)
	shown, err := c.SyncParityStatus(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	runs := f.runsOf(runSHA)
	if len(runs) != 1 {
		t.Fatalf("check runs = %+v, want one", runs)
	}
	run := runs[0]
	if run.Name != "previewd/parity" || run.Conclusion != "failure" || run.Title != "1 undeclared difference(s) from production" {
		t.Errorf("run = %+v, want previewd/parity failing on one undeclared difference", run)
	}
	if len(run.Annotations) != 1 {
		t.Fatalf("annotations = %v, want one", run.Annotations)
	}
	a := run.Annotations[0]
	if a["path"] != "infra/main.tf" || a["start_line"] != float64(15) || a["end_line"] != float64(15) || a["annotation_level"] != "failure" ||
		!strings.Contains(a["message"].(string), "production: 15.4") || !strings.Contains(a["title"].(string), "engine_version") {
		t.Errorf("annotation = %v, want a failure at infra/main.tf:15 naming engine_version and both values", a)
	}
	for _, want := range []string{"| ✗ | attribute | `aws_db_instance.main.engine_version` | `15.4` | `13.11` |",
		"[infra/main.tf:15](https://github.com/acme/shop/blob/" + modCommit + "/infra/main.tf#L15)", "| ✓ | variable | `replicas` |", "declared: `scale`"} {
		if !strings.Contains(run.Summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, run.Summary)
		}
	}
	if shown.CheckRunID != run.ID || shown.SHA != runSHA || shown.State != "failure" || shown.URL == "" {
		t.Errorf("shown = %+v, want run %d, failure", shown, run.ID)
	}

	// The same verdict again sends nothing.
	before := len(f.recorded())
	env.ParityStatus = shown
	if again, err := c.SyncParityStatus(context.Background(), env); err != nil || again != shown || len(f.recorded()) != before {
		t.Errorf("an unchanged verdict: %+v, %v, %d requests; want nothing sent", again, err, len(f.recorded())-before)
	}
}

// TestParityCheckRunNeutralAndSuccess: only declared differences give a
// neutral run, none a successful one.
func TestParityCheckRunNeutralAndSuccess(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := newTestApp(t, f, map[int64][]string{101: {"acme/shop"}}, newFakeClock())
	declared := preview.Finding{Kind: "variable", Subject: "replicas", Production: "3", Preview: "1", Declared: true, Reason: "scale"}
	if _, err := c.SyncParityStatus(context.Background(), checkedEnv(declared)); err != nil {
		t.Fatal(err)
	}
	env := checkedEnv()
	env.Parity.SHA = runSHA2
	if _, err := c.SyncParityStatus(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if runs := f.runsOf(runSHA); len(runs) != 1 || runs[0].Conclusion != "neutral" || len(runs[0].Annotations) != 0 {
		t.Errorf("only declared differences: %+v, want one neutral run without annotations", runs)
	}
	if runs := f.runsOf(runSHA2); len(runs) != 1 || runs[0].Conclusion != "success" {
		t.Errorf("no difference: %+v, want one successful run", runs)
	}
}

// TestManyFindingsGoInBatches: 120 annotated findings are sent 50 a
// request, in one run (three writes), every request checked against
// GitHub's description when the test ends.
func TestManyFindingsGoInBatches(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := newTestApp(t, f, map[int64][]string{101: {"acme/shop"}}, newFakeClock())
	var findings []preview.Finding
	for i := range 120 {
		findings = append(findings, preview.Finding{Kind: "attribute", Subject: fmt.Sprintf("aws_instance.web[%d].instance_type", i),
			Production: "m5.large", Preview: "t3.micro", Location: fmt.Sprintf("main.tf:%d", i+1)})
	}
	if _, err := c.SyncParityStatus(context.Background(), checkedEnv(findings...)); err != nil {
		t.Fatal(err)
	}
	runs := f.runsOf(runSHA)
	if len(runs) != 1 || runs[0].Writes != 3 || len(runs[0].Annotations) != 120 {
		t.Fatalf("runs = %d, want one written 3 times with 120 annotations (got %d writes, %d annotations)", len(runs), runs[0].Writes, len(runs[0].Annotations))
	}
	for i, a := range runs[0].Annotations {
		if a["start_line"] != float64(i+1) {
			t.Fatalf("annotation %d at line %v, want %d: the batches are out of order", i, a["start_line"], i+1)
		}
	}
}

// TestHugeReportStillRenders: findings whose table would pass GitHub's
// 65,535 characters are cut, with the count of what was cut.
func TestHugeReportStillRenders(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := newTestApp(t, f, map[int64][]string{101: {"acme/shop"}}, newFakeClock())
	var findings []preview.Finding
	long := strings.Repeat("x|`\n", 2000)
	for i := range 600 {
		findings = append(findings, preview.Finding{Kind: "attribute", Subject: fmt.Sprintf("r.%d", i), Production: long, Preview: long})
	}
	if _, err := c.SyncParityStatus(context.Background(), checkedEnv(findings...)); err != nil {
		t.Fatal(err)
	}
	run := f.runsOf(runSHA)[0]
	if len(run.Summary) > maxCheckText || !strings.Contains(run.Summary, "more finding(s) are not shown here") {
		t.Errorf("summary of %d bytes, want at most %d saying how many findings it left out", len(run.Summary), maxCheckText)
	}
	if strings.Contains(run.Summary, "x|`") {
		t.Error("a value's pipe or backtick reached the table unescaped")
	}
}

// TestAnotherRepositorysModuleIsLinked: a module kept in another
// repository gets no annotation (its files are not the pull request's);
// the table links the line at the module's commit.
func TestAnotherRepositorysModuleIsLinked(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := newTestApp(t, f, map[int64][]string{101: {"acme/shop"}}, newFakeClock())
	env := checkedEnv(engineDrift)
	env.Module = preview.ModuleVersion{Source: "git::https://github.com/acme/infra.git//stacks/shop?ref=v2", Commit: modCommit}
	if _, err := c.SyncParityStatus(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	run := f.runsOf(runSHA)[0]
	link := "[stacks/shop/main.tf:15](https://github.com/acme/infra/blob/" + modCommit + "/stacks/shop/main.tf#L15)"
	if len(run.Annotations) != 0 || !strings.Contains(run.Summary, link) {
		t.Errorf("annotations %v, summary:\n%s\nwant none, and %s", run.Annotations, run.Summary, link)
	}
}

// TestPushSupersedesTheRunningCheck: a new head completes the previous
// head's run that had not finished, as cancelled; a verdict that changes
// on a completed run is a new run, never an edit of the old one.
func TestPushSupersedesTheRunningCheck(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := newTestApp(t, f, map[int64][]string{101: {"acme/shop"}}, newFakeClock())
	ctx := context.Background()
	env := testEnv()
	env.HeadSHA, env.Status, env.LastRunID = runSHA, preview.StatusProvisioning, "feature-login/1"
	env.Desired = preview.Desired{Present: true, PROpen: true}
	var err error
	if env.CommitStatus, err = c.SyncCommitStatus(ctx, env); err != nil {
		t.Fatal(err)
	}
	env.HeadSHA, env.Status = runSHA2, preview.StatusQueued
	if env.CommitStatus, err = c.SyncCommitStatus(ctx, env); err != nil {
		t.Fatal(err)
	}
	old := f.runsOf(runSHA)
	if len(old) != 1 || old[0].Conclusion != "cancelled" || old[0].Title != "Superseded by bbbb222" {
		t.Errorf("the earlier head's run = %+v, want it cancelled, superseded by bbbb222", old)
	}
	if runs := f.runsOf(runSHA2); len(runs) != 1 || runs[0].Status != "queued" || env.CommitStatus.CheckRunID != runs[0].ID {
		t.Errorf("the new head's run = %+v (shown %+v), want one, queued", runs, env.CommitStatus)
	}

	// A completed parity verdict that changes on the same commit.
	env = checkedEnv(engineDrift)
	if env.ParityStatus, err = c.SyncParityStatus(ctx, env); err != nil {
		t.Fatal(err)
	}
	env.Parity = checkedEnv().Parity
	if env.ParityStatus, err = c.SyncParityStatus(ctx, env); err != nil {
		t.Fatal(err)
	}
	var parity []fakeCheckRun
	for _, r := range f.runsOf(runSHA) {
		if r.Name == "previewd/parity" {
			parity = append(parity, r)
		}
	}
	if len(parity) != 2 || parity[0].Conclusion != "failure" || len(parity[0].Annotations) != 1 || parity[1].Conclusion != "success" || len(parity[1].Annotations) != 0 {
		t.Errorf("parity runs = %+v, want the failing one kept with its annotation and a new successful one", parity)
	}
}

// TestFailedApplyAnnotatesTerraformsError: Terraform's diagnostic "on
// main.tf line 20" becomes a failure annotation on infra/main.tf:20 of the
// previewd run, whose text is the error.
func TestFailedApplyAnnotatesTerraformsError(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := newTestApp(t, f, map[int64][]string{101: {"acme/shop"}}, newFakeClock())
	env := checkedEnv()
	env.Status, env.LastRunID = preview.StatusFailed, "feature-login/3"
	env.LastError = "terraform plan: exit status 1\n\nError: Unsupported argument\n\n  on main.tf line 20, in resource \"aws_db_instance\" \"main\":\n  20:   engine_versoin = var.engine\n\nAn argument named \"engine_versoin\" is not expected here."
	if _, err := c.SyncCommitStatus(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	run := f.runsOf(runSHA)[0]
	if run.Name != "previewd" || run.Conclusion != "failure" || !strings.Contains(run.Text, "engine_versoin") || len(run.Annotations) != 1 {
		t.Fatalf("run = %+v, want previewd failing with Terraform's error and one annotation", run)
	}
	if a := run.Annotations[0]; a["path"] != "infra/main.tf" || a["start_line"] != float64(20) || a["title"] != "Unsupported argument" {
		t.Errorf("annotation = %v, want infra/main.tf:20 titled Unsupported argument", a)
	}
}

// TestInstallationWithoutChecksGetsStatuses: an installation that has not
// granted checks: write (registered before previewd wrote check runs) is
// refused the check run by GitHub, and gets the commit status instead.
func TestInstallationWithoutChecksGetsStatuses(t *testing.T) {
	f := newFakeGitHub(t, "")
	logs := &strings.Builder{}
	c := newTestApp(t, f, map[int64][]string{101: {"acme/shop"}}, newFakeClock())
	c.logger = slog.New(slog.NewTextHandler(logs, nil))
	f.mu.Lock()
	f.app.grants = map[int64]Grant{101: {"metadata": Read, "pull_requests": Write, "issues": Read, "deployments": Write, "statuses": Write}}
	f.mu.Unlock()
	shown, err := c.SyncParityStatus(context.Background(), checkedEnv(engineDrift))
	if err != nil {
		t.Fatal(err)
	}
	_, _, statuses, _ := f.snapshot()
	if len(statuses) != 1 || statuses[0]["context"] != "previewd/parity" || statuses[0]["state"] != "failure" || shown.State != "failure" || shown.CheckRunID != 0 {
		t.Errorf("statuses %v, shown %+v; want the previewd/parity status, failure", statuses, shown)
	}
	if !strings.Contains(logs.String(), "grant checks: write") {
		t.Errorf("the log does not say what to grant:\n%s", logs.String())
	}
}

// TestCommentLinksTheParityCheckRun: the comment keeps its one-line
// verdict, and links the check run that shows it at the module's lines.
func TestCommentLinksTheParityCheckRun(t *testing.T) {
	env := checkedEnv(engineDrift)
	env.Parity.CheckedAt = time.Now()
	env.ParityStatus = preview.CommitStatus{SHA: runSHA, State: "failure", CheckRunID: 7, URL: "https://github.com/acme/shop/runs/7"}
	body, err := templates.RenderComment(CommentData(env, func(string) string { return "" }, preview.Pricing{}))
	if err != nil {
		t.Fatal(err)
	}
	if want := "❌ 1 undeclared difference from production. [Details](<https://github.com/acme/shop/runs/7>)"; !strings.Contains(body, want) {
		t.Errorf("comment lacks %q:\n%s", want, body)
	}
	env.ParityStatus.SHA = runSHA2 // a run of another commit's verdict is not this one's
	body, _ = templates.RenderComment(CommentData(env, func(string) string { return "" }, preview.Pricing{}))
	if strings.Contains(body, "runs/7") {
		t.Errorf("the comment links another commit's check run:\n%s", body)
	}
}

// TestButtonsAndAnswers: each run carries its button (Redeploy on
// previewd, Re-check on previewd/parity); a refused press is answered on
// the run, above its summary, its verdict and annotations unchanged.
func TestButtonsAndAnswers(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := newTestApp(t, f, map[int64][]string{101: {"acme/shop"}}, newFakeClock())
	ctx := context.Background()
	env := checkedEnv(engineDrift)
	shown, err := c.SyncParityStatus(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SyncCommitStatus(ctx, env); err != nil {
		t.Fatal(err)
	}
	buttons := map[string]string{}
	for _, r := range f.runsOf(runSHA) {
		if len(r.Actions) == 1 {
			buttons[r.Name] = r.Actions[0]["identifier"].(string) + " " + r.Actions[0]["label"].(string)
		}
	}
	if buttons["previewd"] != "redeploy Redeploy" || buttons["previewd/parity"] != "recheck Re-check" {
		t.Errorf("buttons %v, want Redeploy on previewd and Re-check on previewd/parity", buttons)
	}

	cmd := preview.Command{Repo: "acme/shop", Number: 42, User: "reader", Verb: preview.VerbRecheck, CheckRun: "previewd/parity", CheckRunID: shown.CheckRunID, InstallationID: 101}
	if err := c.AnswerCheckRun(ctx, cmd, "@reader `/preview recheck` needs write access to acme/shop; nothing was done."); err != nil {
		t.Fatal(err)
	}
	var run fakeCheckRun
	for _, r := range f.runsOf(runSHA) {
		if r.ID == shown.CheckRunID {
			run = r
		}
	}
	if !strings.HasPrefix(run.Summary, "> @reader `/preview recheck` needs write access") || !strings.Contains(run.Summary, "aws_db_instance.main.engine_version") ||
		run.Conclusion != "failure" || len(run.Annotations) != 1 || run.Title != "1 undeclared difference(s) from production" {
		t.Errorf("answered run = %+v, want the answer above the unchanged verdict", run)
	}
}

// TestDocsShowARenderedCheckRun keeps the example in
// docs/pull-requests.md what previewd renders.
func TestDocsShowARenderedCheckRun(t *testing.T) {
	data, err := os.ReadFile("../docs/pull-requests.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, _ := strings.Cut(string(data), "<!-- check-run-example: generated by the github package's tests -->\n")
	block, _, _ = strings.Cut(block, "<!-- /check-run-example -->")
	env := checkedEnv(engineDrift, preview.Finding{Kind: "variable", Subject: "instance_count", Production: "3", Preview: "1", Declared: true,
		Reason: "scale: one instance is enough for a preview"})
	p, _ := planParityCheckRun(env, false)
	a := p.annotations[0]
	want := "> **" + p.title + "** (conclusion `" + p.conclusion + "`, button **" + p.actions[0].Label + "**)\n>\n" +
		"> " + strings.ReplaceAll(strings.TrimRight(p.summary, "\n"), "\n", "\n> ") + "\n>\n" +
		fmt.Sprintf("> Annotation on `%s` line %d (%s): **%s** — production: %s, preview: %s.\n", a.GetPath(), a.GetStartLine(), a.GetAnnotationLevel(),
			a.GetTitle(), engineDrift.Production, engineDrift.Preview)
	want = strings.ReplaceAll(want, "> \n", ">\n")
	if block != want {
		t.Errorf("docs/pull-requests.md's example is not what previewd renders; it should read:\n%s", want)
	}
}

// TestNoticeDeclared: asked to (github.notice_declared), the parity run
// annotates declared differences too, as notices; undeclared ones stay
// failures.
func TestNoticeDeclared(t *testing.T) {
	f := newFakeGitHub(t, "")
	key, keyPEM := testAppKey(t)
	f.enableApp(testAppID, &key.PublicKey, map[int64][]string{101: {"acme/shop"}})
	c, err := NewApp(Config{BaseURL: f.URL(), AppID: testAppID, PrivateKeyPEM: keyPEM, Render: render, Retry: newFakeClock().policy(), NoticeDeclared: true})
	if err != nil {
		t.Fatal(err)
	}
	declared := preview.Finding{Kind: "variable", Subject: "replicas", Production: "3", Preview: "1", Declared: true, Reason: "scale", Location: "variables.tf:4"}
	if _, err := c.SyncParityStatus(context.Background(), checkedEnv(engineDrift, declared)); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range f.runsOf(runSHA)[0].Annotations {
		got = append(got, fmt.Sprintf("%v:%v %v", a["path"], a["start_line"], a["annotation_level"]))
	}
	if want := []string{"infra/main.tf:15 failure", "infra/variables.tf:4 notice"}; !slices.Equal(got, want) {
		t.Errorf("annotations %v, want %v", got, want)
	}
}

// TestMigrationsVerdict: the previewd/migrations check run fails over a
// limit, naming the statement, relation and time; inconclusive (200 rows
// against production's 1.4M) is neutral, never success; in token mode it
// is a commit status, error when inconclusive.
func TestMigrationsVerdict(t *testing.T) {
	prod := 1.4e6
	index := preview.LockHold{Relation: "orders", Statement: "CREATE INDEX orders_created_at ON orders (created_at)", Mode: "ShareLock",
		BlockedWrites: 6200 * time.Millisecond, Rows: 1.4e6, ProductionRows: &prod}
	limits := preview.MigrationLimits{MaxWriteBlock: 5 * time.Second, MaxReadBlock: time.Second, MinShare: 0.1}
	envWith := func(h preview.LockHold) preview.Environment {
		env := checkedEnv()
		env.Database = preview.DatabaseReport{Watched: true, SHA: runSHA, Samples: 40, Holds: []preview.LockHold{h}}
		env.Database.Verdict = env.Database.Judge(limits)
		return env
	}
	f := newFakeGitHub(t, "")
	c := newTestApp(t, f, map[int64][]string{101: {"acme/shop"}}, newFakeClock())
	if _, err := c.SyncDatabaseStatus(context.Background(), envWith(index)); err != nil {
		t.Fatal(err)
	}
	run := f.runsOf(runSHA)[0]
	if run.Name != "previewd/migrations" || run.Conclusion != "failure" ||
		run.Title != "CREATE INDEX orders_created_at ON orders (created_at) blocked writes on orders for 6.2 s (limit 5.0 s)" ||
		!strings.Contains(run.Summary, "| `orders` | `CREATE INDEX orders_created_at ON orders (created_at)` | ShareLock | 6.2 s | 0.0 s | 0.0 s | 1.4M | 1.4M |") {
		t.Errorf("run = %+v, want the failure naming the statement, with the table of what was held", run)
	}

	small := index
	small.BlockedWrites, small.Rows = 15*time.Millisecond, 200
	env := envWith(small)
	env.Database.SHA = runSHA2
	if _, err := c.SyncDatabaseStatus(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if run := f.runsOf(runSHA2)[0]; run.Conclusion != "neutral" || !strings.Contains(run.Summary, "orders: 200 rows here, 1.4M in production (under 10%)") {
		t.Errorf("200 rows against 1.4M: %+v, want neutral saying the sizes", run)
	}

	tf := newFakeGitHub(t, "")
	token := newTestClient(t, tf, nil)
	if _, err := token.SyncDatabaseStatus(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if _, _, statuses, _ := tf.snapshot(); len(statuses) != 1 || statuses[0]["context"] != "previewd/migrations" || statuses[0]["state"] != "error" {
		t.Errorf("token mode statuses %v, want previewd/migrations error (inconclusive is no pass)", statuses)
	}
}

// TestCommentShowsTheMigrationsVerdict: one line on the pull request, the
// reason that decided it, made inert (a statement comes from the pull
// request's migration).
func TestCommentShowsTheMigrationsVerdict(t *testing.T) {
	prod := 1.4e6
	env := checkedEnv()
	env.Parity.CheckedAt = time.Now()
	env.Database = preview.DatabaseReport{Watched: true, SHA: runSHA, Holds: []preview.LockHold{{Relation: "orders",
		Statement: "CREATE INDEX i ON orders (t) -- [click](https://evil.example)", BlockedWrites: 6200 * time.Millisecond, Rows: 200, ProductionRows: &prod}}}
	env.Database.Verdict = env.Database.Judge(preview.MigrationLimits{MaxWriteBlock: 5 * time.Second, MinShare: 0.1})
	body, err := templates.RenderComment(CommentData(env, func(string) string { return "" }, preview.Pricing{}))
	if err != nil {
		t.Fatal(err)
	}
	if want := "**Migrations:** ❌ `` `CREATE INDEX i ON orders (t) -- [click](https://evil.example)` blocked writes on `orders` for 6.2 s (limit 5.0 s) ``"; !strings.Contains(body, want) {
		t.Errorf("comment lacks %q:\n%s", want, body)
	}
	env.Database.Holds[0].BlockedWrites = 10 * time.Millisecond
	env.Database.Verdict = env.Database.Judge(preview.MigrationLimits{MaxWriteBlock: 5 * time.Second, MinShare: 0.1})
	body, _ = templates.RenderComment(CommentData(env, func(string) string { return "" }, preview.Pricing{}))
	if want := "**Migrations:** ⚠️ inconclusive: `orders: 200 rows here, 1.4M in production (under 10%): what it held here says little of production`"; !strings.Contains(body, want) {
		t.Errorf("comment lacks %q:\n%s", want, body)
	}
}
