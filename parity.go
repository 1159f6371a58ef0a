package preview

import (
	"errors"
	"time"
)

// FindingKind says what a parity finding compares.
type FindingKind string

// The kinds of parity finding.
const (
	FindingVariable        FindingKind = "variable"
	FindingConfigKey       FindingKind = "config_key"
	FindingResource        FindingKind = "resource"
	FindingProviderVersion FindingKind = "provider_version"
	FindingToggle          FindingKind = "toggle"
	FindingLiveDrift       FindingKind = "live_drift"
	// FindingAttribute is a planned attribute value (or a root output)
	// that differs between the two plans.
	FindingAttribute FindingKind = "attribute"
	// FindingEngineVersion is the Terraform or OpenTofu previewd runs
	// against what production uses.
	FindingEngineVersion FindingKind = "engine_version"
	// FindingRevertsProduction warns that the preview sets an attribute
	// to the module's value where production runs another, changed
	// outside Terraform (a hotfix): deploying would set it back. A
	// warning, never drift of the preview.
	FindingRevertsProduction FindingKind = "reverts_production"
)

// Reasons is the vocabulary a declared difference must use.
var Reasons = []string{"scale", "data", "external-integration", "cost", "security"}

// Difference is one declared way previews differ from production.
type Difference struct {
	Variable string `json:"variable" yaml:"variable"`
	Value    any    `json:"value" yaml:"value"`
	Reason   string `json:"reason" yaml:"reason"`
}

// Finding is one difference between a preview and production. Declared
// findings are intended; undeclared ones are drift. Production and Preview
// never hold a sensitive value: such values are compared, then shown as
// "(sensitive)".
type Finding struct {
	Kind       FindingKind `json:"kind"`
	Subject    string      `json:"subject"`
	Production string      `json:"production"`
	Preview    string      `json:"preview"`
	Declared   bool        `json:"declared"`
	Reason     string      `json:"reason"`
	// Location is where the differing value is written in the module
	// ("main.tf:12"), when known.
	Location string `json:"location,omitempty"`
	// Identity marks a value that differs only by who the environment is
	// (production's name replaced by the preview's): declared, counted,
	// and listed only on request.
	Identity bool `json:"identity,omitempty"`
	// Warning marks a finding that is no parity failure of the preview
	// (FindingRevertsProduction): shown, never counted as drift.
	Warning bool `json:"warning,omitempty"`
}

// ParityStatus is the verdict of a parity check (ok or drift), and what is
// known of an environment's parity (ParityVerdict: also error or
// unchecked).
type ParityStatus string

// The verdicts.
const (
	ParityOK    ParityStatus = "ok"
	ParityDrift ParityStatus = "drift"
	// ParityError: the check could not run (ParityReport.Error says why).
	ParityError ParityStatus = "error"
	// ParityUnchecked: no check at the environment's applied head yet.
	ParityUnchecked ParityStatus = "unchecked"
)

// ParityVerdicts lists every verdict ParityVerdict returns.
var ParityVerdicts = []ParityStatus{ParityOK, ParityDrift, ParityError, ParityUnchecked}

// ParityVerdict is what is known of a ready environment's parity at its
// applied head: ParityOK, ParityDrift, ParityError (the check could not
// run), or ParityUnchecked (no check at this head yet).
func (e Environment) ParityVerdict() ParityStatus {
	if e.Parity.CheckedAt.IsZero() || e.Parity.SHA != e.AppliedSHA || e.Parity.Generation != e.AppliedGeneration {
		return ParityUnchecked
	}
	return e.Parity.Verdict()
}

// ErrNothingApplied is a re-check of an environment that is not ready:
// there is nothing applied to compare with production.
var ErrNothingApplied = errors.New("nothing is applied to check")

// Recheck makes the parity check of the applied commit due again (its
// verdict forgotten), without applying anything.
func (e *Environment) Recheck() error {
	if e.Status != StatusReady || e.AppliedSHA == "" {
		return ErrNothingApplied
	}
	e.Parity = ParityReport{}
	return nil
}

// Verdict is what the check said: ParityError when it could not run,
// ParityDrift when it found drift, ParityOK otherwise.
func (r ParityReport) Verdict() ParityStatus {
	switch {
	case r.Error != "":
		return ParityError
	case r.Status == ParityDrift:
		return ParityDrift
	default:
		return ParityOK
	}
}

// ParityReport is the result of comparing a preview with production.
type ParityReport struct {
	Status    ParityStatus `json:"status"`
	CheckedAt time.Time    `json:"checked_at"`
	Findings  []Finding    `json:"findings"`
	// SHA and Generation are the applied commit and generation the check
	// ran on; Error, when set, says why the check could not run (Status and
	// Findings are then empty).
	SHA        string `json:"sha,omitempty"`
	Generation int64  `json:"generation,omitempty"`
	Error      string `json:"error,omitempty"`
	// IdentityDifferences counts the attribute values that differ only by
	// the environment's name; UnknownValues those not compared because a
	// plan cannot know them until apply.
	IdentityDifferences int `json:"identity_differences,omitempty"`
	UnknownValues       int `json:"unknown_values,omitempty"`
}

// WithoutIdentity returns the report with its identity findings left out,
// as it is shown unless all findings are asked for.
func (r ParityReport) WithoutIdentity() ParityReport {
	kept := make([]Finding, 0, len(r.Findings))
	for _, f := range r.Findings {
		if !f.Identity {
			kept = append(kept, f)
		}
	}
	r.Findings = kept
	return r
}

// Verdict returns ParityDrift when any finding is undeclared.
func Verdict(findings []Finding) ParityStatus {
	for _, f := range findings {
		if f.Standing() == StandingDrift {
			return ParityDrift
		}
	}
	return ParityOK
}

// Standing is what a finding is, in the order findings are listed: drift
// (undeclared), a warning (neither drift nor declared: deploying would
// revert a change made to production), or declared.
type Standing int

// The standings, in listing order.
const (
	StandingDrift Standing = iota
	StandingWarning
	StandingDeclared
)

// Standing is f's standing: every renderer and the verdict ask it.
func (f Finding) Standing() Standing {
	switch {
	case f.Warning:
		return StandingWarning
	case f.Declared:
		return StandingDeclared
	}
	return StandingDrift
}
