package parity

import (
	"fmt"
	"maps"
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	preview "github.com/previewd/previewd"
	"github.com/zclconf/go-cty/cty"
)

// CompareLockFiles compares two dependency lock files (.terraform.lock.hcl)
// and returns a provider_version finding, undeclared, for each provider
// locked at another version or locked in one file only. Either file may be
// empty (nil): no providers locked. The error says which file could not be
// parsed.
func CompareLockFiles(productionLock, previewLock []byte) ([]preview.Finding, error) {
	prod, err := lockedVersions(productionLock, "production's")
	if err != nil {
		return nil, err
	}
	prev, err := lockedVersions(previewLock, "the preview's")
	if err != nil {
		return nil, err
	}
	var findings []preview.Finding
	for _, name := range slices.Sorted(maps.Keys(unionKeys(prod, prev))) {
		p, inProd := prod[name]
		q, inPrev := prev[name]
		if inProd && inPrev && p == q {
			continue
		}
		f := preview.Finding{Kind: preview.FindingProviderVersion, Subject: name, Production: lockedAt(p, inProd), Preview: lockedAt(q, inPrev)}
		switch {
		case !inProd:
			f.Reason = "locked only by the preview: production's lock file does not pin it"
		case !inPrev:
			f.Reason = "locked only by production"
		default:
			f.Reason = "locked at another version"
		}
		findings = append(findings, f)
	}
	return findings, nil
}

func lockedAt(version string, ok bool) string {
	if !ok {
		return "not locked"
	}
	return version
}

// lockedVersions returns the version each provider block of a lock file
// pins, by provider address; whose ("production's") names the file in
// errors.
func lockedVersions(src []byte, whose string) (map[string]string, error) {
	versions := map[string]string{}
	if len(src) == 0 {
		return versions, nil
	}
	name := ".terraform.lock.hcl"
	fail := func(r hcl.Range, format string, args ...any) error {
		return fmt.Errorf("read %s %s: line %d: %s", whose, name, r.Start.Line, fmt.Sprintf(format, args...))
	}
	file, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, fmt.Errorf("read %s %s: %w", whose, name, hclError(diags))
	}
	body := file.Body.(*hclsyntax.Body) // ParseConfig's bodies always are
	for _, b := range body.Blocks {
		if b.Type != "provider" {
			continue
		}
		if len(b.Labels) != 1 {
			return nil, fail(b.DefRange(), "a provider block takes one label, the provider's address")
		}
		attr, ok := b.Body.Attributes["version"]
		if !ok {
			return nil, fail(b.DefRange(), "provider %q has no version", b.Labels[0])
		}
		v, diags := attr.Expr.Value(nil)
		if diags.HasErrors() || v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
			return nil, fail(attr.Range(), "version of provider %q is not a string", b.Labels[0])
		}
		versions[b.Labels[0]] = v.AsString()
	}
	return versions, nil
}
