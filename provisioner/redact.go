package provisioner

import (
	"encoding/json"
	"os"

	preview "github.com/previewd/previewd"
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
	return preview.Leaves(v)
}
