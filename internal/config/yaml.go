package config

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// decodeYAML decodes the YAML document data over cfg. It is strict: an
// unknown key is an error naming its path and the nearest known key there.
// Durations are read by parseDuration, so they take days as variables do.
// Every error names the setting at fault by its YAML path, never by a Go
// type.
func decodeYAML(data []byte, cfg *Config) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	if doc.Kind == 0 {
		return nil // empty, or only comments
	}
	r := settingsReader{followed: map[*yaml.Node]bool{}}
	r.read(&doc, reflect.TypeFor[Config](), "")
	if len(r.problems) > 0 {
		return errors.New(strings.Join(r.problems, "; "))
	}
	if err := doc.Decode(cfg); err != nil {
		return nameSettings(&doc, err)
	}
	return nil
}

// settingsReader reads a YAML document against the settings' types before
// it is decoded: it notes each key no setting has, each value of the wrong
// shape and each duration parseDuration refuses, and rewrites the
// durations it reads as Go writes them, for the decoder.
type settingsReader struct {
	problems []string
	followed map[*yaml.Node]bool // anchors read through an alias, each once
}

// read reads node n, which sets a value of type t at path.
func (r *settingsReader) read(n *yaml.Node, t reflect.Type, path string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if p := shapeProblem(n, t); p != "" {
		r.problem(n.Line, path, p)
		return
	}
	switch {
	case n.Kind == yaml.DocumentNode:
		for _, c := range n.Content {
			r.read(c, t, path)
		}
	case n.Kind == yaml.AliasNode && n.Alias != nil && !r.followed[n.Alias]:
		r.followed[n.Alias] = true
		r.read(n.Alias, t, path)
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		r.readStruct(n, t, path)
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Map:
		for i := 0; i+1 < len(n.Content); i += 2 {
			r.read(n.Content[i+1], t.Elem(), joinPath(path, n.Content[i].Value))
		}
	case n.Kind == yaml.SequenceNode && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
		for i, c := range n.Content {
			r.read(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case n.Kind == yaml.ScalarNode && t == reflect.TypeFor[time.Duration]() && n.ShortTag() != "!!null":
		d, err := parseDuration(n.Value)
		if err != nil {
			r.problem(n.Line, path, err.Error())
			return
		}
		n.Value, n.Tag, n.Style = d.String(), "!!str", 0
	}
	// Anything else is the decoder's to accept or refuse (see nameSettings).
}

// readStruct reads a mapping that sets struct type t. A merge key (<<:
// *defaults, or a list of aliases) brings its mappings' keys to this level.
func (r *settingsReader) readStruct(n *yaml.Node, t reflect.Type, path string) {
	fields := yamlFields(t)
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		switch f, ok := fields[key.Value]; {
		case key.ShortTag() == "!!merge" && val.Kind == yaml.SequenceNode:
			for _, alias := range val.Content {
				r.read(alias, t, path)
			}
		case key.ShortTag() == "!!merge":
			r.read(val, t, path)
		case !ok:
			r.problem(key.Line, joinPath(path, key.Value), "field "+key.Value+" not found"+suggestion(key.Value, fields))
		default:
			r.read(val, f.Type, joinPath(path, key.Value))
		}
	}
}

// problem notes a problem with the setting at path, on line of the file.
func (r *settingsReader) problem(line int, path, problem string) {
	if path == "" {
		r.problems = append(r.problems, fmt.Sprintf("line %d: %s", line, problem))
		return
	}
	r.problems = append(r.problems, fmt.Sprintf("line %d: %s: %s", line, path, problem))
}

// shapeProblem says how n is not the shape t wants (a mapping, a list or
// one value), or "". A null is the decoder's; an alias's anchor is read.
func shapeProblem(n *yaml.Node, t reflect.Type) string {
	if n.Kind == yaml.AliasNode || n.Kind == yaml.DocumentNode || n.ShortTag() == "!!null" || t.Kind() == reflect.Interface {
		return ""
	}
	want := described(t)
	switch {
	case n.Kind == yaml.MappingNode && want != "a mapping":
		return "is a mapping, not " + want
	case n.Kind == yaml.SequenceNode && want != "a list":
		return "is a list, not " + want
	case n.Kind == yaml.ScalarNode && (want == "a mapping" || want == "a list"):
		return fmt.Sprintf("%q is not %s", n.Value, want)
	}
	return ""
}

// described says in words what a setting of type t is.
func described(t reflect.Type) string {
	switch k := t.Kind(); {
	case t == reflect.TypeFor[time.Duration]():
		return "a duration"
	case k == reflect.Struct || k == reflect.Map:
		return "a mapping"
	case k == reflect.Slice || k == reflect.Array:
		return "a list"
	case k == reflect.String:
		return "text"
	case k == reflect.Bool:
		return "true or false"
	case k >= reflect.Int && k <= reflect.Uint64:
		return "a whole number"
	case k == reflect.Float32 || k == reflect.Float64:
		return "a number"
	}
	return "another kind of value"
}

// suggestion names the known key nearest to an unknown one, when it is
// near enough to be a typo: "; did you mean module_dir?". The distance is
// Levenshtein's, over lower-case letters.
func suggestion(unknown string, known map[string]reflect.StructField) string {
	best, bestDistance := "", -1
	for _, name := range slices.Sorted(maps.Keys(known)) {
		if d := editDistance(strings.ToLower(unknown), name); bestDistance < 0 || d < bestDistance {
			best, bestDistance = name, d
		}
	}
	if best == "" || bestDistance > max(2, len(unknown)/3) {
		return ""
	}
	return "; did you mean " + best + "?"
}

// editDistance is the Levenshtein distance between a and b: the fewest
// insertions, deletions and substitutions of bytes that make one the other.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func joinPath(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

var (
	yamlLine = regexp.MustCompile(`line (\d+): `)
	// yamlTypeError is yaml.v3's message for a value of the wrong type.
	yamlTypeError = regexp.MustCompile("^cannot unmarshal !!(\\w+)(?: `(.*)`)? into (.+)$")
	// yamlInType ends yaml.v3's messages about a struct's fields.
	yamlInType = regexp.MustCompile(` in type \S+$`)
)

// nameSettings adds the dotted name of the setting to each line of a YAML
// type error ("line 3: cannot unmarshal …" becomes "line 3: ttl: …"), so
// the message names the setting, not just a line, and says what was
// wanted in words rather than as a Go type.
func nameSettings(root *yaml.Node, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		msgs[i] = m
		sub := yamlLine.FindStringSubmatch(m)
		if sub == nil || !strings.HasPrefix(m, sub[0]) {
			continue
		}
		line, _ := strconv.Atoi(sub[1])
		key := keyAtLine(root, line, "")
		if key != "" {
			key += ": "
		}
		msgs[i] = sub[0] + key + plainTypeError(strings.TrimPrefix(m, sub[0]))
	}
	return errors.New(strings.Join(msgs, "; "))
}

