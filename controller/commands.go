package controller

import (
	"context"
	"errors"
	"fmt"

	preview "github.com/previewd/previewd"
)

// Commander is what carrying out comment commands needs from GitHub.
type Commander interface {
	// Permission returns user's permission on repo: admin, maintain,
	// write, triage, read or none.
	Permission(ctx context.Context, repo, user string) (string, error)
	React(ctx context.Context, repo string, commentID int64, content string) error
	Reply(ctx context.Context, repo string, number int, body string) error
}

// HelpText lists the comment commands.
const HelpText = "previewd commands, for people with write access to this repository:\n\n" +
	"| command | what it does |\n|---|---|\n" +
	"| `/preview redeploy` | run Terraform again for the current commit |\n" +
	"| `/preview destroy` | tear the environment down now (the next push builds it again) |\n" +
	"| `/preview extend <duration>` | push the expiry back, e.g. `/preview extend 48h` or `/preview extend 3d` |\n" +
	"| `/preview keep` | keep the environment while the pull request is open (up to the configured maximum) |\n" +
	"| `/preview unkeep` | let it expire after the usual idle time again |\n" +
	"| `/preview help` | show this |\n\n" +
	"On a pull request from a fork, a maintainer adds the label `preview:approved` to build the current commit."

// errRefused is a command previewd answers but does not carry out.
type errRefused struct{ reply string }

func (e *errRefused) Error() string { return e.reply }

// NudgeCommands asks for queued commands to be carried out. It never blocks.
func (c *Controller) NudgeCommands() { c.commands.add("commands") }

// runCommands carries out every queued command, oldest first. A command whose
// permission check fails on a GitHub error stays queued for the next pass.
// One replica carries them out at a time, so none is answered twice.
func (c *Controller) runCommands(ctx context.Context, _ string) {
	c.leased(ctx, commandsLease, c.NudgeCommands, c.carryOutCommands)
}

func (c *Controller) carryOutCommands(ctx context.Context) {
	cmds, err := c.store.FindCommands(ctx)
	if err != nil {
		c.log.Error("commands: load", "err", err)
		return
	}
	for _, cmd := range cmds {
		if ctx.Err() != nil {
			return
		}
		if !c.runCommand(ctx, cmd) {
			c.commands.addAfter(ctx, "commands", c.cfg.RetryBase/4)
			continue
		}
		if err := c.store.DeleteCommand(ctx, cmd.ID); err != nil {
			c.log.Error("commands: delete", "command", cmd.ID, "err", err)
		}
	}
}

// runCommand checks the user's access, carries the command out and answers
// on the pull request. It returns false when it should be tried again.
func (c *Controller) runCommand(ctx context.Context, cmd preview.Command) bool {
	log := c.log.With("repo", cmd.Repo, "pr", cmd.Number, "user", cmd.User, "command", cmd.Verb)
	perm, err := c.cfg.Commands.Permission(ctx, cmd.Repo, cmd.User)
	if code := preview.ErrorCode(err); code == preview.EINVALID || code == preview.ENOTFOUND {
		log.Warn("commands: permission cannot be checked; refused", "err", err)
		perm = "none"
	} else if err != nil {
		log.Warn("commands: permission check failed; will retry", "err", err)
		return false
	}
	if perm != "admin" && perm != "maintain" && perm != "write" {
		log.Info("commands: refused: no write access", "permission", perm)
		if cmd.Verb != "approve" { // a label needs no answer
			c.reply(ctx, cmd, fmt.Sprintf("@%s `/preview %s` needs write access to %s; nothing was done.", cmd.User, cmd.Verb, cmd.Repo))
		}
		return true
	}
	if cmd.Verb == "help" {
		c.reply(ctx, cmd, HelpText)
		c.react(ctx, cmd)
		return true
	}
	env, err := c.store.FindEnvironmentByPullRequest(ctx, cmd.Repo, cmd.Number)
	if preview.ErrorCode(err) == preview.ENOTFOUND {
		c.reply(ctx, cmd, fmt.Sprintf("@%s this pull request has no preview environment yet.", cmd.User))
		return true
	} else if err != nil {
		log.Error("commands: load environment", "err", err)
		return false
	}
	_, err = c.store.UpdateEnvironment(ctx, env.Name, func(e *preview.Environment) error {
		return c.applyCommand(e, cmd)
	})
	var refused *errRefused
	if errors.As(err, &refused) {
		c.reply(ctx, cmd, fmt.Sprintf("@%s %s", cmd.User, refused.reply))
		return true
	} else if err != nil {
		log.Error("commands: update environment", "err", err)
		return false
	}
	log.Info("commands: carried out", "environment", env.Name)
	c.react(ctx, cmd)
	c.Nudge(env.Name)
	c.notices.add(env.Name)
	return true
}

// applyCommand changes desired state as cmd asks, by the rules every
// operator action follows (preview.Environment.Operate); it does no I/O.
func (c *Controller) applyCommand(e *preview.Environment, cmd preview.Command) error {
	now := c.cfg.Now().UTC()
	op := preview.Operation{Verb: cmd.Verb, Reason: preview.ReasonCommand}
	switch cmd.Verb {
	case "approve": // a command's own: the label's equivalent
		e.Desired.ApprovedSHA = cmd.HeadSHA
		if e.Desired.PROpen && e.HeadSHA == cmd.HeadSHA {
			e.Desired.Present, e.Desired.Reason = true, preview.ReasonApproved
			e.ExpiresAt = now.Add(c.cfg.TTL)
		}
		e.Requeue(now, c.cfg.MaxAttempts)
		return nil
	case preview.VerbExtend:
		d, err := preview.ParseDuration(cmd.Arg)
		if err != nil || d <= 0 {
			return &errRefused{"`/preview extend` takes a duration such as `48h` or `3d`."}
		}
		op.Duration = d
	}
	switch err := e.Operate(op, now, preview.OperateRules{TTL: c.cfg.TTL, MaxKeep: c.cfg.MaxKeep, MaxAttempts: c.cfg.MaxAttempts}); {
	case errors.Is(err, preview.ErrPullRequestClosed):
		return &errRefused{"the pull request is closed; nothing to redeploy."}
	case errors.Is(err, preview.ErrForkNotApproved):
		return &errRefused{"this pull request comes from a fork: add the label `preview:approved` to build its current commit."}
	case errors.Is(err, preview.ErrBadOperation):
		return &errRefused{"unknown command; `/preview help` lists them."}
	default:
		return err
	}
}

func (c *Controller) reply(ctx context.Context, cmd preview.Command, body string) {
	if err := c.cfg.Commands.Reply(ctx, cmd.Repo, cmd.Number, body); err != nil {
		c.log.Warn("commands: reply", "repo", cmd.Repo, "pr", cmd.Number, "err", err)
	}
}

func (c *Controller) react(ctx context.Context, cmd preview.Command) {
	if cmd.CommentID == 0 {
		return
	}
	if err := c.cfg.Commands.React(ctx, cmd.Repo, cmd.CommentID, "+1"); err != nil {
		c.log.Warn("commands: react", "repo", cmd.Repo, "comment", cmd.CommentID, "err", err)
	}
}
