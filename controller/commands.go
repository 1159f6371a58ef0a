package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	preview "github.com/previewd/previewd"
)

// Commander is what carrying out comment commands needs from GitHub.
type Commander interface {
	// Permission returns user's permission on repo: admin, maintain,
	// write, triage, read or none.
	Permission(ctx context.Context, repo, user string) (string, error)
	React(ctx context.Context, repo string, commentID int64, content string) error
	Reply(ctx context.Context, repo string, number int, body string) error
	// AnswerCheckRun answers a command asked on one of previewd's check
	// runs (cmd.CheckRun, cmd.CheckRunID) there, with note.
	AnswerCheckRun(ctx context.Context, cmd preview.Command, note string) error
}

// HelpText lists the comment commands, as the verbs table says them.
var HelpText = helpText()

func helpText() string {
	var b strings.Builder
	b.WriteString("previewd commands, for people with write access to this repository:\n\n")
	b.WriteString("| command | what it does |\n|---|---|\n")
	for _, v := range preview.Verbs() {
		if !v.Comment {
			continue
		}
		usage := "/preview " + v.Name
		if v.Arg != "" {
			usage += " <" + v.Arg + ">"
		}
		fmt.Fprintf(&b, "| `%s` | %s |\n", usage, v.Summary)
	}
	fmt.Fprintf(&b, "\nOn a pull request from a fork, a maintainer adds the label `%s` to build the current commit.", preview.ApprovalLabel)
	return b.String()
}

// errRefused is a command previewd answers but does not carry out.
type errRefused struct{ reply string }

func (e *errRefused) Error() string { return e.reply }

// commands is the service that carries out comment commands (and the
// fork-approval label): its worker serves one queue entry standing for
// every queued command, holding the commands lease so one replica answers
// each command once. Commands left behind (a failed GitHub call, or a
// replica that died holding them) are looked for every sweep. With no
// Commander it is not started.
type commands struct {
	*core
	commander Commander
	rules     preview.OperateRules // what the commands change, as every operator action
	retry     time.Duration        // how soon a command that could not be carried out is tried again
	every     time.Duration        // how often commands left behind are looked for
	queue     *workQueue           // holds the one name "commands" while commands wait
}

// run carries out the queued commands until ctx ends: those queued before
// a stop at once, then each time it is nudged and every sweep.
func (cm *commands) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { cm.queue.serve(ctx, cm.runCommands) })
	cm.nudge()
	t := time.NewTicker(cm.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-t.C:
			cm.nudge()
		}
	}
}

// nudge asks for queued commands to be carried out. It never blocks.
func (cm *commands) nudge() { cm.queue.add("commands") }

// runCommands carries out every queued command, oldest first. A command whose
// permission check fails on a GitHub error stays queued for the next pass.
// One replica carries them out at a time, so none is answered twice.
func (cm *commands) runCommands(ctx context.Context, _ string) {
	cm.leases.leased(ctx, commandsLease, cm.nudge, cm.carryOutCommands)
}

func (cm *commands) carryOutCommands(ctx context.Context) {
	cmds, err := cm.store.FindCommands(ctx)
	if err != nil {
		cm.log.Error("commands: load", "err", err)
		return
	}
	for _, cmd := range cmds {
		if ctx.Err() != nil {
			return
		}
		if !cm.runCommand(ctx, cmd) {
			cm.queue.addAfter(ctx, "commands", cm.retry)
			continue
		}
		if err := cm.store.DeleteCommand(ctx, cmd.ID); err != nil {
			cm.log.Error("commands: delete", "command", cmd.ID, "err", err)
		}
	}
}

