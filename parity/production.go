package parity

import (
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"
	preview "github.com/previewd/previewd"
)

// ProductionFindings classifies a read-only look at production: next is
// the normal plan of production's module against production (what the
// next apply would change), outside the refresh-only plan (what changed
// outside Terraform since the last apply). Each attribute the next apply
// would change is one finding: changed outside Terraform when the refresh
// found it moved (a hotfix the next deploy would revert), pending
// otherwise (a merge not applied yet); a resource deleted outside
// Terraform is one finding of its own. A change outside Terraform that
// the module already adopted is no finding: the next apply keeps it.
// Each finding carries the module's file and line when src (the module's
// source; nil for none) knows them; sensitive values are Redacted, and
// values not known until apply are not compared. Findings an entry of
// ignore covers are counted in ignored, not returned.
func ProductionFindings(outside, next *tfjson.Plan, src *ModuleSource, ignore []preview.ProductionIgnore) (findings []preview.ProductionFinding, ignored int) {
	drift := outsideChanges(outside)
	for _, rc := range orEmpty(next).ResourceChanges {
		if rc.Change == nil || rc.Change.Actions.NoOp() || rc.Change.Actions.Read() || rc.Mode == tfjson.DataResourceMode {
			continue
		}
		for _, f := range resourceFindings(rc, drift[rc.Address], src) {
			if slices.ContainsFunc(ignore, func(i preview.ProductionIgnore) bool { return i.Covers(f) }) {
				ignored++
				continue
			}
			findings = append(findings, f)
		}
	}
	slices.SortStableFunc(findings, func(a, b preview.ProductionFinding) int {
		return strings.Compare(a.Subject(), b.Subject())
	})
	return findings, ignored
}

// outsideChange is what the refresh found of one resource instance: gone,
// or these attribute paths moved.
type outsideChange struct {
	deleted bool
	paths   map[string]bool // pathText without its leading "."
}

// outsideChanges indexes the refresh-only plan's drift by address.
func outsideChanges(outside *tfjson.Plan) map[string]outsideChange {
	out := map[string]outsideChange{}
	for _, rc := range orEmpty(outside).ResourceDrift {
		if rc.Change == nil {
			continue
		}
		c := outsideChange{deleted: rc.Change.Actions.Delete(), paths: map[string]bool{}}
		before := side{rc.Change.Before, nil, rc.Change.BeforeSensitive}
		after := side{rc.Change.After, rc.Change.AfterUnknown, rc.Change.AfterSensitive}
		walkChanges(before, after, nil, func(path []string, _, _ side) { c.paths[attributePath(path)] = true })
		out[rc.Address] = c
	}
	return out
}

// resourceFindings are the findings of one planned change of production.
func resourceFindings(rc *tfjson.ResourceChange, drift outsideChange, src *ModuleSource) []preview.ProductionFinding {
	where := func(path []string) string { return resourceOrigin(src, rc, path).location }
	a := rc.Change.Actions
	switch {
	case a.Create() && drift.deleted:
		return []preview.ProductionFinding{{Kind: preview.ProductionDeletedOutside, Address: rc.Address, Where: where(nil)}}
	case a.Create():
		return []preview.ProductionFinding{{Kind: preview.ProductionPending, Address: rc.Address, Module: "(added by the module)", Where: where(nil)}}
	case a.Delete():
		return []preview.ProductionFinding{{Kind: preview.ProductionPending, Address: rc.Address, Live: "(runs in production)", Module: "(removed from the module)"}}
	}
	var out []preview.ProductionFinding
	live := side{rc.Change.Before, nil, rc.Change.BeforeSensitive}
	module := side{rc.Change.After, rc.Change.AfterUnknown, rc.Change.AfterSensitive}
	walkChanges(live, module, nil, func(path []string, l, m side) {
		f := preview.ProductionFinding{Kind: preview.ProductionPending, Address: rc.Address, Path: attributePath(path),
			Live: valueText(l.value), Module: valueText(m.value), Where: where(path)}
		if l.value == nil {
			f.Live = ""
		}
		if containsMark(l.sensitive) || containsMark(m.sensitive) {
			f.Live, f.Module = preview.Redacted, preview.Redacted
		}
		if drift.paths[f.Path] {
			f.Kind = preview.ProductionChangedOutside
		}
		out = append(out, f)
	})
	return out
}

