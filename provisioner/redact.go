package provisioner

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
)

// Redacted is what a run's log and errors show in place of a secret.
const Redacted = "(sensitive)"

// minSecret is the shortest value redacted: shorter ones ("1", "on") would
// blank out ordinary words of the log and carry no secret worth the name.
const minSecret = 4

// newRedactor returns a replacer of every secret (each line of a
// multi-line one) by Redacted, longest first, or nil when there is none.
// Terraform masks sensitive values in what it prints, but not everywhere
// (terraform_data's output attribute loses the mark, a provisioner may echo
// what it was given): a run's log and errors are redacted as well.
func newRedactor(secrets []string) *strings.Replacer {
	var parts []string
	for _, s := range secrets {
		for _, line := range strings.Split(s, "\n") {
			if line = strings.TrimSpace(line); len(line) >= minSecret {
				parts = append(parts, line)
			}
		}
	}
	if len(parts) == 0 {
		return nil
	}
	slices.SortFunc(parts, func(a, b string) int { return len(b) - len(a) })
	parts = slices.Compact(parts)
	pairs := make([]string, 0, 2*len(parts))
	for _, p := range parts {
		pairs = append(pairs, p, Redacted)
	}
	return strings.NewReplacer(pairs...)
}

// redact applies r to s; a nil r changes nothing.
func redact(r *strings.Replacer, s string) string {
	if r == nil {
		return s
	}
	return r.Replace(s)
}

// stateSecrets returns the values of the sensitive outputs recorded in the
// local state file at path: what a destroy or a plan may print of them is
// redacted too. A missing or unreadable state has none.
func stateSecrets(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var state struct {
		Outputs map[string]struct {
			Value     json.RawMessage `json:"value"`
			Sensitive bool            `json:"sensitive"`
		} `json:"outputs"`
	}
	if json.Unmarshal(b, &state) != nil {
		return nil
	}
	var secrets []string
	for _, o := range state.Outputs {
		if o.Sensitive {
			secrets = append(secrets, jsonLeaves(o.Value)...)
		}
	}
	return secrets
}

// jsonLeaves returns the scalar values in a JSON document as text.
func jsonLeaves(raw json.RawMessage) []string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return nil
	}
	return Leaves(v)
}

// Leaves returns the scalar values inside v (strings as they are, numbers
// and booleans as JSON spells them), descending into maps and slices.
func Leaves(v any) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return []string{x}
	case map[string]any:
		var out []string
		for _, e := range x {
			out = append(out, Leaves(e)...)
		}
		return out
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, Leaves(e)...)
		}
		return out
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return nil
		}
		var back any
		if json.Unmarshal(b, &back) == nil {
			switch back.(type) {
			case map[string]any, []any:
				return Leaves(back)
			}
		}
		return []string{strings.Trim(string(b), `"`)}
	}
}
