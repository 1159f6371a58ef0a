package parity

import (
	"cmp"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	tfjson "github.com/hashicorp/terraform-json"
	preview "github.com/previewd/previewd"
)

// AttributeInputs is what CompareAttributes needs besides the two plans.
type AttributeInputs struct {
	// Declared maps each variable a preview may differ in to the reason of
	// its declaration.
	Declared map[string]string
	// Source is the module's HCL; nil: nothing can be traced, and every
	// difference that is not identity is undeclared.
	Source *ModuleSource
	// ProductionDir and PreviewDir are the working directories the two
	// plans ran in: path.cwd differs by them, and that is identity too.
	ProductionDir, PreviewDir string
}

// AttributeStats counts what CompareAttributes looked at but did not list.
type AttributeStats struct {
	// Identity counts the values that differ only by who the environment
	// is: production's value with "production" (and the other
	// per-pull-request values) replaced by the preview's.
	Identity int
	// Unknown counts the values one plan cannot know until apply, which
	// are not compared.
	Unknown int
}

// CompareAttributes compares the planned attribute values of every
// resource instance both plans have (nested objects, lists and maps,
// resources of modules included) and the root module's outputs. A
// difference is:
//
//   - identity, when the preview's value is production's with "production"
//     replaced by the environment's name, or another per-pull-request
//     variable's production value by the preview's (or the other way
//     round): returned as a declared finding with Identity set, and
//     counted;
//   - declared, when every root variable the value's expression depends on
//     (traced through locals, module calls, other resources and outputs in
//     src) is in declared, which maps a variable to the reason of its
//     declaration: the finding carries the reasons;
//   - undeclared, otherwise: a value that follows a per-pull-request
//     variable (environment above all) other than by identity, a value
//     parity cannot trace, or one that follows an undeclared variable.
//
// Findings name the attribute path ("terraform_data.db.input.engine_version")
// and, when the source has it, where the expression is written
// ("main.tf:12"). Sensitive values are compared and shown as
// "(sensitive)"; values unknown until apply are skipped and counted.
func CompareAttributes(production, pv *tfjson.Plan, in AttributeInputs) ([]preview.Finding, AttributeStats) {
	src := in.Source
	c := &attrComparison{declared: in.Declared, src: src, identity: identityOf(production, pv, in.ProductionDir, in.PreviewDir)}
	prod, prev := plannedInstances(production), plannedInstances(pv)
	for _, pair := range pairInstances(prod, prev) {
		p, q, addr := prod[pair[0]], prev[pair[1]], pair[1]
		c.subject = func(path []string) string { return addr + pathText(path) }
		c.origin = func(path []string) origin { return c.resourceOrigin(p.rc, path) }
		c.compare(p.change, q.change, nil)
	}
	for _, name := range slices.Sorted(maps.Keys(outputChanges(production))) {
		q, ok := outputChanges(pv)[name]
		if !ok {
			continue
		}
		c.subject = func(path []string) string { return "output." + name + pathText(path) }
		c.origin = func(path []string) origin {
			if src == nil {
				return origin{untraced: []string{"output." + name}}
			}
			return src.outputOrigin(name, path)
		}
		c.compare(outputChanges(production)[name], q, nil)
	}
	slices.SortStableFunc(c.findings, func(a, b preview.Finding) int { return cmp.Compare(a.Subject, b.Subject) })
	return c.findings, c.stats
}

// attrComparison is one CompareAttributes call.
type attrComparison struct {
	declared map[string]string
	src      *ModuleSource
	identity *identity
	findings []preview.Finding
	stats    AttributeStats
	subject  func(path []string) string
	origin   func(path []string) origin
}

// side is one plan's view of a value: the value, and its unknown and
// sensitive markers (true, or a structure of the value's shape).
type side struct{ value, unknown, sensitive any }

func (s side) at(key any) side {
	return side{index(s.value, key), index(s.unknown, key), index(s.sensitive, key)}
}

