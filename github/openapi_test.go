package github

// A small validator of requests against GitHub's official OpenAPI
// description (the npm package @octokit/openapi), so the fake server in
// these tests cannot drift from what GitHub accepts. It checks that the
// method and path name an operation, that path and query parameters are
// declared with the right primitive type and enum, and that a JSON body has
// the required properties, no undeclared ones, and the right primitive types.
// GitHub's description leaves additionalProperties unset almost everywhere
// while GitHub silently ignores unknown fields, which is how a misspelled
// field goes unnoticed; so here an unset additionalProperties counts as false.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// specVersion is the @octokit/openapi version `make deps` installs.
const specVersion = "23.0.2"

var (
	specOnce sync.Once
	spec     *openAPI
	specErr  error
)

// loadSpec returns GitHub's api.github.com OpenAPI description, read once
// from $PREVIEWD_OPENAPI_SPEC or the npm cache under the repository root. A
// missing file fails the test: conformance is never skipped.
func loadSpec(t *testing.T) *openAPI {
	t.Helper()
	specOnce.Do(func() {
		path := specPath()
		data, err := os.ReadFile(path)
		if err != nil {
			specErr = fmt.Errorf("GitHub's OpenAPI description is missing (%w); run `make deps` "+
				"(npm install --prefix .cache/npm @octokit/openapi@%s) or set PREVIEWD_OPENAPI_SPEC", err, specVersion)
			return
		}
		var root map[string]any
		if err := json.Unmarshal(data, &root); err != nil {
			specErr = fmt.Errorf("parse OpenAPI description %s: %w", path, err)
			return
		}
		spec = &openAPI{root: root}
	})
	if specErr != nil {
		t.Fatal(specErr)
	}
	return spec
}

func specPath() string {
	if p := os.Getenv("PREVIEWD_OPENAPI_SPEC"); p != "" {
		return p
	}
	root, _ := filepath.Abs(".")
	for dir := root; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			root = dir
			break
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	return filepath.Join(root, ".cache", "npm", "node_modules", "@octokit", "openapi", "generated", "api.github.com.json")
}

// checkConformance reports, as test errors, every way reqs break GitHub's
// OpenAPI description. prefix is the API's path prefix ("/api/v3" on GHES).
func checkConformance(t *testing.T, prefix string, reqs []recordedRequest) {
	t.Helper()
	s := loadSpec(t)
	for _, r := range reqs {
		for _, problem := range s.checkRequest(r.Method, strings.TrimPrefix(r.Path, prefix), r.Query, r.Body) {
			t.Errorf("OpenAPI: %s %s: %s", r.Method, r.Path, problem)
		}
	}
}

type openAPI struct{ root map[string]any }

// operation is one method on one path template of the description.
type operation struct {
	template string
	op       map[string]any
	params   []map[string]any // the operation's and its path's, resolved
}

// checkRequest returns the problems of one request; none when it conforms.
func (s *openAPI) checkRequest(method, path string, query url.Values, body []byte) []string {
	op, err := s.findOperation(method, path)
	if err != nil {
		return []string{err.Error()}
	}
	problems := s.checkPathParams(op, path)
	problems = append(problems, s.checkQuery(op, query)...)
	return append(problems, s.checkBody(op, body)...)
}

// findOperation finds the operation for method and path, preferring the
// template with the most literal segments (/issues/comments over
// /issues/{issue_number}).
func (s *openAPI) findOperation(method, path string) (*operation, error) {
	paths, _ := s.root["paths"].(map[string]any)
	best, bestLiterals := "", -1
	for template, item := range paths {
		if _, ok := item.(map[string]any)[strings.ToLower(method)]; !ok {
			continue
		}
		if n, ok := matchTemplate(template, path); ok && n > bestLiterals {
			best, bestLiterals = template, n
		}
	}
	if best == "" {
		return nil, fmt.Errorf("no operation %s %s in GitHub's description", method, path)
	}
	item := paths[best].(map[string]any)
	op := &operation{template: best, op: item[strings.ToLower(method)].(map[string]any)}
	for _, list := range []any{item["parameters"], op.op["parameters"]} {
		params, _ := list.([]any)
		for _, p := range params {
			op.params = append(op.params, s.resolve(p))
		}
	}
	return op, nil
}