// walkChanges calls fn with each path at which a and b differ, as deep as
// both are maps or lists of one length; a sensitive value is compared
// whole, and a value b does not know yet is skipped.
func walkChanges(a, b side, path []string, fn func(path []string, a, b side)) {
	if marked(b.unknown) || marked(a.unknown) {
		return
	}
	if !marked(a.sensitive) && !marked(b.sensitive) {
		am, aIsMap := a.value.(map[string]any)
		bm, bIsMap := b.value.(map[string]any)
		if aIsMap && bIsMap {
			for _, k := range slices.Sorted(maps.Keys(unionKeys(am, bm))) {
				walkChanges(a.at(k), b.at(k), append(slices.Clip(path), k), fn)
			}
			return
		}
		al, aIsList := a.value.([]any)
		bl, bIsList := b.value.([]any)
		if aIsList && bIsList && len(al) == len(bl) {
			for i := range al {
				walkChanges(a.at(i), b.at(i), append(slices.Clip(path), strconv.Itoa(i)), fn)
			}
			return
		}
	}
	if !reflect.DeepEqual(a.value, b.value) {
		fn(path, a, b)
	}
}

// attributePath is a path as a finding names it: "input.max_connections",
// "tags[0]".
func attributePath(path []string) string {
	return strings.TrimPrefix(pathText(path), ".")
}

// RevertWarnings are the warnings for a preview whose plan (pv) sets an
// attribute production changed outside Terraform (prod, its last watch)
// back to the module's value: merging and deploying would revert the
// hotfix. They are findings of their own kind, Warning: never drift of the
// preview.
func RevertWarnings(pv *tfjson.Plan, prod preview.ProductionWatch) []preview.Finding {
	if !prod.Drifted() {
		return nil
	}
	planned := map[string]map[string]side{} // address → attribute path → the preview's value
	for _, rc := range orEmpty(pv).ResourceChanges {
		if rc.Change == nil || rc.Change.Actions.Delete() && !rc.Change.Actions.Create() {
			continue
		}
		values := map[string]side{}
		after := side{rc.Change.After, rc.Change.AfterUnknown, rc.Change.AfterSensitive}
		leaves(after, nil, func(path []string, v side) { values[attributePath(path)] = v })
		planned[rc.Address] = values
	}
	var out []preview.Finding
	for _, f := range prod.Findings {
		if f.Kind != preview.ProductionChangedOutside {
			continue
		}
		v, ok := planned[f.Address][f.Path]
		if !ok || valueText(v.value) != f.Module && !(containsMark(v.sensitive) && f.Module == preview.Redacted) {
			continue
		}
		where := ""
		if f.Where != "" {
			where = " (" + f.Where + ")"
		}
		out = append(out, preview.Finding{Kind: preview.FindingRevertsProduction, Subject: f.Subject(), Production: f.Live, Preview: f.Module,
			Location: f.Where, Warning: true,
			Reason: "production runs `" + f.Subject() + " = " + f.Live + "` since a change outside Terraform; merging this pull request and deploying would set it back to `" + f.Module + "`" + where})
	}
	return out
}

// leaves calls fn with each value inside v that is no map or list, and
// with each sensitive or unknown one whole.
func leaves(v side, path []string, fn func(path []string, v side)) {
	if !marked(v.unknown) && !marked(v.sensitive) {
		switch x := v.value.(type) {
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(x)) {
				leaves(v.at(k), append(slices.Clip(path), k), fn)
			}
			return
		case []any:
			for i := range x {
				leaves(v.at(i), append(slices.Clip(path), strconv.Itoa(i)), fn)
			}
			return
		}
	}
	fn(path, v)
}