// index returns v[key] for a map or a slice, true for true (a marker
// covering the whole value), nil otherwise.
func index(v any, key any) any {
	switch x := v.(type) {
	case bool:
		return x
	case map[string]any:
		if k, ok := key.(string); ok {
			return x[k]
		}
	case []any:
		if i, ok := key.(int); ok && i < len(x) {
			return x[i]
		}
	}
	return nil
}

func marked(marker any) bool { b, _ := marker.(bool); return b }

// compare walks two values in step and classifies each difference.
func (c *attrComparison) compare(p, q side, path []string) {
	if marked(p.unknown) || marked(q.unknown) {
		c.stats.Unknown++
		return
	}
	if marked(p.sensitive) || marked(q.sensitive) {
		// A sensitive value is compared whole: not even its keys are shown.
		if !reflect.DeepEqual(p.value, q.value) {
			c.difference(p, q, path)
		}
		return
	}
	pm, pIsMap := p.value.(map[string]any)
	qm, qIsMap := q.value.(map[string]any)
	if pIsMap && qIsMap {
		for _, k := range slices.Sorted(maps.Keys(unionKeys(pm, qm))) {
			c.compare(p.at(k), q.at(k), append(slices.Clip(path), k))
		}
		return
	}
	pl, pIsList := p.value.([]any)
	ql, qIsList := q.value.([]any)
	unknown := containsMark(p.unknown) || containsMark(q.unknown)
	if pIsList && qIsList && (len(pl) == len(ql) || unknown) {
		// Element by element; a list of another length that holds values
		// not known yet is compared as far as both go, the rest counted.
		for i := range min(len(pl), len(ql)) {
			c.compare(p.at(i), q.at(i), append(slices.Clip(path), strconv.Itoa(i)))
		}
		if len(pl) != len(ql) {
			c.stats.Unknown++
		}
		return
	}
	if reflect.DeepEqual(p.value, q.value) {
		return
	}
	if pj, qj, ok := jsonDocuments(p.value, q.value); ok && !c.identity.matches(valueText(p.value), valueText(q.value)) {
		// Two JSON documents (jsonencode's, most often): compared key by
		// key, as the maps they encode, unless they differ only by who
		// the environment is (keys named after it included). Neither side
		// is marked: a marker on the string returned above.
		c.compare(side{value: pj}, side{value: qj}, path)
		return
	}
	c.difference(p, q, path)
}

// difference classifies one differing value.
func (c *attrComparison) difference(p, q side, path []string) {
	pt, qt := valueText(p.value), valueText(q.value)
	f := preview.Finding{Kind: preview.FindingAttribute, Subject: c.subject(path), Production: pt, Preview: qt}
	if containsMark(p.sensitive) || containsMark(q.sensitive) {
		f.Production, f.Preview = Sensitive, Sensitive
	}
	o := c.origin(path)
	f.Location = o.location
	if c.identity.matches(pt, qt) {
		c.stats.Identity++
		f.Declared, f.Identity, f.Reason = true, true, "identity: differs only by the environment's name"
		c.findings = append(c.findings, f)
		return
	}
	f.Declared, f.Reason = explainOrigin(o, c.declared, c.identity.differs)
	c.findings = append(c.findings, f)
}

// explainOrigin says whether a value following o is a declared difference,
// and why or why not. Only the variables that differ between the two plans
// (differs) can explain a difference; the others are left out.
func explainOrigin(o origin, declared map[string]string, differs func(string) bool) (bool, string) {
	var perPR, undeclared, reasons []string
	for _, v := range slices.Sorted(maps.Keys(o.vars)) {
		if !differs(v) {
			continue
		}
		switch reason, ok := declared[v]; {
		case slices.Contains(PerPullRequest, v):
			perPR = append(perPR, "var."+v)
		case ok:
			reasons = append(reasons, reason)
		default:
			undeclared = append(undeclared, "var."+v)
		}
	}
	switch {
	case len(perPR) > 0:
		return false, fmt.Sprintf("follows %s other than by the environment's name", strings.Join(perPR, ", "))
	case len(o.untraced) > 0:
		slices.Sort(o.untraced)
		return false, fmt.Sprintf("follows %s, which parity cannot trace to a declared difference", strings.Join(slices.Compact(o.untraced), ", "))
	case len(undeclared) > 0:
		return false, fmt.Sprintf("follows %s, not a declared difference", strings.Join(undeclared, ", "))
	case len(reasons) == 0:
		return false, "not explained by a declared difference"
	}
	slices.Sort(reasons)
	return true, strings.Join(slices.Compact(reasons), ", ")
}

