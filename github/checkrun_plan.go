package github

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	gh "github.com/google/go-github/v60/github"

	preview "github.com/previewd/previewd"
)

// GitHub's limits on a check run's output.
const (
	maxCheckText       = 65535 // summary and text, each
	maxAnnotationTitle = 255
	maxAnnotationBody  = 64 * 1024
	annotationsPerCall = 50 // a request takes at most this many; more go in further updates
)

// checkRunPlan is the check run that shows a verdict on a commit.
type checkRunPlan struct {
	name, sha     string
	status        string // queued, in_progress, completed
	conclusion    string // once completed: success, failure, neutral
	title         string
	summary, text string
	annotations   []*gh.CheckRunAnnotation
	actions       []*gh.CheckRunAction
}

// The buttons on previewd's check runs: each identifier is the verb it
// asks for (webhooks reads them back), carried out only for people with
// write access.
var (
	redeployAction = &gh.CheckRunAction{Label: "Redeploy", Description: "Run Terraform again for this commit", Identifier: preview.VerbRedeploy}
	recheckAction  = &gh.CheckRunAction{Label: "Re-check", Description: "Compare with production again", Identifier: preview.VerbRecheck}
)

// state is what CommitStatus.State records of the run.
func (p checkRunPlan) state() string {
	if p.status == "completed" {
		return p.conclusion
	}
	return p.status
}

