package parity

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"
	preview "github.com/previewd/previewd"
)

// ComparePlans compares the structure of production's plan with the
// preview's: the resources each would have after apply (by address without
// instance keys; a resource's type is part of its address), how many
// instances of each, and the providers they use, with their version
// constraints. The values of attributes are not compared: they legitimately
// carry each environment's name.
//
// A resource present in one plan only, or with another number or set of
// instances, is explained when every variable its count or for_each (or
// that of a module call around it) follows, traced through module calls in
// the plans' configuration, is a declared difference: the finding is then
// declared, with the declarations' reasons. Anything else is undeclared,
// including counts that follow per-pull-request variables such as
// environment (`count = var.environment == "production" ? 0 : 1`) and counts
// parity cannot trace (locals, other resources). A provider only one plan
// uses is declared when every resource making the difference is.
//
// Actual provider versions are in the dependency lock files: see
// CompareLockFiles.
func ComparePlans(production, pv *tfjson.Plan, declared []preview.Difference) []preview.Finding {
	decl := map[string]preview.Difference{}
	for _, d := range declared {
		decl[d.Variable] = d
	}
	prod, prev := planResources(production), planResources(pv)
	driven := countDrivers(production)
	maps.Copy(driven, countDrivers(pv)) // the same module: either will do
	var findings []preview.Finding
	explainedBy := map[string][]preview.Finding{} // provider → resource findings present on one side only
	for _, addr := range slices.Sorted(maps.Keys(unionKeys(prod, prev))) {
		p, q := prod[addr], prev[addr]
		if sameInstances(p, q) {
			continue
		}
		f := preview.Finding{Kind: preview.FindingResource, Subject: addr, Production: p.describe(), Preview: q.describe()}
		f.Declared, f.Reason = driven[addr].explain(decl)
		findings = append(findings, f)
		if p == nil || q == nil {
			provider := p.providerName() + q.providerName()
			explainedBy[provider] = append(explainedBy[provider], f)
		}
	}
	return append(findings, compareProviders(production, pv, prod, prev, explainedBy)...)
}

// planResource is one resource of a plan and its instances.
type planResource struct {
	provider  string
	instances []string // full addresses, sorted
}

func (r *planResource) describe() string {
	if r == nil {
		return "absent"
	}
	n := len(r.instances)
	if n == 1 {
		return "1 instance"
	}
	s := fmt.Sprintf("%d instances", n)
	if keys := r.keys(); !numericKeys(keys) {
		s += ": " + strings.Join(keys, ", ")
	}
	return s
}

func (r *planResource) providerName() string {
	if r == nil {
		return ""
	}
	return r.provider
}

// keys returns the instance keys of r ("0", `"eu"`), in order.
func (r *planResource) keys() []string {
	keys := make([]string, len(r.instances))
	for i, a := range r.instances {
		keys[i] = strings.Join(instanceKeys(a), "")
	}
	return keys
}

func numericKeys(keys []string) bool {
	for _, k := range keys {
		if strings.Contains(k, `"`) {
			return false
		}
	}
	return true
}

func sameInstances(a, b *planResource) bool {
	return a != nil && b != nil && slices.Equal(a.keys(), b.keys())
}

func unionKeys[V any](a, b map[string]V) map[string]bool {
	u := map[string]bool{}
	for k := range a {
		u[k] = true
	}
	for k := range b {
		u[k] = true
	}
	return u
}

// planResources returns the resources a plan would leave, by address
// without instance keys: its planned values, or, in a plan without them,
// its resource changes that do not delete.
func planResources(plan *tfjson.Plan) map[string]*planResource {
	res := map[string]*planResource{}
	add := func(addr, provider string) {
		base := stripInstanceKeys(addr)
		r := res[base]
		if r == nil {
			r = &planResource{provider: provider}
			res[base] = r
		}
		r.instances = append(r.instances, addr)
	}
	switch {
	case plan == nil:
	case plan.PlannedValues != nil && plan.PlannedValues.RootModule != nil:
		var walk func(m *tfjson.StateModule)
		walk = func(m *tfjson.StateModule) {
			for _, r := range m.Resources {
				add(r.Address, r.ProviderName)
			}
			for _, c := range m.ChildModules {
				walk(c)
			}
		}
		walk(plan.PlannedValues.RootModule)
	default:
		for _, rc := range plan.ResourceChanges {
			if rc.Change == nil || !rc.Change.Actions.Delete() && rc.DeposedKey == "" {
				add(rc.Address, rc.ProviderName)
			}
		}
	}
	for _, r := range res {
		slices.Sort(r.instances)
		r.instances = slices.Compact(r.instances)
	}
	return res
}