// containsMark reports whether a sensitivity marker marks anything.
func containsMark(marker any) bool {
	switch x := marker.(type) {
	case bool:
		return x
	case map[string]any:
		for _, v := range x {
			if containsMark(v) {
				return true
			}
		}
	case []any:
		for _, v := range x {
			if containsMark(v) {
				return true
			}
		}
	}
	return false
}

// pathText renders an attribute path: .input.engine_version, .tags[0],
// and a key that is not a name quoted, .labels["app.kubernetes.io/name"].
func pathText(path []string) string {
	var b strings.Builder
	for _, p := range path {
		switch {
		case isIndex(p):
			b.WriteString("[" + p + "]")
		case hclsyntax.ValidIdentifier(p):
			b.WriteString("." + p)
		default:
			b.WriteString("[" + strconv.Quote(p) + "]")
		}
	}
	return b.String()
}

// pairInstances pairs the instances of both plans that are compared: those
// at the same address, and, of a resource whose instances are keyed
// differently in each plan (a for_each following a declared variable),
// the one instance each plan has. Other instances present in one plan
// only are ComparePlans's to report. Pairs are production's address, then
// the preview's, sorted.
func pairInstances(prod, prev map[string]instance) [][2]string {
	var pairs [][2]string
	onlyProd, onlyPrev := map[string][]string{}, map[string][]string{}
	for addr := range prod {
		if _, ok := prev[addr]; ok {
			pairs = append(pairs, [2]string{addr, addr})
		} else {
			onlyProd[stripInstanceKeys(addr)] = append(onlyProd[stripInstanceKeys(addr)], addr)
		}
	}
	for addr := range prev {
		if _, ok := prod[addr]; !ok {
			onlyPrev[stripInstanceKeys(addr)] = append(onlyPrev[stripInstanceKeys(addr)], addr)
		}
	}
	for base, ps := range onlyProd {
		if qs := onlyPrev[base]; len(ps) == 1 && len(qs) == 1 {
			pairs = append(pairs, [2]string{ps[0], qs[0]})
		}
	}
	slices.SortFunc(pairs, func(a, b [2]string) int { return strings.Compare(a[1], b[1]) })
	return pairs
}

// instance is a resource instance's planned change.
type instance struct {
	rc     *tfjson.ResourceChange
	change side
}

// plannedInstances returns each resource instance a plan leaves, by
// address, with its planned values.
func plannedInstances(plan *tfjson.Plan) map[string]instance {
	out := map[string]instance{}
	if plan == nil {
		return out
	}
	for _, rc := range plan.ResourceChanges {
		if rc == nil || rc.Change == nil || rc.DeposedKey != "" || rc.Change.Actions.Delete() && !rc.Change.Actions.Replace() {
			continue
		}
		out[rc.Address] = instance{rc: rc, change: side{rc.Change.After, rc.Change.AfterUnknown, rc.Change.AfterSensitive}}
	}
	return out
}

// outputChanges returns the root module's planned outputs.
func outputChanges(plan *tfjson.Plan) map[string]side {
	out := map[string]side{}
	if plan == nil {
		return out
	}
	for name, ch := range plan.OutputChanges {
		if ch != nil && !ch.Actions.Delete() {
			out[name] = side{ch.After, ch.AfterUnknown, ch.AfterSensitive}
		}
	}
	return out
}

// resourceOrigin finds where a resource's attribute at path is written.
func (c *attrComparison) resourceOrigin(rc *tfjson.ResourceChange, path []string) origin {
	return resourceOrigin(c.src, rc, path)
}

