package controller_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/controller"
	"github.com/previewd/previewd/internal/waittest"
	"github.com/previewd/previewd/store"
)

type fakeCommander struct {
	mu        sync.Mutex
	perms     map[string]string
	failPerms atomic.Int32 // this many permission checks fail first
	replies   []string
	reactions []int64
	answers   []string // "check run id: note"
}

func (f *fakeCommander) Permission(ctx context.Context, repo, user string) (string, error) {
	if f.failPerms.Add(-1) >= 0 {
		return "", errors.New("502 Bad Gateway")
	}
	if strings.ContainsAny(user, " !") {
		return "", preview.Errorf(preview.EINVALID, "%q is not a GitHub login", user)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.perms[user]; ok {
		return p, nil
	}
	return "none", nil
}

func (f *fakeCommander) React(ctx context.Context, repo string, id int64, content string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reactions = append(f.reactions, id)
	return nil
}

func (f *fakeCommander) Reply(ctx context.Context, repo string, number int, body string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replies = append(f.replies, body)
	return nil
}

func (f *fakeCommander) AnswerCheckRun(ctx context.Context, cmd preview.Command, note string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers = append(f.answers, fmt.Sprintf("%d: %s", cmd.CheckRunID, note))
	return nil
}

func (f *fakeCommander) answered() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.answers...)
}

func (f *fakeCommander) replied() []string {
	r, _ := f.said()
	return r
}

func (f *fakeCommander) said() ([]string, []int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.replies...), append([]int64(nil), f.reactions...)
}

type commandHarness struct {
	db    *store.DB
	ctrl  *controller.Controller
	gh    *fakeCommander
	runs  atomic.Int32
	t     *testing.T
	delID int
}

