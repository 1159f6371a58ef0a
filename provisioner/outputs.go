package provisioner

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/hashicorp/terraform-exec/tfexec"
	preview "github.com/previewd/previewd"
)

// Result is what an apply produced.
type Result struct {
	// URL is the value of the module's URL output.
	URL string
	// Outputs holds every output but the sensitive ones; strings as they
	// are, other values JSON-encoded.
	Outputs map[string]string
	// Module is the module's version, when it comes from git.
	Module preview.ModuleVersion
}

// resultFromOutputs builds a Result from `terraform output -json`. The output
// urlOutput must exist and be a non-empty, non-sensitive string; otherwise it
// returns an EINVALID *preview.Error naming it.
func resultFromOutputs(outputs map[string]tfexec.OutputMeta, urlOutput string) (Result, error) {
	res := Result{Outputs: make(map[string]string, len(outputs))}
	for name, o := range outputs {
		if o.Sensitive {
			continue
		}
		v, err := outputString(o.Value)
		if err != nil {
			return Result{}, fmt.Errorf("output %q: %w", name, err)
		}
		res.Outputs[name] = v
	}
	o, ok := outputs[urlOutput]
	switch {
	case !ok:
		return Result{}, preview.Errorf(preview.EINVALID, "module has no output %q holding the environment's URL", urlOutput)
	case o.Sensitive:
		return Result{}, preview.Errorf(preview.EINVALID, "module output %q is sensitive; it cannot be shown as the environment's URL", urlOutput)
	}
	var url string
	if err := json.Unmarshal(o.Value, &url); err != nil {
		return Result{}, preview.Errorf(preview.EINVALID, "module output %q is not a string", urlOutput)
	}
	if url == "" {
		return Result{}, preview.Errorf(preview.EINVALID, "module output %q is empty", urlOutput)
	}
	res.URL = url
	return res, nil
}

// outputString returns a JSON string value unquoted and any other value as
// compact JSON.
func outputString(raw json.RawMessage) (string, error) {
	var b bytes.Buffer
	if raw = bytes.TrimSpace(raw); len(raw) > 0 && raw[0] == '"' {
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	}
	if err := json.Compact(&b, raw); err != nil {
		return "", err
	}
	return b.String(), nil
}