// digest identifies what the run shows, so an unchanged verdict is not
// sent again.
func (p checkRunPlan) digest() string {
	b, _ := json.Marshal([]any{p.name, p.sha, p.status, p.conclusion, p.title, p.summary, p.text, p.annotations, p.actions})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// planEnvironmentCheckRun is the "previewd" check run that shows env, on
// the commit its commit status would be on (see planCommitStatus): queued
// (and what it waits for), in progress while it is built, success with
// its URL, failure with Terraform's error, annotated at the module's lines
// it names.
func planEnvironmentCheckRun(env preview.Environment) (checkRunPlan, bool) {
	status, ok := planCommitStatus(env)
	if !ok {
		return checkRunPlan{}, false
	}
	p := checkRunPlan{name: StatusContext, sha: status.sha, title: status.description, actions: []*gh.CheckRunAction{redeployAction}}
	short := preview.ShortSHA(status.sha)
	switch env.Status {
	case preview.StatusQueued:
		p.status = "queued"
		p.summary = "The preview of " + short + " is queued."
		if len(env.Checks.Waiting) > 0 && env.Checks.SHA == status.sha {
			p.summary = "The preview of " + short + " waits for these checks to pass: " + strings.Join(env.Checks.Waiting, ", ") + "."
		}
		if b := env.Budget; b != nil {
			p.title = truncateRunes(fmt.Sprintf("Waiting for a budget slot (%d of %d live)", b.Live, b.Max), maxAnnotationTitle)
			p.summary = fmt.Sprintf("The preview waits for a slot in the budget of %s: %d of %d environments hold resources; it is number %d in line.", b.Scope, b.Live, b.Max, b.Position)
		}
	case preview.StatusProvisioning:
		p.status, p.summary = "in_progress", "Terraform is applying the preview of "+short+"."
	case preview.StatusReady:
		p.status, p.conclusion = "completed", "success"
		p.summary = "The preview of " + short + " is ready."
		if env.URL != "" {
			p.summary = "The preview of " + short + " is ready at " + env.URL + "."
		}
	case preview.StatusFailed:
		p.status, p.conclusion = "completed", "failure"
		p.title = "Failed to deploy the preview of " + short
		p.summary = "Terraform failed; its error is below, and the run's log has the rest."
		p.text = fencedBlock(env.LastError)
		p.annotations = diagnosticAnnotations(env, env.LastError)
	}
	return p, true
}

// findingGroup is what a parity finding is, in the order findings are
// listed (preview.Finding.Standing).
type findingGroup = preview.Standing

const (
	undeclaredFinding = preview.StandingDrift
	warningFinding    = preview.StandingWarning
	declaredFinding   = preview.StandingDeclared
)

func groupOf(f preview.Finding) findingGroup { return f.Standing() }

// parityCounts counts a parity report's findings by group.
type parityCounts struct{ undeclared, declared, warnings int }

func countFindings(findings []preview.Finding) parityCounts {
	var n parityCounts
	for _, f := range findings {
		switch groupOf(f) {
		case undeclaredFinding:
			n.undeclared++
		case warningFinding:
			n.warnings++
		case declaredFinding:
			n.declared++
		}
	}
	return n
}

// revertsWarning says what w warnings warn of, after "deploying would".
func revertsWarning(w int) string {
	return fmt.Sprintf("revert %d change(s) made to production", w)
}

// planParityCheckRun is the "previewd/parity" check run that shows env's
// parity verdict on the applied commit: success when the preview is
// production's, neutral when it differs only where declared, failure on
// undeclared drift (annotated at the module's lines; with noticeDeclared,
// declared differences too, as notices) or when the check could not run.
// A warning (deploying would revert a change made to production) is
// annotated at the module's line as a warning and never fails the run: it
// is no parity failure of the preview. It makes a run that would succeed
// neutral, because GitHub folds successful checks away and the warning
// would go unseen by the people about to merge. None is due before a
// check, or once the pull request is closed.
func planParityCheckRun(env preview.Environment, noticeDeclared bool) (checkRunPlan, bool) {
	r := env.Parity
	if !env.Desired.PROpen || r.SHA == "" {
		return checkRunPlan{}, false
	}
	p := checkRunPlan{name: ParityStatusContext, sha: r.SHA, status: "completed", actions: []*gh.CheckRunAction{recheckAction}}
	n := countFindings(r.Findings)
	switch {
	case r.Error != "":
		p.conclusion, p.title = "failure", "The parity check could not run"
		p.summary = "previewd could not compare this preview with production, so nothing is known of its parity."
		p.text = fencedBlock(r.Error)
		return p, true
	case r.Status == preview.ParityDrift:
		p.conclusion = "failure"
		p.title = fmt.Sprintf("%d undeclared difference(s) from production", n.undeclared)
		if n.warnings > 0 {
			p.title += "; deploying would " + revertsWarning(n.warnings)
		}
	case r.Status == preview.ParityOK && n.warnings > 0:
		p.conclusion = "neutral"
		p.title = "Deploying would " + revertsWarning(n.warnings)
		if n.declared > 0 {
			p.title += fmt.Sprintf(" (%d declared difference(s))", n.declared)
		}
	case r.Status == preview.ParityOK && n.declared > 0:
		p.conclusion = "neutral"
		p.title = fmt.Sprintf("Differs from production only where declared (%d declared)", n.declared)
	case r.Status == preview.ParityOK:
		p.conclusion, p.title = "success", "The same as production"
	default:
		return checkRunPlan{}, false
	}
	p.summary = findingsSummary(env, r.Findings)
	for _, f := range r.Findings {
		if groupOf(f) == declaredFinding && !noticeDeclared {
			continue
		}
		if a := findingAnnotation(env, f); a != nil {
			p.annotations = append(p.annotations, a)
		}
	}
	return p, true
}

// findingsSummary is a Markdown table of findings, undeclared first (✗),
// then warnings (⚠), then declared (✓), cut to fit GitHub's limit with the
// count of what was cut.
func findingsSummary(env preview.Environment, findings []preview.Finding) string {
	var b strings.Builder
	n := countFindings(findings)
	fmt.Fprintf(&b, "**%d undeclared**, %d declared difference(s) between this preview and production", n.undeclared, n.declared)
	if env.Module.Commit != "" {
		fmt.Fprintf(&b, ", both from the module at `%s`", preview.ShortSHA(env.Module.Commit))
	}
	b.WriteString(".\n\n")
	if n.warnings > 0 {
		fmt.Fprintf(&b, "⚠ **%d warning(s):** deploying would %s outside Terraform, setting each back to the module's value (⚠ below). "+
			"Adopt production's value in the module if the change should stay; a warning does not fail this check.\n\n",
			n.warnings, revertsWarning(n.warnings))
	}
	if len(findings) == 0 {
		return b.String()
	}
	b.WriteString("| | kind | subject | production | preview | where, or why declared |\n|---|---|---|---|---|---|\n")
	ordered := slices.Clone(findings)
	slices.SortStableFunc(ordered, func(a, b preview.Finding) int { return cmp.Compare(groupOf(a), groupOf(b)) })
	const room = maxCheckText - 200 // for the line saying what was cut
	for i, f := range ordered {
		mark, where := "✗", locationCell(env, f.Location)
		switch groupOf(f) {
		case warningFinding:
			mark = "⚠"
		case declaredFinding:
			mark, where = "✓", "declared: "+cell(f.Reason, 200)
		}
		row := fmt.Sprintf("| %s | %s | %s | %s | %s | %s |\n", mark, f.Kind, cell(f.Subject, 300), cell(f.Production, 300), cell(f.Preview, 300), where)
		if b.Len()+len(row) > room {
			fmt.Fprintf(&b, "\n%d more finding(s) are not shown here: the environment's page and `GET /api/v1/environments/%s` have every one.\n", len(ordered)-i, env.Name)
			break
		}
		b.WriteString(row)
	}
	return b.String()
}

// cell is s as a Markdown table cell: code, on one line, at most n
// characters.
func cell(s string, n int) string {
	if s == "" {
		return "—"
	}
	s = strings.NewReplacer("\r", " ", "\n", " ", "|", "\\|", "`", "'").Replace(s)
	return "`" + truncateRunes(s, n) + "`"
}

// locationCell says where a finding's value is written: a link to the
// file at the module's commit, or the file and line.
func locationCell(env preview.Environment, location string) string {
	file, line, ok := splitLocation(location)
	if !ok {
		return "—"
	}
	path, link := moduleFile(env, file, line)
	if link != "" {
		return "[" + path + ":" + strconv.Itoa(line) + "](" + link + ")"
	}
	return "`" + strings.ReplaceAll(path, "`", "'") + ":" + strconv.Itoa(line) + "`"
}

// findingAnnotation is the annotation of a finding at the module's line,
// when the module is in the pull request's repository: a failure when it
// is undeclared, a notice when declared, a warning when it is one
// (deploying would revert a change made to production), with its reason.
func findingAnnotation(env preview.Environment, f preview.Finding) *gh.CheckRunAnnotation {
	file, line, ok := splitLocation(f.Location)
	if !ok {
		return nil
	}
	path, inRepo := repoPath(env, file)
	if !inRepo {
		return nil
	}
	switch groupOf(f) {
	case warningFinding:
		msg := f.Reason + "\n\nAdopt production's value in the module if the change should stay."
		return annotation(path, line, "warning", "deploying would revert a change made to production: "+f.Subject, msg)
	case declaredFinding:
		msg := fmt.Sprintf("production: %s\npreview:    %s\n\nDeclared: %s", f.Production, f.Preview, f.Reason)
		return annotation(path, line, "notice", string(f.Kind)+" "+f.Subject+" differs from production, as declared", msg)
	}
	msg := fmt.Sprintf("production: %s\npreview:    %s\n\nDeclare the difference (differences: in previewd's configuration) if it is meant, or make the preview match production.", f.Production, f.Preview)
	return annotation(path, line, "failure", string(f.Kind)+" "+f.Subject+" differs from production", msg)
}

func annotation(path string, line int, level, title, message string) *gh.CheckRunAnnotation {
	return &gh.CheckRunAnnotation{Path: ptr(path), StartLine: ptr(line), EndLine: ptr(line), AnnotationLevel: ptr(level),
		Title: ptr(truncateRunes(title, maxAnnotationTitle)), Message: ptr(truncateBytes(message, maxAnnotationBody))}
}

// diagnostic matches where a Terraform diagnostic points ("on main.tf line
// 20, in resource …").
var diagnostic = regexp.MustCompile(`^\s*on (\S+) line (\d+)`)

// diagnosticAnnotations are the Terraform errors in log that name a file
// and line of a module in the pull request's repository.
func diagnosticAnnotations(env preview.Environment, log string) []*gh.CheckRunAnnotation {
	var out []*gh.CheckRunAnnotation
	summary := "Terraform error"
	for _, l := range strings.Split(log, "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(l), "Error: "); ok {
			summary = s
		}
		m := diagnostic.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		line, _ := strconv.Atoi(m[2])
		path, inRepo := repoPath(env, m[1])
		if !inRepo || line < 1 {
			continue
		}
		out = append(out, annotation(path, line, "failure", summary, log))
	}
	return out
}

