package provisioner

import (
	"encoding/json"
	"maps"
	"testing"

	"github.com/hashicorp/terraform-exec/tfexec"
	preview "github.com/previewd/previewd"
)

func TestResultFromOutputs(t *testing.T) {
	out := func(v string, sensitive bool) tfexec.OutputMeta {
		return tfexec.OutputMeta{Value: json.RawMessage(v), Sensitive: sensitive}
	}
	outputs := map[string]tfexec.OutputMeta{
		"url":      out(`"http://127.0.0.1:20001/"`, false),
		"count":    out(`3`, false),
		"urls":     out(`[ "a", "b" ]`, false),
		"flags":    out(`{"x": true}`, false),
		"password": out(`"hunter2"`, true),
		"site":     out(`"https://example.com"`, false),
		"nothing":  out(`null`, false),
	}
	got, err := resultFromOutputs(outputs, "url")
	if err != nil {
		t.Fatal(err)
	}
	want := Result{URL: "http://127.0.0.1:20001/", Outputs: map[string]string{
		"url": "http://127.0.0.1:20001/", "count": "3", "urls": `["a","b"]`, "flags": `{"x":true}`,
		"site": "https://example.com", "nothing": "null",
	}}
	if got.URL != want.URL || !maps.Equal(got.Outputs, want.Outputs) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if got, err := resultFromOutputs(outputs, "site"); err != nil || got.URL != "https://example.com" {
		t.Errorf("URL output site: got %q, %v", got.URL, err)
	}

	for _, tt := range []struct{ urlOutput, want string }{
		{"missing", `module has no output "missing" holding the environment's URL`},
		{"password", `module output "password" is sensitive; it cannot be shown as the environment's URL`},
		{"count", `module output "count" is not a string`},
	} {
		_, err := resultFromOutputs(outputs, tt.urlOutput)
		if preview.ErrorCode(err) != preview.EINVALID || preview.ErrorMessage(err) != tt.want {
			t.Errorf("URL output %s: got %v, want EINVALID %q", tt.urlOutput, err, tt.want)
		}
	}
	_, err = resultFromOutputs(map[string]tfexec.OutputMeta{"url": out(`""`, false)}, "url")
	if preview.ErrorCode(err) != preview.EINVALID {
		t.Errorf("empty URL: got %v, want EINVALID", err)
	}
}
