package parity

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"

	preview "github.com/previewd/previewd"
	"gopkg.in/yaml.v3"
)

// LoadKeys returns the sorted, distinct keys src holds, with
// src.StripPrefix removed. Only keys are kept: no value read from a source
// ever reaches the result or an error, which names the source and at most a
// line number. A command runs with opts (see Source.Command); it blocks
// until the command exits or opts.Timeout or ctx ends it.
func LoadKeys(ctx context.Context, src Source, opts CommandOptions) ([]string, error) {
	kind, err := src.kind()
	if err != nil {
		return nil, fmt.Errorf("config source: %w", err)
	}
	var keys []string
	switch kind {
	case "command":
		var out []byte
		if out, err = commandOutput(ctx, src.Command, opts); err == nil {
			keys = commandKeys(out)
		}
	case "env_file":
		keys, err = fileKeys(src.EnvFile, envKeys)
	case "json_file":
		keys, err = fileKeys(src.JSONFile, jsonKeys)
	case "yaml_file":
		keys, err = fileKeys(src.YAMLFile, yamlKeys)
	case "tfvars_file":
		keys, err = fileKeys(src.TFVarsFile, func(data []byte) ([]string, error) { return tfvarsKeys(data, src.TFVarsFile) })
	}
	if err != nil {
		return nil, fmt.Errorf("config keys from %s: %w", src, err)
	}
	return cleanKeys(keys, src.StripPrefix), nil
}

// fileKeys reads path and parses its keys.
func fileKeys(path string, parse func([]byte) ([]string, error)) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parse(data)
}

// cleanKeys strips prefix, drops empty keys, sorts and de-duplicates.
func cleanKeys(keys []string, prefix string) []string {
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if prefix != "" {
			k = strings.TrimPrefix(k, prefix)
		}
		if k != "" {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// commandKeys splits a command's output into keys: words separated by
// white space, of which a KEY=value word keeps only KEY, so a command that
// prints values by mistake still leaks none.
func commandKeys(out []byte) []string {
	words := strings.Fields(string(out))
	for i, w := range words {
		words[i], _, _ = strings.Cut(w, "=")
	}
	return words
}

var envKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// envKeys returns the keys of a dotenv file. A value opened with a quote
// and not closed on its line continues until the closing quote. A line that
// is not KEY=value is an error naming its number only.
func envKeys(data []byte) ([]string, error) {
	lines := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	var keys []string
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		key, value, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok || !envKey.MatchString(key) {
			return nil, fmt.Errorf("line %d: not a KEY=value line", i+1)
		}
		keys = append(keys, key)
		start := i
		for q := openQuote(strings.TrimSpace(value)); q != 0; {
			if i++; i >= len(lines) {
				return nil, fmt.Errorf("line %d: quoted value of %s is not closed", start+1, key)
			}
			if closesQuote(lines[i], q) {
				break
			}
		}
	}
	return keys, nil
}

// openQuote returns the quote a value opens and does not close, or 0.
func openQuote(v string) byte {
	if v == "" || (v[0] != '"' && v[0] != '\'') {
		return 0
	}
	if closesQuote(v[1:], v[0]) {
		return 0
	}
	return v[0]
}

// closesQuote reports whether s holds q not escaped by a backslash (inside
// double quotes only, as dotenv reads them).
func closesQuote(s string, q byte) bool {
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && q == '"':
			i++
		case s[i] == q:
			return true
		}
	}
	return false
}

// jsonKeys returns the keys of a JSON object, nested objects' joined with
// dots.
func jsonKeys(data []byte) ([]string, error) {
	v, err := decodeJSON(data)
	if err != nil {
		return nil, jsonError(data, err)
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, errors.New("not a JSON object")
	}
	return flatten("", v, nil), nil
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// yamlKeys returns the keys of a YAML mapping, nested mappings' joined with
// dots.
func yamlKeys(data []byte) ([]string, error) {
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			return nil, fmt.Errorf("invalid YAML at line %s", m[1])
		}
		return nil, errors.New("invalid YAML")
	}
	if v == nil {
		return nil, nil // an empty document
	}
	switch v.(type) {
	case map[string]any, map[any]any:
		return flatten("", v, nil), nil
	}
	return nil, errors.New("not a YAML mapping")
}

// tfvarsKeys returns the variables of a var file, object values' keys
// joined with dots.
func tfvarsKeys(data []byte, filename string) ([]string, error) {
	vars, err := parseTFVars(data, filename)
	if err != nil {
		return nil, err
	}
	return flatten("", vars, nil), nil
}

// flatten appends the leaf keys of v under prefix: a mapping's keys joined
// with dots, down to values that are not mappings (an empty mapping is a
// leaf too).
func flatten(prefix string, v any, keys []string) []string {
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch m := v.(type) {
	case map[string]any:
		if len(m) > 0 {
			for _, k := range slices.Sorted(maps.Keys(m)) {
				keys = flatten(join(k), m[k], keys)
			}
			return keys
		}
	case map[any]any:
		if len(m) > 0 {
			for k, sub := range m {
				keys = flatten(join(fmt.Sprint(k)), sub, keys)
			}
			return keys
		}
	}
	if prefix != "" {
		keys = append(keys, prefix)
	}
	return keys
}

// CompareKeys returns one finding per key the production source has and
// the preview's lacks: declared, with its reason, when declared lists it;
// undeclared otherwise. A declaration that no longer holds (the preview has
// the key, or production does not) is an undeclared, stale finding. Keys the
// preview has beyond production's are not findings. Findings name keys only
// ("name: KEY") and show "present" or "missing", never a value.
func CompareKeys(name string, production, pv []string, declared []KeyDifference) []preview.Finding {
	prod, prev := setOf(production), setOf(pv)
	decl := map[string]string{}
	for _, d := range declared {
		decl[d.Key] = d.Reason
	}
	var findings []preview.Finding
	for _, k := range slices.Sorted(maps.Keys(setOf(production, slices.Collect(maps.Keys(decl))))) {
		f := preview.Finding{Kind: preview.FindingConfigKey, Subject: name + ": " + k, Production: presence(prod[k]), Preview: presence(prev[k])}
		reason, isDeclared := decl[k]
		switch {
		case prod[k] && !prev[k] && isDeclared:
			f.Declared, f.Reason = true, reason
		case prod[k] && !prev[k]:
			f.Reason = "missing in the preview, not declared"
		case isDeclared && !prod[k]:
			f.Reason = "declared missing, but production has no such key"
		case isDeclared:
			f.Reason = "stale declaration: the preview has the key"
		default:
			continue
		}
		findings = append(findings, f)
	}
	return findings
}

func presence(ok bool) string {
	if ok {
		return "present"
	}
	return "missing"
}
