package parity

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
