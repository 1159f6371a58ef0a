package parity

// What `previewd parity` decides beside the checks: which checks a scratch
// preview skips and why, what it prints, and its exit status. Its flags
// are cmd/previewd's; internal/paritycheck builds what it runs with (the
// configuration's modules, a provisioner in a temporary directory).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	preview "github.com/previewd/previewd"
)

// Exit statuses of `previewd parity`.
const (
	ExitParity = 0 // differs from production only where declared; warnings too
	ExitDrift  = 1 // undeclared drift
	ExitError  = 2 // the check could not run
)

// ScratchEnvironment names the scratch preview `previewd parity` plans.
const ScratchEnvironment = "parity-check"

// ScratchOptions says what a check of a scratch preview looks at.
type ScratchOptions struct {
	CheckOptions
	// Backend is the type of the module's state backend ("s3", "pg" …).
	Backend string
	// Refused reports whether a plan's error is the state backend refusing
	// Terraform rather than the module failing (provisioner.State.Refused),
	// given what Terraform printed; nil never.
	Refused func(err error, tfLog string) bool
}

// Output is what `previewd parity` prints: the report, and the checks it
// skipped.
type Output struct {
	preview.ParityReport
	Skipped *Skipped `json:"skipped,omitempty"`
	// Plans is why the plans could not run, when the report does not say
	// it (its status is drift, not an error).
	Plans error `json:"-"`
}

// CheckScratch runs every check of r for the scratch preview opts.Env and
// returns the report and the checks it skipped: the plans' with
// SkipPlans (--plan=false), or when the state backend refuses Terraform.
// Then the report is of the other checks, and, unless they found drift,
// its status is an error: parity is not judged without the plans unless
// asked to be. Terraform's output goes to tfLog.
func (c *Checker) CheckScratch(ctx context.Context, r Repository, opts ScratchOptions, tfLog *bytes.Buffer) (Output, error) {
	report, err := c.Check(ctx, r, opts.CheckOptions, tfLog)
	if opts.SkipPlans {
		return Output{ParityReport: report, Skipped: &Skipped{Checks: PlanChecks, Because: "--plan=false"}}, err
	}
	if err == nil || opts.Refused == nil || !opts.Refused(err, tfLog.String()) {
		return Output{ParityReport: report}, err
	}
	inputs := opts.CheckOptions
	inputs.SkipPlans = true
	report, inputErr := c.Check(ctx, r, inputs, io.Discard)
	if inputErr != nil {
		return Output{}, errors.Join(err, inputErr)
	}
	out := Output{ParityReport: report, Skipped: &Skipped{Checks: PlanChecks,
		Because: fmt.Sprintf("the state backend %q refused terraform: are its credentials missing?", opts.Backend)}}
	if report.Status == preview.ParityDrift {
		out.Plans = err
	} else {
		out.Status, out.Error = preview.ParityError, "the plans could not run: "+err.Error()
	}
	return out, nil
}

// Print writes o as text fitting width columns (see RenderText), or as
// indented JSON.
func (o Output) Print(w io.Writer, asJSON bool, width int) error {
	if !asJSON {
		opts := TextOptions{Width: width}
		if o.Skipped != nil {
			opts.Skipped = *o.Skipped
		}
		return RenderText(w, o.ParityReport, opts)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(o)
}

// ExitStatus is the exit status of o's verdict: ExitParity, ExitDrift or
// ExitError. A warning (deploying would revert a change made to
// production) is no drift and leaves it ExitParity.
func (o Output) ExitStatus() int {
	switch o.Status {
	case preview.ParityDrift:
		return ExitDrift
	case preview.ParityError:
		return ExitError
	}
	return ExitParity
}

// TerminalWidth is the width a text report fits: $COLUMNS, else
// DefaultWidth.
func TerminalWidth(getenv func(string) (string, bool)) int {
	if v, ok := getenv("COLUMNS"); ok {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
			return n
		}
	}
	return DefaultWidth
}

// ExtraInputs reads the inputs a preview passes on top of its own:
// --preview-var-file files, then --preview-var name=value pairs. A value
// is a string unless it starts with { or [, when it is JSON.
func ExtraInputs(files, vars []string) (map[string]any, error) {
	extra, err := LoadVarFiles(files...)
	if err != nil {
		return nil, fmt.Errorf("--preview-var-file: %w", err)
	}
	for _, kv := range vars {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--preview-var %q: not name=value", kv)
		}
		extra[name] = value
		if strings.HasPrefix(value, "{") || strings.HasPrefix(value, "[") {
			var v any
			if err := json.Unmarshal([]byte(value), &v); err != nil {
				return nil, fmt.Errorf("--preview-var %s: not JSON: %v", name, err)
			}
			extra[name] = v
		}
	}
	return extra, nil
}