// resourceOrigin finds where, in src (nil: nowhere), a resource's
// attribute at path is written.
func resourceOrigin(src *ModuleSource, rc *tfjson.ResourceChange, path []string) origin {
	key := rc.Type + "." + rc.Name
	if rc.Mode == tfjson.DataResourceMode {
		key = "data." + key
	}
	var m *ModuleSource
	if src != nil {
		m = src.module(rc.ModuleAddress)
	}
	if m == nil {
		return origin{untraced: []string{stripInstanceKeys(rc.Address)}}
	}
	return m.attributeOrigin(key, path)
}

// identity is who each environment is: the values of the per-pull-request
// variables in each plan; and which variables differ between the plans.
type identity struct {
	toPreview, toProduction []substitution
	production, preview     *tfjson.Plan
}

// substitution replaces one identity value by the other side's.
type substitution struct{ old, new string }

// differs reports whether root variable v has another value in each plan,
// or is missing from either (then it cannot be ruled out).
func (id *identity) differs(v string) bool {
	p, q := id.production.Variables[v], id.preview.Variables[v]
	if p == nil || q == nil {
		return true
	}
	return !reflect.DeepEqual(p.Value, q.Value)
}

// identityOf reads the per-pull-request variables' values of both plans,
// and the directories they ran in.
func identityOf(production, pv *tfjson.Plan, productionDir, previewDir string) *identity {
	id := &identity{production: orEmpty(production), preview: orEmpty(pv)}
	add := func(p, q string) {
		if p == q {
			return
		}
		if p != "" {
			id.toPreview = append(id.toPreview, substitution{p, q})
		}
		if q != "" {
			id.toProduction = append(id.toProduction, substitution{q, p})
		}
	}
	if productionDir != "" && previewDir != "" {
		add(productionDir, previewDir)
	}
	for _, name := range PerPullRequest {
		p, q := planVariable(production, name), planVariable(pv, name)
		if name == "environment" && p == "" {
			p = "production"
		}
		add(p, q)
	}
	for _, subs := range [][]substitution{id.toPreview, id.toProduction} {
		slices.SortStableFunc(subs, func(a, b substitution) int { return len(b.old) - len(a.old) })
	}
	return id
}

func orEmpty(p *tfjson.Plan) *tfjson.Plan {
	if p == nil {
		return &tfjson.Plan{}
	}
	return p
}

// matches reports whether two differing values differ only by identity:
// one is the other with each identity value replaced by the other side's,
// where it stands as a whole token.
func (id *identity) matches(production, pv string) bool {
	return substitute(production, id.toPreview) == pv || substitute(pv, id.toProduction) == production
}

// substitute replaces, left to right and longest first, each old value
// that stands as a whole token in s: not touching a letter or a digit on
// either side, nor, for a number, a dot. So "shop-production",
// "production.example.com" and "pr=0" change, but not the "0" of "8.0" or
// the "prod" of "product": a short identity value (a pull request's
// number) cannot make a version or a word look like identity.
func substitute(s string, subs []substitution) string {
	if len(subs) == 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		replaced := false
		for _, sub := range subs {
			number := allDigits(sub.old)
			if strings.HasPrefix(s[i:], sub.old) && boundary(s, i-1, number) && boundary(s, i+len(sub.old), number) {
				b.WriteString(sub.new)
				i += len(sub.old)
				replaced = true
				break
			}
		}
		if !replaced {
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String()
}

// boundary reports whether s[i] is outside s or a character a token may
// end at; a number's token may not end at a dot either.
func boundary(s string, i int, number bool) bool {
	if i < 0 || i >= len(s) {
		return true
	}
	c := s[i]
	return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || number && c == '.')
}

func allDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// planVariable returns a root variable's value in a plan as text.
func planVariable(plan *tfjson.Plan, name string) string {
	if plan == nil || plan.Variables[name] == nil || plan.Variables[name].Value == nil {
		return ""
	}
	return valueText(plan.Variables[name].Value)
}