// stripInstanceKeys removes every [key] from a resource address:
// module.a["x"].aws_instance.b[0] becomes module.a.aws_instance.b.
func stripInstanceKeys(addr string) string {
	var b strings.Builder
	for i := 0; i < len(addr); i++ {
		if addr[i] != '[' {
			b.WriteByte(addr[i])
			continue
		}
		i = skipKey(addr, i)
	}
	return b.String()
}

// instanceKeys returns the [key] parts of an address, in order.
func instanceKeys(addr string) []string {
	var keys []string
	for i := 0; i < len(addr); i++ {
		if addr[i] == '[' {
			end := skipKey(addr, i)
			keys = append(keys, addr[i:min(end+1, len(addr))])
			i = end
		}
	}
	return keys
}

// skipKey returns the index of the ] closing the key opened at addr[i],
// skipping quoted strings with their escapes.
func skipKey(addr string, i int) int {
	inString := false
	for i++; i < len(addr); i++ {
		switch c := addr[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case !inString && c == ']':
			return i
		}
	}
	return len(addr)
}

// drivers is what a resource's count or for_each follows.
type drivers struct {
	vars     map[string]bool // root module variables
	untraced []string        // references parity could not trace to a variable
}

// explain returns whether d is wholly declared, and the finding's reason.
func (d drivers) explain(decl map[string]preview.Difference) (bool, string) {
	if len(d.vars) == 0 && len(d.untraced) == 0 {
		return false, "not explained by a declared difference"
	}
	if len(d.untraced) > 0 {
		return false, fmt.Sprintf("count or for_each follows %s, which parity cannot trace to a declared difference", strings.Join(d.untraced, ", "))
	}
	var undeclared, reasons []string
	for _, v := range slices.Sorted(maps.Keys(d.vars)) {
		if dd, ok := decl[v]; ok {
			reasons = append(reasons, dd.Reason)
		} else {
			undeclared = append(undeclared, "var."+v)
		}
	}
	if len(undeclared) > 0 {
		return false, fmt.Sprintf("count or for_each follows %s, not a declared difference", strings.Join(undeclared, ", "))
	}
	slices.Sort(reasons)
	return true, strings.Join(slices.Compact(reasons), ", ")
}

func (d drivers) with(other drivers) drivers {
	out := drivers{vars: map[string]bool{}}
	for _, x := range []drivers{d, other} {
		maps.Copy(out.vars, x.vars)
		out.untraced = append(out.untraced, x.untraced...)
	}
	slices.Sort(out.untraced)
	out.untraced = slices.Compact(out.untraced)
	return out
}

// resolver maps a reference made in a module to what drives it at the root.
type resolver func(ref string) drivers

// countDrivers returns, for each resource of the plan's configuration (by
// address without instance keys), the root variables its count or for_each
// follows, and those of the module calls around it.
func countDrivers(plan *tfjson.Plan) map[string]drivers {
	out := map[string]drivers{}
	if plan == nil || plan.Config == nil || plan.Config.RootModule == nil {
		return out
	}
	walkConfig(plan.Config.RootModule, "", rootResolver, drivers{}, out)
	return out
}

func walkConfig(m *tfjson.ConfigModule, prefix string, resolve resolver, around drivers, out map[string]drivers) {
	for _, r := range m.Resources {
		out[prefix+r.Address] = around.with(expressionDrivers(resolve, r.CountExpression, r.ForEachExpression))
	}
	for name, call := range m.ModuleCalls {
		if call.Module == nil {
			continue
		}
		inner := around.with(expressionDrivers(resolve, call.CountExpression, call.ForEachExpression))
		walkConfig(call.Module, prefix+"module."+name+".", callResolver(call, resolve), inner, out)
	}
}

