package provisioner

import (
	"encoding/json"
	"os"
	"strings"
)

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
