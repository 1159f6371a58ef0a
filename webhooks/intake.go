package webhooks

import (
	"context"
	"errors"
	"fmt"

	preview "github.com/previewd/previewd"
)

// Recorder durably records what deliveries change, de-duplicating on the
// delivery ID: a pull request's desired state, and commands (comment
// commands, approvals) for the controller to check and carry out.
type Recorder interface {
	RecordPullRequest(ctx context.Context, delivery string, pr preview.PullRequest) (preview.RecordResult, error)
	RecordCommand(ctx context.Context, delivery string, cmd preview.Command) (bool, error)
}

// Intake verifies, parses and records deliveries. It is safe for concurrent
// use.
type Intake struct {
	secret   []byte
	recorder Recorder
	serves   func(repo string) bool // nil: every repository
}

// NewIntake returns an Intake that checks signatures with secret and records
// with recorder. serves says which repositories previewd acts on; a delivery
// for any other is acknowledged and recorded nowhere. A nil serves accepts
// every repository.
func NewIntake(secret []byte, recorder Recorder, serves func(repo string) bool) *Intake {
	return &Intake{secret: secret, recorder: recorder, serves: serves}
}

func (in *Intake) served(repo string) bool {
	return in.serves == nil || in.serves(repo)
}

// CheckHeaders is the package's CheckHeaders: what a server checks before
// it reads a body.
func (in *Intake) CheckHeaders(d preview.Delivery) error { return CheckHeaders(d) }

// Receive handles one delivery: its headers (CheckHeaders) and the
// signature are checked first (an
// EUNAUTHORIZED error when missing or wrong, also when no secret is
// configured), then the body parsed (EINVALID when it is not the event it
// claims to be), then what it changes recorded and fsynced. A repository
// previewd does not serve is ignored: nothing is recorded, not even the
// delivery ID. A command, and the approval label on a fork's pull request,
// are queued: their users' access is checked later, off this path. It returns only after the change is durable; a store
// failure is returned wrapped (the caller answers 5xx so GitHub may
// redeliver). Ignored events return a zero result.
func (in *Intake) Receive(ctx context.Context, d preview.Delivery) (preview.Receipt, error) {
	if err := CheckHeaders(d); err != nil {
		return preview.Receipt{}, err
	}
	if err := VerifySignature(in.secret, d.Body, d.Signature); errors.Is(err, ErrNoSecret) {
		return preview.Receipt{}, preview.Errorf(preview.EUNAUTHORIZED, "no webhook secret is configured")
	} else if err != nil {
		return preview.Receipt{}, err
	}
	ev, err := Parse(d.Event, d.Body)
	if err != nil {
		return preview.Receipt{}, err
	}
	var res preview.Receipt
	switch {
	case ev.Kind == KindPullRequest && in.served(ev.PullRequest.Repo):
		res, err = in.pullRequest(ctx, d.ID, ev)
	case ev.Kind == KindCommand && in.served(ev.Command.Repo):
		res.CommandQueued, err = in.recorder.RecordCommand(ctx, d.ID, ev.Command)
		res.Duplicate = err == nil && !res.CommandQueued
	case ev.Kind == KindChecks && in.served(ev.Checks.Repo):
		res.ChecksOf = ev.Checks // nothing to record: the checks are read again
	case ev.Kind == KindPush:
		// Any repository: production's module lives in one previewd need
		// not serve. Nothing is recorded; the modules are resolved again.
		res.Pushed = ev.Pushed
	}
	if err != nil {
		return res, fmt.Errorf("delivery %s: %w", d.ID, err)
	}
	return res, nil
}

// pullRequest records a pull request's state and, when the approval label
// was just added to a fork's pull request, queues the approval of its head.
func (in *Intake) pullRequest(ctx context.Context, delivery string, ev Event) (preview.Receipt, error) {
	pr := ev.PullRequest
	var res preview.Receipt
	var err error
	res.RecordResult, err = in.recorder.RecordPullRequest(ctx, delivery, pr)
	if err != nil || ev.Action != "labeled" || ev.Label != preview.ApprovalLabel || !pr.Fork {
		return res, err
	}
	// The approval has its own de-duplication key, so a redelivery after a
	// failed second write still queues it, and only once.
	key := ""
	if delivery != "" {
		key = delivery + "/approve"
	}
	res.CommandQueued, err = in.recorder.RecordCommand(ctx, key, preview.Command{
		Repo: pr.Repo, Number: pr.Number, User: ev.Sender, Verb: preview.VerbApprove, HeadSHA: pr.HeadSHA, InstallationID: pr.InstallationID,
	})
	return res, err
}