// expressionDrivers resolves the references of exprs.
func expressionDrivers(resolve resolver, exprs ...*tfjson.Expression) drivers {
	d := drivers{vars: map[string]bool{}}
	for _, e := range exprs {
		if e == nil || e.ExpressionData == nil {
			continue
		}
		for _, ref := range e.References {
			d = d.with(resolve(ref))
		}
	}
	return d
}

// variableName returns X of a reference var.X (var.X.attr, var.X[0]).
func variableName(ref string) (string, bool) {
	rest, ok := strings.CutPrefix(ref, "var.")
	if !ok {
		return "", false
	}
	if i := strings.IndexAny(rest, ".["); i >= 0 {
		rest = rest[:i]
	}
	return rest, rest != ""
}

// notDrivers start references that never make counts differ between two
// plans of the same module.
var notDrivers = []string{"count.", "each.", "path.", "terraform.workspace", "self."}

func rootResolver(ref string) drivers {
	if v, ok := variableName(ref); ok {
		return drivers{vars: map[string]bool{v: true}}
	}
	for _, p := range notDrivers {
		if strings.HasPrefix(ref, p) {
			return drivers{}
		}
	}
	return drivers{untraced: []string{ref}}
}

// callResolver resolves references inside the module call: var.X follows
// the call's argument X in the calling module; an argument left to the
// variable's default follows nothing.
func callResolver(call *tfjson.ModuleCall, outer resolver) resolver {
	return func(ref string) drivers {
		v, ok := variableName(ref)
		if !ok {
			return rootResolver(ref)
		}
		arg, ok := call.Expressions[v]
		if !ok {
			return drivers{}
		}
		return expressionDrivers(outer, arg)
	}
}

// compareProviders compares the providers the two plans' resources use, and
// the version constraints the configurations give them.
func compareProviders(production, pv *tfjson.Plan, prod, prev map[string]*planResource, explainedBy map[string][]preview.Finding) []preview.Finding {
	used := func(res map[string]*planResource) map[string]bool {
		set := map[string]bool{}
		for _, r := range res {
			set[r.provider] = true
		}
		return set
	}
	up, uq := used(prod), used(prev)
	cp, cq := constraints(production), constraints(pv)
	var findings []preview.Finding
	for _, name := range slices.Sorted(maps.Keys(unionKeys(up, uq))) {
		f := preview.Finding{Kind: preview.FindingProviderVersion, Subject: name}
		switch {
		case up[name] != uq[name]:
			f.Production, f.Preview = inUse(up[name], cp[name]), inUse(uq[name], cq[name])
			f.Declared, f.Reason = allDeclared(explainedBy[name])
		case cp[name] != cq[name]:
			f.Production, f.Preview = inUse(true, cp[name]), inUse(true, cq[name])
			f.Reason = "version constraints differ"
		default:
			continue
		}
		findings = append(findings, f)
	}
	return findings
}

func inUse(used bool, constraint string) string {
	switch {
	case !used:
		return "not used"
	case constraint == "":
		return "in use"
	}
	return "in use, " + constraint
}

// allDeclared reports whether every finding is declared, and their reasons.
func allDeclared(findings []preview.Finding) (bool, string) {
	var reasons []string
	for _, f := range findings {
		if !f.Declared {
			return false, "used only by resources that differ without a declaration"
		}
		reasons = append(reasons, strings.Split(f.Reason, ", ")...)
	}
	if len(reasons) == 0 {
		return false, "not explained by a declared difference"
	}
	slices.Sort(reasons)
	return true, strings.Join(slices.Compact(reasons), ", ")
}

// constraints returns the version constraints the plan's configuration
// gives each provider, by its full name.
func constraints(plan *tfjson.Plan) map[string]string {
	all := map[string][]string{}
	if plan != nil && plan.Config != nil {
		for _, pc := range plan.Config.ProviderConfigs {
			name := pc.FullName
			if name == "" {
				name = pc.Name
			}
			if pc.VersionConstraint != "" {
				all[name] = append(all[name], pc.VersionConstraint)
			}
		}
	}
	out := map[string]string{}
	for name, cs := range all {
		slices.Sort(cs)
		out[name] = strings.Join(slices.Compact(cs), ", ")
	}
	return out
}