// startCommands starts a controller carrying out commands; with a
// checker, parity checks too.
func startCommands(t *testing.T, checker ...*fakeChecker) *commandHarness {
	t.Helper()
	h := &commandHarness{t: t, gh: &fakeCommander{perms: map[string]string{"maintainer": "write", "admin": "admin", "reader": "read"}}}
	db, err := store.Open(filepath.Join(t.TempDir(), "previewd.db"), store.Options{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h.db = db
	prov := &fakeProvisioner{apply: func(ctx context.Context, env preview.Environment) (string, error) {
		h.runs.Add(1)
		return "http://x/", nil
	}}
	cfg := controller.Config{
		Runs:     controller.RunsConfig{LogDir: t.TempDir(), RetryBase: 40 * time.Millisecond},
		Expiry:   controller.ExpiryConfig{TTL: time.Hour, MaxKeep: 10 * 24 * time.Hour},
		Commands: h.gh,
	}
	if len(checker) > 0 {
		cfg.Parity = controller.ParityConfig{Checker: checker[0]}
	}
	h.ctrl = controller.New(db, prov, &fakeGitHub{}, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.ctrl.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return h
}

func (h *commandHarness) command(cmd preview.Command) {
	h.t.Helper()
	h.delID++
	cmd.Repo, cmd.Number = "acme/shop", 1
	if _, err := h.db.RecordCommand(context.Background(), "", cmd); err != nil {
		h.t.Fatal(err)
	}
	h.ctrl.NudgeCommands()
}

func (h *commandHarness) env() preview.Environment {
	env, _ := h.db.FindEnvironmentByPullRequest(context.Background(), "acme/shop", 1)
	return env
}

// waitEnv reads the pull request's environment until cond holds of it.
func (h *commandHarness) waitEnv(what string, cond func(preview.Environment) bool) preview.Environment {
	h.t.Helper()
	return waittest.For(h.t, what, h.env, cond)
}

// waitHandled waits until every recorded command was handled (none is
// left in the store) and the run loop served whatever they queued.
func (h *commandHarness) waitHandled() {
	h.t.Helper()
	waittest.For(h.t, "every command handled", func() []preview.Command {
		cmds, _ := h.db.FindCommands(context.Background())
		return cmds
	}, func(cmds []preview.Command) bool { return len(cmds) == 0 })
	waittest.Until(h.t, "the run loop idle", h.ctrl.RunsIdle)
}

func (h *commandHarness) open(fork bool, sha string) {
	h.t.Helper()
	res, err := h.db.RecordPullRequest(context.Background(), "", preview.PullRequest{
		Repo: "acme/shop", Number: 1, Open: true, HeadSHA: sha, Branch: "cmd", Fork: fork, UpdatedAt: time.Now(),
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.ctrl.Nudge(res.Environment.Name)
}

func TestCommandsNeedWriteAccess(t *testing.T) {
	h := startCommands(t)
	h.open(false, "a")
	h.waitEnv("ready", isReady)
	h.command(preview.Command{Verb: "destroy", User: "reader", CommentID: 7})
	waittest.For(t, "a refusal", h.gh.replied, func(r []string) bool { return len(r) == 1 })
	replies, reactions := h.gh.said()
	if !strings.Contains(replies[0], "needs write access") || len(reactions) != 0 {
		t.Errorf("reader: replies %q reactions %v", replies, reactions)
	}
	if env := h.env(); !env.Desired.Present {
		t.Errorf("a reader's /preview destroy took the environment down")
	}
}

func TestCommandsCarriedOut(t *testing.T) {
	h := startCommands(t)
	h.open(false, "a")
	h.waitEnv("ready", isReady)

	h.command(preview.Command{Verb: "redeploy", User: "maintainer", CommentID: 1})
	waittest.For(t, "a second apply", h.runs.Load, func(n int32) bool { return n == 2 })
	h.waitEnv("ready again", isReady)

	before := h.env().ExpiresAt
	h.command(preview.Command{Verb: "extend", Arg: "3d", User: "admin", CommentID: 2})
	h.waitEnv("extended", func(e preview.Environment) bool { return e.ExpiresAt.Sub(before) > 70*time.Hour })

	h.command(preview.Command{Verb: "keep", User: "maintainer", CommentID: 3})
	h.waitEnv("pinned", isPinned)

	h.command(preview.Command{Verb: "extend", Arg: "soon", User: "maintainer", CommentID: 4})
	h.command(preview.Command{Verb: "help", User: "maintainer", CommentID: 5})
	h.command(preview.Command{Verb: "destroy", User: "maintainer", CommentID: 6})
	h.waitEnv("destroyed", isDestroyed)
	replies, reactions := h.gh.said()
	if len(replies) != 2 || !strings.Contains(replies[0], "takes a duration") || !strings.Contains(replies[1], "/preview redeploy") {
		t.Errorf("replies: got %q, want the extend usage and the help", replies)
	}
	if len(reactions) != 5 {
		t.Errorf("reactions: got %v, want one for each carried-out command", reactions)
	}
}

func TestForkApprovalBuildsOnlyTheApprovedHead(t *testing.T) {
	h := startCommands(t)
	h.open(true, "a")
	waittest.Until(t, "the run loop idle", h.ctrl.RunsIdle) // it looked at the fork
	if h.runs.Load() != 0 {
		t.Fatalf("an unapproved fork was built")
	}
	h.command(preview.Command{Verb: "approve", User: "reader", HeadSHA: "a"})
	h.waitHandled()
	if h.runs.Load() != 0 || len(h.gh.replied()) != 0 {
		t.Fatalf("a reader's approval built the fork or was answered")
	}
	h.command(preview.Command{Verb: "approve", User: "maintainer", HeadSHA: "a"})
	h.waitEnv("approved head built", isReady)
	h.open(true, "b") // a new push needs a new approval
	h.waitEnv("torn down until approved again", isDestroyed)
}

func TestCommandsSurviveAGitHubOutage(t *testing.T) {
	h := startCommands(t)
	h.open(false, "a")
	h.waitEnv("ready", isReady)
	h.gh.failPerms.Store(3)
	h.command(preview.Command{Verb: "keep", User: "maintainer", CommentID: 9})
	h.waitEnv("pinned after the outage", isPinned)
	h.waitHandled()
}

func TestCommandsFromAnUncheckableUserAreRefusedNotRetried(t *testing.T) {
	h := startCommands(t)
	h.open(false, "a")
	h.waitEnv("ready", isReady)
	h.command(preview.Command{Verb: "destroy", User: "bad login!", CommentID: 3})
	h.waitHandled()
	replies, _ := h.gh.said()
	if env := h.env(); !env.Desired.Present || len(replies) != 1 || !strings.Contains(replies[0], "needs write access") {
		t.Errorf("uncheckable user: present %v, replies %q; want the environment kept and one refusal", env.Desired.Present, replies)
	}
}

// TestRecheckFromACheckRun: Re-check on the previewd/parity check run runs
// the parity check of the applied commit again, applying nothing; from a
// reader it is refused, and the refusal is answered on that check run, not
// on the pull request.
func TestRecheckFromACheckRun(t *testing.T) {
	chk := &fakeChecker{}
	h := startCommands(t, chk)
	h.open(false, "a")
	h.waitEnv("ready and checked", func(e preview.Environment) bool { return isReady(e) && e.Parity.SHA == "a" })
	h.command(preview.Command{Verb: preview.VerbRecheck, User: "reader", CheckRun: "previewd/parity", CheckRunID: 55})
	h.waitHandled()
	if answers := h.gh.answered(); len(answers) != 1 || !strings.HasPrefix(answers[0], "55: @reader `/preview recheck` needs write access") {
		t.Errorf("answers on the check run: %q, want the refusal on run 55", answers)
	}
	if r := h.gh.replied(); len(r) != 0 {
		t.Errorf("replies on the pull request: %q, want none", r)
	}
	if chk.checks.Load() != 1 {
		t.Errorf("a reader's re-check ran the check (%d checks)", chk.checks.Load())
	}

	h.command(preview.Command{Verb: preview.VerbRecheck, User: "maintainer", CheckRun: "previewd/parity", CheckRunID: 55})
	waittest.Until(t, "a second parity check", func() bool { return chk.checks.Load() == 2 })
	env := h.waitEnv("checked again", func(e preview.Environment) bool { return e.Parity.SHA == "a" })
	if !isReady(env) || h.runs.Load() != 1 {
		t.Errorf("after a re-check: status %s, %d applies; want still ready, applied once", env.Status, h.runs.Load())
	}
}
