package parity

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// ModuleSource is a module's HCL, read to say where an attribute's value
// is written and what it depends on: the plan's JSON has neither source
// positions nor locals. Local module calls ("./…", "../…") are read too;
// a module from anywhere else is not, and what comes from it cannot be
// traced.
type ModuleSource struct {
	root      string // the root module's directory, locations are relative to it
	dir       string
	parent    *ModuleSource
	call      *moduleCall // the call in parent that made this module; nil at the root
	blocks    map[string]*hclsyntax.Block
	outputs   map[string]*hclsyntax.Attribute
	locals    map[string]*hclsyntax.Attribute
	calls     map[string]*moduleCall
	variables map[string]bool
	required  []string // required_version constraints of terraform blocks
}

// RequiredVersions returns the module's required_version constraints.
func (m *ModuleSource) RequiredVersions() []string { return slices.Clone(m.required) }

// moduleCall is a module block: its arguments and, for a local source, the
// module it calls.
type moduleCall struct {
	block  *hclsyntax.Block // its count and for_each drive each.* in its arguments
	args   map[string]*hclsyntax.Attribute
	module *ModuleSource // nil: not a local source
}

// maxModuleDepth bounds how deep local module calls are followed.
const maxModuleDepth = 16

// LoadModuleSource reads the *.tf files of the module in dir and of the
// local modules it calls. JSON configuration (*.tf.json) is not read: what
// it declares cannot be located. It returns an error naming the file for
// HCL that does not parse.
func LoadModuleSource(dir string) (*ModuleSource, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	return loadModuleSource(dir, dir, nil, nil, 0)
}

func loadModuleSource(root, dir string, parent *ModuleSource, call *moduleCall, depth int) (*ModuleSource, error) {
	m := &ModuleSource{root: root, dir: dir, parent: parent, call: call,
		blocks: map[string]*hclsyntax.Block{}, outputs: map[string]*hclsyntax.Attribute{},
		locals: map[string]*hclsyntax.Attribute{}, calls: map[string]*moduleCall{}, variables: map[string]bool{}}
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	for _, path := range files {
		if err := m.readFile(path); err != nil {
			return nil, err
		}
	}
	if depth >= maxModuleDepth {
		return m, nil
	}
	for _, c := range m.calls {
		if c.module == nil {
			continue
		}
		child, err := loadModuleSource(root, c.module.dir, m, c, depth+1)
		if err != nil {
			return nil, err
		}
		c.module = child
	}
	return m, nil
}

// readFile adds the blocks of one file.
func (m *ModuleSource) readFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	file, diags := hclsyntax.ParseConfig(data, m.relative(path), hcl.InitialPos)
	if diags.HasErrors() {
		return fmt.Errorf("read module: %w", hclError(diags))
	}
	body, ok := file.Body.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	for _, b := range body.Blocks {
		switch {
		case b.Type == "resource" && len(b.Labels) == 2:
			m.blocks[b.Labels[0]+"."+b.Labels[1]] = b
		case b.Type == "data" && len(b.Labels) == 2:
			m.blocks["data."+b.Labels[0]+"."+b.Labels[1]] = b
		case b.Type == "output" && len(b.Labels) == 1:
			m.outputs[b.Labels[0]] = b.Body.Attributes["value"]
		case b.Type == "variable" && len(b.Labels) == 1:
			m.variables[b.Labels[0]] = true
		case b.Type == "terraform":
			if v, ok := literalString(b.Body.Attributes["required_version"]); ok {
				m.required = append(m.required, v)
			}
		case b.Type == "locals":
			for name, a := range b.Body.Attributes {
				m.locals[name] = a
			}
		case b.Type == "module" && len(b.Labels) == 1:
			call := &moduleCall{block: b, args: b.Body.Attributes}
			if src, ok := literalString(b.Body.Attributes["source"]); ok && (strings.HasPrefix(src, "./") || strings.HasPrefix(src, "../")) {
				call.module = &ModuleSource{dir: filepath.Join(m.dir, src)}
			}
			m.calls[b.Labels[0]] = call
		}
	}
	return nil
}

// relative names path relative to the root module, as locations show it.
func (m *ModuleSource) relative(path string) string {
	if rel, err := filepath.Rel(m.root, path); err == nil {
		return filepath.ToSlash(rel)
	}
	return filepath.Base(path)
}