// matchTemplate reports whether path fits template, and how many of its
// segments are literal.
func matchTemplate(template, path string) (literals int, ok bool) {
	ts, ps := strings.Split(template, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		return 0, false
	}
	for i := range ts {
		switch {
		case strings.HasPrefix(ts[i], "{") && strings.HasSuffix(ts[i], "}"):
			if ps[i] == "" {
				return 0, false
			}
		case ts[i] == ps[i]:
			literals++
		default:
			return 0, false
		}
	}
	return literals, true
}

func (op *operation) param(in, name string) map[string]any {
	for _, p := range op.params {
		if p["in"] == in && p["name"] == name {
			return p
		}
	}
	return nil
}

func (s *openAPI) checkPathParams(op *operation, path string) []string {
	var problems []string
	ts, ps := strings.Split(op.template, "/"), strings.Split(path, "/")
	for i, seg := range ts {
		name, ok := strings.CutPrefix(seg, "{")
		if !ok {
			continue
		}
		name = strings.TrimSuffix(name, "}")
		value, _ := url.PathUnescape(ps[i])
		p := op.param("path", name)
		if p == nil {
			problems = append(problems, fmt.Sprintf("path parameter %s is not declared", name))
			continue
		}
		problems = append(problems, s.checkParamValue(p, value)...)
	}
	return problems
}

func (s *openAPI) checkQuery(op *operation, query url.Values) []string {
	var problems []string
	for _, name := range sortedKeys(query) {
		p := op.param("query", name)
		if p == nil {
			problems = append(problems, fmt.Sprintf("query parameter %q is not a parameter of %s", name, op.op["operationId"]))
			continue
		}
		for _, v := range query[name] {
			problems = append(problems, s.checkParamValue(p, v)...)
		}
	}
	return problems
}

// checkParamValue checks a path or query value against the parameter's
// schema: its primitive type and its enum.
func (s *openAPI) checkParamValue(p map[string]any, value string) []string {
	schema := s.resolve(p["schema"])
	at := fmt.Sprintf("%s parameter %s", p["in"], p["name"])
	var v any = value
	switch firstType(schema) {
	case "integer", "number":
		if _, err := strconv.ParseFloat(value, 64); err != nil {
			return []string{fmt.Sprintf("%s: got %q, want %s", at, value, firstType(schema))}
		}
		v = json.Number(value)
	case "boolean":
		b, err := strconv.ParseBool(value)
		if err != nil {
			return []string{fmt.Sprintf("%s: got %q, want boolean", at, value)}
		}
		v = b
	}
	return s.checkValue(schema, v, at)
}