// plainTypeError says a yaml.v3 type error in words: "cannot unmarshal
// !!str `lots` into int" is `"lots" is not a whole number`.
func plainTypeError(m string) string {
	m = yamlInType.ReplaceAllString(m, "")
	sub := yamlTypeError.FindStringSubmatch(m)
	if sub == nil {
		return m
	}
	want := "another kind of value"
	switch target := strings.TrimPrefix(sub[3], "*"); {
	case target == "time.Duration":
		want = "a duration"
	case strings.HasPrefix(target, "[]"):
		want = "a list"
	case strings.HasPrefix(target, "map[") || strings.Contains(target, "."):
		want = "a mapping"
	case target == "string":
		want = "text"
	case target == "bool":
		want = "true or false"
	case strings.HasPrefix(target, "int") || strings.HasPrefix(target, "uint"):
		want = "a whole number"
	case strings.HasPrefix(target, "float"):
		want = "a number"
	}
	switch sub[1] {
	case "seq":
		return "is a list, not " + want
	case "map":
		return "is a mapping, not " + want
	}
	return fmt.Sprintf("%q is not %s", sub[2], want)
}

// keyAtLine returns the dotted path of the deepest setting on line.
func keyAtLine(n *yaml.Node, line int, prefix string) string {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if k := keyAtLine(c, line, prefix); k != "" {
				return k
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			path := joinPath(prefix, key.Value)
			if k := keyAtLine(val, line, path); k != "" {
				return k
			}
			if key.Line == line {
				return path
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if k := keyAtLine(c, line, fmt.Sprintf("%s[%d]", prefix, i)); k != "" {
				return k
			}
		}
	}
	return ""
}