// runCommand checks the user's access, carries the command out and answers
// on the pull request. It returns false when it should be tried again.
func (cm *commands) runCommand(ctx context.Context, cmd preview.Command) bool {
	log := cm.log.With("repo", cmd.Repo, "pr", cmd.Number, "user", cmd.User, "command", cmd.Verb)
	perm, err := cm.commander.Permission(ctx, cmd.Repo, cmd.User)
	if code := preview.ErrorCode(err); code == preview.EINVALID || code == preview.ENOTFOUND {
		log.Warn("commands: permission cannot be checked; refused", "err", err)
		perm = "none"
	} else if err != nil {
		log.Warn("commands: permission check failed; will retry", "err", err)
		return false
	}
	if perm != "admin" && perm != "maintain" && perm != "write" {
		log.Info("commands: refused: no write access", "permission", perm)
		if cmd.Verb != preview.VerbApprove { // a label needs no answer
			cm.reply(ctx, cmd, fmt.Sprintf("@%s `/preview %s` needs write access to %s; nothing was done.", cmd.User, cmd.Verb, cmd.Repo))
		}
		return true
	}
	if cmd.Verb == preview.VerbHelp {
		cm.reply(ctx, cmd, HelpText)
		cm.react(ctx, cmd)
		return true
	}
	env, err := cm.store.FindEnvironmentByPullRequest(ctx, cmd.Repo, cmd.Number)
	if preview.ErrorCode(err) == preview.ENOTFOUND {
		cm.reply(ctx, cmd, fmt.Sprintf("@%s this pull request has no preview environment yet.", cmd.User))
		return true
	} else if err != nil {
		log.Error("commands: load environment", "err", err)
		return false
	}
	_, err = cm.store.UpdateEnvironment(ctx, env.Name, func(e *preview.Environment) error {
		return cm.applyCommand(e, cmd)
	})
	var refused *errRefused
	if errors.As(err, &refused) {
		cm.reply(ctx, cmd, fmt.Sprintf("@%s %s", cmd.User, refused.reply))
		return true
	} else if err != nil {
		log.Error("commands: update environment", "err", err)
		return false
	}
	log.Info("commands: carried out", "environment", env.Name)
	cm.react(ctx, cmd)
	cm.runs.add(env.Name)
	cm.notices.add(env.Name)
	return true
}

// applyCommand changes desired state as cmd asks, by the rules every
// operator action follows (preview.Environment.Operate); it does no I/O.
func (cm *commands) applyCommand(e *preview.Environment, cmd preview.Command) error {
	var bad *preview.ArgumentError
	switch err := e.Operate(cmd.Operation(), cm.now().UTC(), cm.rules); {
	case errors.Is(err, preview.ErrPullRequestClosed):
		return &errRefused{"the pull request is closed; nothing to redeploy."}
	case errors.Is(err, preview.ErrForkNotApproved):
		return &errRefused{"this pull request comes from a fork: add the label `" + preview.ApprovalLabel + "` to build its current commit."}
	case errors.As(err, &bad):
		return &errRefused{fmt.Sprintf("`/preview %s` takes %s.", bad.Verb.Name, bad.Verb.ArgHint)}
	case errors.Is(err, preview.ErrBadOperation):
		return &errRefused{"unknown command; `/preview help` lists them."}
	default:
		return err
	}
}

// reply answers cmd where it was asked: on the pull request, or on the
// check run whose button or re-run asked for it.
func (cm *commands) reply(ctx context.Context, cmd preview.Command, body string) {
	if cmd.CheckRunID != 0 {
		if err := cm.commander.AnswerCheckRun(ctx, cmd, body); err != nil {
			cm.log.Warn("commands: answer on the check run", "repo", cmd.Repo, "check_run", cmd.CheckRunID, "err", err)
		}
		return
	}
	if err := cm.commander.Reply(ctx, cmd.Repo, cmd.Number, body); err != nil {
		cm.log.Warn("commands: reply", "repo", cmd.Repo, "pr", cmd.Number, "err", err)
	}
}

func (cm *commands) react(ctx context.Context, cmd preview.Command) {
	if cmd.CommentID == 0 {
		return
	}
	if err := cm.commander.React(ctx, cmd.Repo, cmd.CommentID, "+1"); err != nil {
		cm.log.Warn("commands: react", "repo", cmd.Repo, "comment", cmd.CommentID, "err", err)
	}
}
