package github

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	preview "github.com/previewd/previewd"
)

// Offline stands in for Client when neither a token nor a GitHub App is
// configured: it renders what would be written and sends nothing, so the
// store, the admin API and the logs show it instead.
type Offline struct {
	render func(preview.Environment) (string, error)
	logger *slog.Logger
	now    func() time.Time

	mu     sync.Mutex
	issues map[string]string // the production drift issue body last logged, by lower-case repository
}

// NewOffline returns an Offline that renders with render, which is required,
// and logs to logger (nothing when nil).
func NewOffline(render func(preview.Environment) (string, error), logger *slog.Logger) *Offline {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Offline{render: render, logger: logger.With("component", "github"), now: time.Now, issues: map[string]string{}}
}

// SyncComment renders env's comment and returns it with ID zero, as the
// comment previewd would have written. An unchanged body returns
// env.Comment as it is. It logs each new body, at info level without the
// body and at debug level with it, and never blocks. Errors come from
// rendering, or from a body over MaxCommentLength characters.
func (o *Offline) SyncComment(_ context.Context, env preview.Environment) (preview.Comment, error) {
	body, err := renderBody(o.render, env)
	if err != nil {
		return preview.Comment{}, err
	}
	if env.Comment.ID == 0 && env.Comment.Body == body {
		return env.Comment, nil
	}
	o.logger.Info("offline: comment not sent", "environment", env.Name, "repo", env.Repo, "pr", env.PR, "status", env.Status)
	o.logger.Debug("offline: comment body", "environment", env.Name, "body", body)
	return preview.Comment{Body: body, UpdatedAt: o.now().UTC()}, nil
}

// SyncProductionIssue renders the production drift issue that
// SyncProductionIssue would write for w and returns w.Issue, sending
// nothing. It logs the issue when its body changed since this Offline last
// logged it (at first, only when w drifted), at info level without the body
// and at debug level with it. A failed watch is not rendered. It never
// blocks; errors come from rendering.
func (o *Offline) SyncProductionIssue(_ context.Context, w preview.ProductionWatch) (int, error) {
	if w.Failed() {
		return w.Issue, nil
	}
	body, err := renderProductionIssue(w)
	if err != nil {
		return w.Issue, err
	}
	key := strings.ToLower(w.Repo)
	o.mu.Lock()
	last, logged := o.issues[key]
	changed := body != last && (logged || w.Drifted())
	if changed {
		o.issues[key] = body
	}
	o.mu.Unlock()
	if !changed {
		return w.Issue, nil
	}
	state := "open"
	if !w.Drifted() {
		state = "closed"
	}
	o.logger.Info("offline: production drift issue not sent", "repo", w.Repo, "state", state, "findings", len(w.Findings), "ignored", w.Ignored)
	o.logger.Debug("offline: production drift issue body", "repo", w.Repo, "body", body)
	return w.Issue, nil
}

// ErrOffline is what Offline answers where only GitHub could: pull requests
// and repositories cannot be listed without credentials. Its code is
// preview.EUNAVAILABLE; a resync loop should skip its pass, never read it
// as "no pull requests".
var ErrOffline = preview.Errorf(preview.EUNAVAILABLE, "offline mode: previewd has no GitHub credentials")

// SyncDeployment returns the deployment state SyncDeployment would have
// written for env, with ID zero, and logs at info level what would have been
// sent. It sends nothing and never blocks.
func (o *Offline) SyncDeployment(_ context.Context, env preview.Environment) (preview.Deployment, error) {
	plan := planDeployment(env)
	if plan.empty() {
		return env.Deployment, nil
	}
	o.logger.Info("offline: deployment not sent", "environment", env.Name, "repo", env.Repo, "pr", env.PR,
		"sha", plan.next.SHA, "state", plan.next.State, "new_deployment", plan.create != "")
	return plan.next, nil
}

// SyncCommitStatus returns the "previewd" commit status SyncCommitStatus
// would have posted for env, and logs it at info level. It sends nothing
// and never blocks.
//
// The check run an App would write instead is logged too (its verdict and
// annotations at debug level), so offline mode shows the same verdicts.
func (o *Offline) SyncCommitStatus(_ context.Context, env preview.Environment) (preview.CommitStatus, error) {
	plan, ok := planCommitStatus(env)
	return o.status(env, StatusContext, plan, ok, env.CommitStatus, planEnvironmentCheckRun), nil
}