// splitLocation splits "main.tf:15".
func splitLocation(location string) (file string, line int, ok bool) {
	i := strings.LastIndexByte(location, ':')
	if i <= 0 {
		return "", 0, false
	}
	line, err := strconv.Atoi(location[i+1:])
	return location[:i], line, err == nil && line > 0
}

// moduleSourcePath parses a module source on a git host
// ("git::https://github.com/acme/infra.git//stacks/shop?ref=v2") into the
// repository and the module's directory in it.
var moduleSourcePath = regexp.MustCompile(`^(?:git::)?(https?://[^/]+)/([^/]+/[^/?]+?)(?:\.git)?(?://([^?]*))?(?:\?.*)?$`)

// repoPath is file's path in the pull request's repository, when env's
// module is kept there (base//DIR: DIR/file).
func repoPath(env preview.Environment, file string) (string, bool) {
	m := moduleSourcePath.FindStringSubmatch(env.Module.Source)
	if m == nil || !strings.EqualFold(m[2], env.Repo) || strings.Contains(file, "..") {
		return "", false
	}
	return strings.Trim(strings.Trim(m[3], "/")+"/"+file, "/"), true
}

// moduleFile names file of env's module: its path in the module's
// repository with a link to its line at the module's commit, on the host
// the module comes from, or, for a module directory, the file alone.
func moduleFile(env preview.Environment, file string, line int) (path, link string) {
	m := moduleSourcePath.FindStringSubmatch(env.Module.Source)
	if m == nil || !commitSHA.MatchString(env.Module.Commit) {
		return file, ""
	}
	path = strings.Trim(strings.Trim(m[3], "/")+"/"+file, "/")
	return path, fmt.Sprintf("%s/%s/blob/%s/%s#L%d", m[1], m[2], env.Module.Commit, path, line)
}