// literalString returns the value of an attribute holding a constant string.
func literalString(a *hclsyntax.Attribute) (string, bool) {
	if a == nil {
		return "", false
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() || v.Type() != cty.String || v.IsNull() {
		return "", false
	}
	return v.AsString(), true
}

// module returns the module at a plan's module address
// (module.a["x"].module.b), or nil when it was not read.
func (m *ModuleSource) module(address string) *ModuleSource {
	cur := m
	for _, part := range splitModuleAddress(address) {
		if cur == nil {
			return nil
		}
		call := cur.calls[part]
		if call == nil {
			return nil
		}
		cur = call.module
	}
	return cur
}

// splitModuleAddress returns the call names of a module address.
func splitModuleAddress(address string) []string {
	var names []string
	rest := stripInstanceKeys(address)
	for rest != "" {
		after, ok := strings.CutPrefix(rest, "module.")
		if !ok {
			break
		}
		name, tail, _ := strings.Cut(after, ".")
		names = append(names, name)
		rest = tail
	}
	return names
}

// origin is where a value is written and what it depends on.
type origin struct {
	location string          // "main.tf:12"; "" when unknown
	vars     map[string]bool // root module variables
	untraced []string        // references parity could not follow to variables

	iterators map[string]bool // dynamic blocks' iterators in scope, traced by their for_each
}

// attributeOrigin returns the origin of the value at path inside the
// resource (or data source) key ("aws_db_instance.main",
// "data.aws_ami.x") of this module.
func (m *ModuleSource) attributeOrigin(key string, path []string) origin {
	b := m.blocks[key]
	if b == nil {
		return origin{untraced: []string{key}}
	}
	node, rng := m.locate(b.Body, path)
	o := origin{location: location(rng), vars: map[string]bool{}}
	m.traceNode(node, b, &o, map[string]bool{})
	return o
}

// outputOrigin returns the origin of the value at path inside a root
// module output.
func (m *ModuleSource) outputOrigin(name string, path []string) origin {
	a := m.outputs[name]
	if a == nil {
		return origin{untraced: []string{"output." + name}}
	}
	expr, rng := m.locateInExpr(a.Expr, path)
	if rng == a.Expr.Range() {
		rng = a.SrcRange
	}
	o := origin{location: location(rng), vars: map[string]bool{}}
	m.trace(expr, nil, &o, map[string]bool{})
	return o
}

func location(r hcl.Range) string {
	if r.Filename == "" {
		return ""
	}
	return r.Filename + ":" + strconv.Itoa(r.Start.Line)
}

// locate finds the expression (or the nested block) at path in body, as
// deep as the configuration spells it out, and its range.
func (m *ModuleSource) locate(body *hclsyntax.Body, path []string) (hclsyntax.Node, hcl.Range) {
	if len(path) == 0 {
		return body, body.SrcRange
	}
	if a := body.Attributes[path[0]]; a != nil {
		expr, rng := m.locateInExpr(a.Expr, path[1:])
		if rng == a.Expr.Range() {
			rng = a.SrcRange
		}
		return expr, rng
	}
	var blocks []*hclsyntax.Block
	for _, b := range body.Blocks {
		if b.Type == path[0] {
			blocks = append(blocks, b)
		}
		if b.Type == "dynamic" && len(b.Labels) == 1 && b.Labels[0] == path[0] {
			// Blocks a dynamic block makes cannot be told apart from the
			// written ones: the value may come from any of them.
			return body, b.TypeRange
		}
	}
	rest := path[1:]
	switch {
	case len(blocks) == 0:
		return body, body.SrcRange
	case len(rest) > 0 && isIndex(rest[0]):
		i, _ := strconv.Atoi(rest[0])
		if i < len(blocks) {
			return m.locate(blocks[i].Body, rest[1:])
		}
	case len(blocks) == 1:
		return m.locate(blocks[0].Body, rest)
	}
	return blocks[0], blocks[0].TypeRange
}

// maxLocateSteps bounds how many locals locateInExpr follows.
const maxLocateSteps = 64

// locateInExpr descends along path into the expression that makes the
// value there: through object and tuple constructors, the argument of
// jsonencode (a path continues into the JSON it writes) and the locals of
// m it names. It stops, returning the expression it got to and its range,
// wherever it cannot be sure a part alone makes the value: any other
// expression, and an object constructor with a computed or repeated key,
// which could make any of its keys. A local is followed only as far as the
// path goes on inside its value: where it does not, the value is located
// at the expression that refers to the local.
func (m *ModuleSource) locateInExpr(expr hclsyntax.Expression, path []string) (hclsyntax.Expression, hcl.Range) {
	var referrer hclsyntax.Expression // the expression naming the locals followed since the path last went deeper
	for range maxLocateSteps {
		if len(path) == 0 {
			break
		}
		next, rest, ok := m.locateStep(expr, path)
		if !ok {
			break
		}
		_, isRef := expr.(*hclsyntax.ScopeTraversalExpr)
		switch {
		case len(rest) < len(path):
			referrer = nil
		case isRef && referrer == nil:
			referrer = expr
		}
		expr, path = next, rest
	}
	if referrer != nil {
		expr = referrer
	}
	return expr, expr.Range()
}

// locateStep is one step of locateInExpr: the expression making the value
// at path inside expr, and the rest of path inside it.
func (m *ModuleSource) locateStep(expr hclsyntax.Expression, path []string) (hclsyntax.Expression, []string, bool) {
	switch e := expr.(type) {
	case *hclsyntax.ObjectConsExpr:
		next := hclsyntax.Expression(nil)
		for _, item := range e.Items {
			switch key := objectKey(item.KeyExpr); {
			case key == "" || key == path[0] && next != nil:
				return nil, nil, false
			case key == path[0]:
				next = item.ValueExpr
			}
		}
		return next, path[1:], next != nil
	case *hclsyntax.TupleConsExpr:
		i, err := strconv.Atoi(path[0])
		if err != nil || i < 0 || i >= len(e.Exprs) {
			return nil, nil, false
		}
		return e.Exprs[i], path[1:], true
	case *hclsyntax.FunctionCallExpr:
		if (e.Name == "jsonencode" || e.Name == "core::jsonencode") && len(e.Args) == 1 && !e.ExpandFinal {
			return e.Args[0], path, true
		}
	case *hclsyntax.ParenthesesExpr:
		return e.Expression, path, true
	case *hclsyntax.TemplateWrapExpr:
		return e.Wrapped, path, true
	case *hclsyntax.ScopeTraversalExpr:
		return m.localAt(e.Traversal, path)
	}
	return nil, nil, false
}

// localAt follows a reference to a local of m (local.name, local.name.key,
// local.name["key"]): the local's expression and the path inside it.
func (m *ModuleSource) localAt(t hcl.Traversal, path []string) (hclsyntax.Expression, []string, bool) {
	if len(t) < 2 || t.RootName() != "local" {
		return nil, nil, false
	}
	name, ok := t[1].(hcl.TraverseAttr)
	if !ok || m.locals[name.Name] == nil {
		return nil, nil, false
	}
	var steps []string
	for _, step := range t[2:] {
		switch s := step.(type) {
		case hcl.TraverseAttr:
			steps = append(steps, s.Name)
		case hcl.TraverseIndex:
			switch {
			case s.Key.Type() == cty.String && s.Key.IsKnown() && !s.Key.IsNull():
				steps = append(steps, s.Key.AsString())
			case s.Key.Type() == cty.Number && s.Key.IsKnown() && !s.Key.IsNull():
				steps = append(steps, s.Key.AsBigFloat().Text('f', -1))
			default:
				return nil, nil, false
			}
		default:
			return nil, nil, false
		}
	}
	return m.locals[name.Name].Expr, append(steps, path...), true
}

// objectKey returns an object constructor key written as a name or a
// constant string; "" for a computed key, (name) included.
func objectKey(key hclsyntax.Expression) string {
	if k, ok := key.(*hclsyntax.ObjectConsKeyExpr); ok {
		if name := hcl.ExprAsKeyword(k.Wrapped); name != "" && !k.ForceNonLiteral {
			return name
		}
		key = k.Wrapped
	}
	v, diags := key.Value(nil)
	if diags.HasErrors() || v.Type() != cty.String || v.IsNull() {
		return ""
	}
	return v.AsString()
}

func isIndex(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

// traceNode traces every reference inside node.
func (m *ModuleSource) traceNode(node hclsyntax.Node, in *hclsyntax.Block, o *origin, seen map[string]bool) {
	switch n := node.(type) {
	case hclsyntax.Expression:
		m.trace(n, in, o, seen)
	case *hclsyntax.Body:
		for _, a := range n.Attributes {
			m.trace(a.Expr, in, o, seen)
		}
		for _, b := range n.Blocks {
			m.traceNode(b, in, o, seen)
		}
	case *hclsyntax.Block:
		if n.Type != "dynamic" || len(n.Labels) != 1 {
			m.traceNode(n.Body, in, o, seen)
			return
		}
		// A dynamic block: what it makes follows its for_each, and its
		// content refers to the elements through its iterator.
		iterator := n.Labels[0]
		if a := n.Body.Attributes["iterator"]; a != nil {
			if name := hcl.ExprAsKeyword(a.Expr); name != "" {
				iterator = name
			}
		}
		if a := n.Body.Attributes["for_each"]; a != nil {
			m.trace(a.Expr, in, o, seen)
		}
		if o.iterators == nil {
			o.iterators = map[string]bool{}
		}
		was := o.iterators[iterator]
		o.iterators[iterator] = true
		for _, b := range n.Body.Blocks {
			if b.Type == "content" {
				m.traceNode(b.Body, in, o, seen)
			}
		}
		o.iterators[iterator] = was
	}
}

// trace follows the references of expr, written in block in (nil outside
// a resource), to the root module's variables.
func (m *ModuleSource) trace(expr hclsyntax.Expression, in *hclsyntax.Block, o *origin, seen map[string]bool) {
	for _, t := range expr.Variables() {
		m.traceRef(t, in, o, seen)
	}
}

// traceRef follows one reference.
func (m *ModuleSource) traceRef(t hcl.Traversal, in *hclsyntax.Block, o *origin, seen map[string]bool) {
	names := traversalNames(t)
	if o.iterators[names[0]] {
		return // a dynamic block's element: its for_each is traced
	}
	key := fmt.Sprintf("%p %p %s", m, in, strings.Join(names, "."))
	if seen[key] {
		return
	}
	seen[key] = true
	untraced := func() { o.untraced = append(o.untraced, strings.Join(names, ".")) }
	switch names[0] {
	case "var":
		if len(names) < 2 {
			untraced()
			return
		}
		if m.parent == nil {
			o.vars[names[1]] = true
			return
		}
		if arg := m.call.args[names[1]]; arg != nil { // else the variable's default
			m.parent.trace(arg.Expr, m.call.block, o, seen)
		}
	case "local":
		if len(names) < 2 || m.locals[names[1]] == nil {
			untraced()
			return
		}
		m.trace(m.locals[names[1]].Expr, nil, o, seen)
	case "module":
		call := m.calls[at(names, 1)]
		if call == nil || call.module == nil {
			untraced()
			return
		}
		if out := call.module.outputs[at(names, 2)]; out != nil {
			call.module.trace(out.Expr, nil, o, seen)
			return
		}
		for _, out := range call.module.outputs {
			if out != nil {
				call.module.trace(out.Expr, nil, o, seen)
			}
		}
	case "each":
		if in == nil || in.Body.Attributes["for_each"] == nil {
			untraced()
			return
		}
		m.trace(in.Body.Attributes["for_each"].Expr, nil, o, seen)
	case "count", "path", "terraform", "self":
		// the same in both plans of one module
	case "data":
		m.traceBlock("data."+at(names, 1)+"."+at(names, 2), at(names, 3), o, seen, untraced)
	default:
		m.traceBlock(names[0]+"."+at(names, 1), at(names, 2), o, seen, untraced)
	}
}

// traceBlock follows a reference to a resource or data source: the
// argument it names, or, for an attribute the provider computes, all its
// arguments.
func (m *ModuleSource) traceBlock(key, attr string, o *origin, seen map[string]bool, untraced func()) {
	b := m.blocks[key]
	if b == nil {
		untraced()
		return
	}
	if a := b.Body.Attributes[attr]; a != nil {
		m.trace(a.Expr, b, o, seen)
		return
	}
	m.traceNode(b.Body, b, o, seen)
}

// traversalNames returns the names along a traversal, indexes dropped.
func traversalNames(t hcl.Traversal) []string {
	var names []string
	for _, step := range t {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			names = append(names, s.Name)
		case hcl.TraverseAttr:
			names = append(names, s.Name)
		}
	}
	return names
}

func at(names []string, i int) string {
	if i < len(names) {
		return names[i]
	}
	return ""
}