// SyncParityStatus returns the "previewd/parity" status SyncParityStatus
// would have posted for env, and logs it at info level. It sends nothing.
func (o *Offline) SyncParityStatus(_ context.Context, env preview.Environment) (preview.CommitStatus, error) {
	plan, ok := planParityStatus(env)
	return o.status(env, ParityStatusContext, plan, ok, env.ParityStatus, func(env preview.Environment) (checkRunPlan, bool) {
		return planParityCheckRun(env, false)
	}), nil
}

// SyncDatabaseStatus returns the "previewd/migrations" status
// SyncDatabaseStatus would have posted, and logs it (and the check run).
func (o *Offline) SyncDatabaseStatus(_ context.Context, env preview.Environment) (preview.CommitStatus, error) {
	plan, ok := planDatabaseStatus(env)
	return o.status(env, DatabaseStatusContext, plan, ok, env.DatabaseStatus, planDatabaseCheckRun), nil
}

// status logs the commit status plan, and the check run an App would
// write instead (planned by runPlan only then), when they changed.
func (o *Offline) status(env preview.Environment, statusContext string, plan commitStatusPlan, ok bool, current preview.CommitStatus,
	runPlan func(preview.Environment) (checkRunPlan, bool)) preview.CommitStatus {
	next := preview.CommitStatus{SHA: plan.sha, State: plan.state}
	if !ok || current == next {
		return current
	}
	o.logger.Info("offline: commit status not sent", "environment", env.Name, "repo", env.Repo, "pr", env.PR,
		"sha", plan.sha, "state", plan.state, "context", statusContext)
	if run, ok := runPlan(env); ok {
		var at []string
		for _, a := range run.annotations {
			at = append(at, fmt.Sprintf("%s:%d", a.GetPath(), a.GetStartLine()))
		}
		o.logger.Debug("offline: check run not sent", "environment", env.Name, "name", run.name, "sha", run.sha, "state", run.state(),
			"title", run.title, "annotations", strings.Join(at, " "), "summary", run.summary)
	}
	return next
}

// Permission returns "none": offline, previewd cannot ask GitHub who may run
// commands, so nobody may. It logs at info level and never blocks.
func (o *Offline) Permission(_ context.Context, repo, user string) (string, error) {
	o.logger.Info("offline: permission unknown, treated as none", "repo", repo, "user", user)
	return "none", nil
}

// React logs at info level the reaction that would have been added.
func (o *Offline) React(_ context.Context, repo string, commentID int64, content string) error {
	if err := checkReaction(content, commentID); err != nil {
		return err
	}
	o.logger.Info("offline: reaction not sent", "repo", repo, "comment_id", commentID, "content", content)
	return nil
}

// AnswerCheckRun logs, at info level, the answer that would have been
// given on a check run (offline mode writes none).
func (o *Offline) AnswerCheckRun(_ context.Context, cmd preview.Command, note string) error {
	o.logger.Info("offline: check run answer not sent", "repo", cmd.Repo, "pr", cmd.Number, "check_run", cmd.CheckRun, "note", note)
	return nil
}

// Reply logs the reply that would have been posted, at info level without
// its body and at debug level with it. It refuses what Client.Reply
// refuses.
func (o *Offline) Reply(_ context.Context, repo string, number int, body string) error {
	if err := checkReply(repo, number, body); err != nil {
		return err
	}
	o.logger.Info("offline: reply not sent", "repo", repo, "pr", number)
	o.logger.Debug("offline: reply body", "repo", repo, "pr", number, "body", body)
	return nil
}

// ListOpenPullRequests returns ErrOffline.
func (o *Offline) ListOpenPullRequests(context.Context, string) ([]preview.PullRequest, error) {
	return nil, ErrOffline
}

// GetPullRequest returns ErrOffline.
func (o *Offline) GetPullRequest(context.Context, string, int) (preview.PullRequest, error) {
	return preview.PullRequest{}, ErrOffline
}

// Repositories returns an invalid error: offline, the repositories previewd
// serves must be listed in the configuration.
func (o *Offline) Repositories(context.Context) ([]string, error) {
	return nil, errOfflineRepositories
}

var errOfflineRepositories = preview.Errorf(preview.EINVALID,
	"offline mode: GitHub cannot say which repositories previewd serves: list them in the configuration (repos)")

// The modes previewd reaches GitHub in (see Mode).
const (
	ModeApp     = "app"     // a GitHub App: an installation token per repository
	ModeToken   = "token"   // one token for every repository
	ModeOffline = "offline" // nothing sent: each write is logged
)

// Mode is the mode an App ID and a token select: the App wins, and with
// neither previewd runs offline.
func Mode(appID int64, token string) string {
	switch {
	case appID != 0:
		return ModeApp
	case token != "":
		return ModeToken
	}
	return ModeOffline
}