// fencedBlock is s in a Markdown code block that s cannot close.
func fencedBlock(s string) string {
	if s == "" {
		return ""
	}
	fence := "```"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	return fence + "\n" + truncateBytes(s, maxCheckText-2*len(fence)-2) + "\n" + fence
}

// truncateBytes shortens s to at most n bytes on a rune boundary, marking
// a cut with "…".
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// DatabaseStatusContext is the name of the migrations verdict's check run
// (App mode) or commit status (token mode).
const DatabaseStatusContext = "previewd/migrations"

// planDatabaseCheckRun is the "previewd/migrations" check run that shows
// what env's database held while it came up: success under the limits at
// a size that means something, failure over a limit, neutral when the
// measurement says little (too few rows) or the database was not watched.
// None is due before a watch, or once the pull request is closed.
func planDatabaseCheckRun(env preview.Environment) (checkRunPlan, bool) {
	r := env.Database
	if !env.Desired.PROpen || r.SHA == "" || r.Verdict.Status == "" {
		return checkRunPlan{}, false
	}
	p := checkRunPlan{name: DatabaseStatusContext, sha: r.SHA, status: "completed", summary: databaseSummary(r)}
	switch r.Verdict.Status {
	case preview.DatabaseFailure:
		p.conclusion, p.title = "failure", r.Verdict.Reasons[0]
	case preview.DatabaseInconclusive:
		p.conclusion, p.title = "neutral", "Inconclusive: the preview's tables are too small to say"
	case preview.DatabaseUnwatched:
		p.conclusion, p.title = "neutral", "The database was not watched"
	default:
		p.conclusion, p.title = "success", "No lock over the limits"
	}
	p.title = strings.ReplaceAll(p.title, "`", "")
	return p, true
}

// databaseSummary is the verdict's reasons, then a Markdown table of what
// the database held.
func databaseSummary(r preview.DatabaseReport) string {
	var b strings.Builder
	for _, reason := range r.Verdict.Reasons {
		b.WriteString("- " + reason + "\n")
	}
	if !r.Watched {
		return b.String()
	}
	fmt.Fprintf(&b, "\nWatched for %s (%d samples).\n", preview.Seconds(r.To.Sub(r.From)), r.Samples)
	if len(r.Holds) == 0 {
		b.WriteString("\nNo lock that blocks writes or reads was held.\n")
		return b.String()
	}
	b.WriteString("\n| relation | statement | lock | blocked writes | blocked reads | longest wait | rows here | rows in production |\n|---|---|---|---|---|---|---|---|\n")
	for _, h := range r.Holds {
		prod := "—"
		if h.ProductionRows != nil {
			prod = preview.Count(*h.ProductionRows)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", cell(h.Relation, 100), cell(h.Statement, 200), h.Mode,
			preview.Seconds(h.BlockedWrites), preview.Seconds(h.BlockedReads), preview.Seconds(h.LongestWait), preview.Count(h.Rows), prod)
	}
	return b.String()
}

// planDatabaseStatus is the "previewd/migrations" commit status (token
// mode): success, failure over a limit, error when inconclusive or not
// watched (neither is a pass).
func planDatabaseStatus(env preview.Environment) (commitStatusPlan, bool) {
	run, ok := planDatabaseCheckRun(env)
	if !ok {
		return commitStatusPlan{}, false
	}
	state := map[string]string{"success": "success", "failure": "failure"}[run.conclusion]
	if state == "" {
		state = "error"
	}
	return commitStatusPlan{run.sha, state, truncateRunes(run.title, maxDescription)}, true
}
