package webhooks

import (
	"context"
	"errors"
	"fmt"

	preview "github.com/previewd/previewd"
)

// Recorder durably records a pull request's desired state, de-duplicating on
// the delivery ID.
type Recorder interface {
	RecordPullRequest(ctx context.Context, delivery string, pr preview.PullRequest) (preview.RecordResult, error)
}

// CommandRecorder durably records a comment command for the controller to
// carry out, de-duplicating on the delivery ID.
type CommandRecorder interface {
	RecordCommand(ctx context.Context, delivery string, cmd preview.Command) (preview.RecordResult, error)
}

// Intake verifies, parses and records deliveries. It is safe for concurrent
// use.
type Intake struct {
	secret   []byte
	recorder Recorder
	commands CommandRecorder // nil: commands are acknowledged and dropped
}

// NewIntake returns an Intake that checks signatures with secret and records
// desired-state changes with recorder.
func NewIntake(secret []byte, recorder Recorder) *Intake {
	return &Intake{secret: secret, recorder: recorder}
}

// WithCommands makes in record comment commands (KindCommand) with r and
// returns in. Call it before in receives anything; without it commands are
// answered 2xx and dropped, as before previewd knew them.
func (in *Intake) WithCommands(r CommandRecorder) *Intake {
	in.commands = r
	return in
}

// Receive handles one delivery: the signature is checked first (an
// EUNAUTHORIZED error when missing or wrong, also when no secret is
// configured), then the body parsed (EINVALID when it is not the event it
// claims to be), then what it changes recorded and fsynced: pull request
// state with the Recorder, commands with the CommandRecorder (see
// WithCommands). It returns only after the change is durable; a store
// failure is returned wrapped (the caller answers 5xx so GitHub may
// redeliver). Ignored events return a zero result.
func (in *Intake) Receive(ctx context.Context, d preview.Delivery) (preview.RecordResult, error) {
	if err := VerifySignature(in.secret, d.Body, d.Signature); errors.Is(err, ErrNoSecret) {
		return preview.RecordResult{}, preview.Errorf(preview.EUNAUTHORIZED, "no webhook secret is configured")
	} else if err != nil {
		return preview.RecordResult{}, err
	}
	ev, err := Parse(d.Event, d.Body)
	if err != nil {
		return preview.RecordResult{}, err
	}
	var res preview.RecordResult
	switch {
	case ev.Kind == KindPullRequest:
		res, err = in.recorder.RecordPullRequest(ctx, d.ID, ev.PullRequest)
	case ev.Kind == KindCommand && in.commands != nil:
		res, err = in.commands.RecordCommand(ctx, d.ID, ev.Command)
	}
	if err != nil {
		return res, fmt.Errorf("delivery %s: %w", d.ID, err)
	}
	return res, nil
}
