package provisioner

import (
	"encoding/json"

	preview "github.com/previewd/previewd"
)

// stateSecrets returns the values of the sensitive outputs recorded in the
// local state file at path: what a destroy or a plan may print of them is
// redacted too. A missing or unreadable state has none.
func stateSecrets(path string) []string {
	outputs, err := stateOutputs(path)
	if err != nil {
		return nil
	}
	var secrets []string
	for _, o := range outputs {
		var v any
		if o.Sensitive && json.Unmarshal(o.Value, &v) == nil {
			secrets = append(secrets, preview.Leaves(v)...)
		}
	}
	return secrets
}
