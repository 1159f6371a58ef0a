package parity

import (
	"strconv"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

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
