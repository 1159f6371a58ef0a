package github

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// TestOpenAPIValidator proves the validator that checks every request of
// these tests catches what it claims to, on GitHub's real description.
func TestOpenAPIValidator(t *testing.T) {
	s := loadSpec(t)
	tests := []struct {
		name   string
		method string
		path   string
		query  string
		body   string
		want   []string // substrings of the problems; none means valid
	}{
		{"valid create", "POST", "/repos/o/r/issues/42/comments", "", `{"body":"hi"}`, nil},
		{"valid edit", "PATCH", "/repos/o/r/issues/comments/7", "", `{"body":"hi"}`, nil},
		{"valid list", "GET", "/repos/o/r/issues/42/comments", "per_page=100&page=2", "", nil},
		{"valid pulls", "GET", "/repos/o/r/pulls", "state=open&per_page=100", "", nil},
		{"valid deployment", "POST", "/repos/o/r/deployments", "", `{"ref":"abc","environment":"e","transient_environment":true,"production_environment":false,"auto_merge":false,"required_contexts":[],"description":"d"}`, nil},
		{"valid deployment status", "POST", "/repos/o/r/deployments/5/statuses", "", `{"state":"success","environment_url":"https://e","log_url":"https://l","description":"d"}`, nil},
		{"valid commit status", "POST", "/repos/o/r/statuses/abc123", "", `{"state":"pending","target_url":"https://l","description":"d","context":"previewd"}`, nil},
		{"valid permission", "GET", "/repos/o/r/collaborators/mona/permission", "", "", nil},
		{"valid installation token", "POST", "/app/installations/5/access_tokens", "", `{}`, nil},
		{"misspelled deployment field", "POST", "/repos/o/r/deployments", "", `{"ref":"abc","transient_enviroment":true}`,
			[]string{`unknown property "transient_enviroment"`}},
		{"required_contexts of the wrong type", "POST", "/repos/o/r/deployments", "", `{"ref":"abc","required_contexts":"none"}`,
			[]string{"body.required_contexts: got string, want array"}},
		{"deployment state outside the enum", "POST", "/repos/o/r/deployments/5/statuses", "", `{"state":"done"}`,
			[]string{"want one of"}},
		{"reaction outside the enum", "POST", "/repos/o/r/issues/comments/5/reactions", "", `{"content":"thumbsup"}`,
			[]string{"want one of"}},
		{"a null token request", "POST", "/app/installations/5/access_tokens", "", `null`,
			[]string{"got null, want object"}},
		{"wrong field name", "POST", "/repos/o/r/issues/42/comments", "", `{"bdy":"hi"}`,
			[]string{`required property "body" is missing`, `unknown property "bdy"`}},
		{"extra field", "PATCH", "/repos/o/r/issues/comments/7", "", `{"body":"hi","title":"x"}`,
			[]string{`unknown property "title"`}},
		{"wrong type", "POST", "/repos/o/r/issues/42/comments", "", `{"body":42}`,
			[]string{"body.body: got integer, want string"}},
		{"wrong type in an object", "POST", "/repos/o/r/issues/42/comments", "", `["hi"]`,
			[]string{"body: got array, want object"}},
		{"missing body", "POST", "/repos/o/r/issues/42/comments", "", "",
			[]string{"request body is required"}},
		{"body where none is taken", "GET", "/repos/o/r/pulls/1", "", `{"x":1}`,
			[]string{"takes none"}},
		{"unknown query parameter", "GET", "/repos/o/r/issues/42/comments", "sort=created", "",
			[]string{`query parameter "sort"`}},
		{"query value of the wrong type", "GET", "/repos/o/r/pulls", "per_page=many", "",
			[]string{"per_page: got \"many\", want integer"}},
		{"query value outside the enum", "GET", "/repos/o/r/pulls", "state=merged", "",
			[]string{"want one of [open closed all]"}},
		{"path parameter of the wrong type", "PATCH", "/repos/o/r/issues/comments/abc", "", `{"body":"hi"}`,
			[]string{"comment_id: got \"abc\", want integer"}},
		{"unknown path", "GET", "/repos/o/r/nonsense", "", "",
			[]string{"no operation GET /repos/o/r/nonsense"}},
		{"unknown method", "PUT", "/repos/o/r/issues/comments/7", "", "",
			[]string{"no operation PUT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			query, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			got := s.checkRequest(tt.method, tt.path, query, []byte(tt.body))
			if len(tt.want) == 0 && len(got) > 0 {
				t.Errorf("problems = %q, want none", got)
			}
			if len(tt.want) > 0 && len(got) == 0 {
				t.Errorf("no problems, want %q", tt.want)
			}
			joined := strings.Join(got, "\n")
			for _, w := range tt.want {
				if !strings.Contains(joined, w) {
					t.Errorf("problems = %q, want one containing %q", got, w)
				}
			}
		})
	}
}

// TestOpenAPISchemaRules checks the schema rules on hand-written schemas:
// additionalProperties in all three forms, nullable, allOf and oneOf.
func TestOpenAPISchemaRules(t *testing.T) {
	s := &openAPI{root: map[string]any{"components": map[string]any{"schemas": map[string]any{
		"name": map[string]any{"type": "string"},
	}}}}
	obj := func(extra any) map[string]any {
		m := map[string]any{"type": "object", "properties": map[string]any{
			"name": map[string]any{"$ref": "#/components/schemas/name"},
			"size": map[string]any{"type": "integer", "nullable": true},
		}}
		if extra != nil {
			m["additionalProperties"] = extra
		}
		return m
	}
	tests := []struct {
		name   string
		schema map[string]any
		value  any
		want   string // a substring of the problems; "" means valid
	}{
		{"additionalProperties false", obj(false), map[string]any{"name": "a", "x": true}, `unknown property "x"`},
		{"additionalProperties true", obj(true), map[string]any{"name": "a", "x": true}, ""},
		{"additionalProperties schema", obj(map[string]any{"type": "boolean"}), map[string]any{"x": "no"}, "body.x: got string, want boolean"},
		{"$ref resolved", obj(nil), map[string]any{"name": true}, "body.name: got boolean, want string"},
		{"nullable", obj(nil), map[string]any{"size": nil}, ""},
		{"not nullable", obj(nil), map[string]any{"name": nil}, "body.name: got null, want string"},
		{"allOf merges properties", map[string]any{"allOf": []any{obj(nil), map[string]any{"properties": map[string]any{"more": map[string]any{"type": "string"}}}}},
			map[string]any{"name": "a", "more": "b"}, ""},
		{"oneOf accepts either", map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}}, true, "matches none of 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.Join(s.checkValue(tt.schema, jsonValue(t, tt.value), "body"), "\n")
			if tt.want == "" && got != "" {
				t.Errorf("problems = %q, want none", got)
			}
			if tt.want != "" && !strings.Contains(got, tt.want) {
				t.Errorf("problems = %q, want one containing %q", got, tt.want)
			}
		})
	}
}

// jsonValue turns Go test values into what the validator sees after
// decoding JSON with UseNumber.
func jsonValue(t *testing.T, v any) any {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			out[k] = jsonValue(t, x)
		}
		return out
	case int:
		return json.Number(strconv.Itoa(v))
	}
	return v
}