func (s *openAPI) checkBody(op *operation, body []byte) []string {
	rb := s.resolve(op.op["requestBody"])
	if len(bytes.TrimSpace(body)) == 0 {
		if rb["required"] == true {
			return []string{"the request body is required"}
		}
		return nil
	}
	if rb == nil {
		return []string{fmt.Sprintf("sends a body but %s takes none", op.op["operationId"])}
	}
	content, _ := rb["content"].(map[string]any)
	media := s.resolve(content["application/json"])
	if media == nil {
		return []string{"the operation takes no application/json body"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return []string{fmt.Sprintf("body is not JSON: %v", err)}
	}
	return s.checkValue(s.resolve(media["schema"]), v, "body")
}

// checkValue validates v against schema: composition, null, type, enum,
// then object properties or array items.
func (s *openAPI) checkValue(schema map[string]any, v any, at string) []string {
	if schema == nil {
		return nil
	}
	if all, ok := schema["allOf"].([]any); ok {
		return s.checkValue(s.mergeAllOf(schema, all), v, at)
	}
	for _, key := range []string{"oneOf", "anyOf"} {
		if alts, ok := schema[key].([]any); ok {
			return s.checkAlternatives(alts, v, at)
		}
	}
	if v == nil {
		if schema["nullable"] == true || hasType(schema, "null") || firstType(schema) == "" {
			return nil
		}
		return []string{fmt.Sprintf("%s: got null, want %s", at, firstType(schema))}
	}
	got := jsonType(v)
	if want := firstType(schema); want != "" && !hasType(schema, got) && !(got == "integer" && hasType(schema, "number")) {
		return []string{fmt.Sprintf("%s: got %s, want %s", at, got, want)}
	}
	if enum, ok := schema["enum"].([]any); ok && !inEnum(enum, v) {
		return []string{fmt.Sprintf("%s: got %v, want one of %v", at, v, enum)}
	}
	switch v := v.(type) {
	case map[string]any:
		return s.checkObject(schema, v, at)
	case []any:
		var problems []string
		for i, item := range v {
			problems = append(problems, s.checkValue(s.resolve(schema["items"]), item, fmt.Sprintf("%s[%d]", at, i))...)
		}
		return problems
	}
	return nil
}

func (s *openAPI) checkObject(schema, v map[string]any, at string) []string {
	var problems []string
	props, _ := schema["properties"].(map[string]any)
	required, _ := schema["required"].([]any)
	for _, r := range required {
		if _, ok := v[r.(string)]; !ok {
			problems = append(problems, fmt.Sprintf("%s: required property %q is missing", at, r))
		}
	}
	for _, name := range sortedKeys(v) {
		if prop, ok := props[name]; ok {
			problems = append(problems, s.checkValue(s.resolve(prop), v[name], at+"."+name)...)
			continue
		}
		switch extra := schema["additionalProperties"].(type) {
		case bool:
			if !extra {
				problems = append(problems, fmt.Sprintf("%s: unknown property %q", at, name))
			}
		case map[string]any:
			problems = append(problems, s.checkValue(s.resolve(extra), v[name], at+"."+name)...)
		default: // unset: strict where properties are declared, see the top of this file
			if props != nil {
				problems = append(problems, fmt.Sprintf("%s: unknown property %q", at, name))
			}
		}
	}
	return problems
}

func (s *openAPI) checkAlternatives(alts []any, v any, at string) []string {
	var first []string
	for i, alt := range alts {
		problems := s.checkValue(s.resolve(alt), v, at)
		if len(problems) == 0 {
			return nil
		}
		if i == 0 {
			first = problems
		}
	}
	return append([]string{fmt.Sprintf("%s: matches none of %d alternatives; the first says:", at, len(alts))}, first...)
}

// mergeAllOf folds allOf's schemas into one, so properties declared in one
// part are not unknown to another.
func (s *openAPI) mergeAllOf(schema map[string]any, all []any) map[string]any {
	merged := map[string]any{}
	props := map[string]any{}
	var required []any
	for _, part := range append([]any{withoutKey(schema, "allOf")}, all...) {
		p := s.resolve(part)
		for k, v := range p {
			switch k {
			case "properties":
				for name, prop := range v.(map[string]any) {
					props[name] = prop
				}
			case "required":
				required = append(required, v.([]any)...)
			default:
				merged[k] = v
			}
		}
	}
	merged["properties"], merged["required"] = props, required
	return merged
}

// resolve follows $ref pointers (#/components/…) until it reaches an object.
func (s *openAPI) resolve(node any) map[string]any {
	m, _ := node.(map[string]any)
	for i := 0; m != nil && i < 32; i++ {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		var cur any = s.root
		for _, tok := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
			next, _ := cur.(map[string]any)
			cur = next[tok]
		}
		m, _ = cur.(map[string]any)
	}
	return m
}

func jsonType(v any) string {
	switch v := v.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number:
		if strings.ContainsAny(v.String(), ".eE") {
			return "number"
		}
		return "integer"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "null"
}

// types returns a schema's type, a string in OpenAPI 3.0 and a list in 3.1.
func types(schema map[string]any) []string {
	switch t := schema["type"].(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, x := range t {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return nil
}

func firstType(schema map[string]any) string {
	if t := types(schema); len(t) > 0 {
		return t[0]
	}
	return ""
}

func hasType(schema map[string]any, want string) bool {
	for _, t := range types(schema) {
		if t == want {
			return true
		}
	}
	return false
}

func inEnum(enum []any, v any) bool {
	for _, e := range enum {
		if fmt.Sprint(e) == fmt.Sprint(v) {
			return true
		}
	}
	return false
}

func withoutKey(m map[string]any, key string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
