package parity

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

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
