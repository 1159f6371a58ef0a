package preview

import "time"

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
}

// ParityStatus is the verdict of a parity check.
type ParityStatus string

// The verdicts.
const (
	ParityOK    ParityStatus = "ok"
	ParityDrift ParityStatus = "drift"
)

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
}

// Verdict returns ParityDrift when any finding is undeclared.
func Verdict(findings []Finding) ParityStatus {
	for _, f := range findings {
		if !f.Declared {
			return ParityDrift
		}
	}
	return ParityOK
}
