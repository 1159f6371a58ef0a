package parity

import (
	"strconv"

	"github.com/hashicorp/hcl/v2"
)

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
