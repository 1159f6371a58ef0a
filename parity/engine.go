package parity

import (
	"fmt"
	"strings"

	"github.com/hashicorp/go-version"
	preview "github.com/previewd/previewd"
)

// Engine is a Terraform-compatible engine: Terraform or OpenTofu, and its
// version.
type Engine struct {
	Name    string // "terraform" or "opentofu"
	Version string // "1.5.7"
}

func (e Engine) String() string {
	if e.Name == "" {
		return e.Version
	}
	return e.Name + " " + e.Version
}

// ParseEngine reads an engine as a setting names it: "1.5.7" (the name
// unsaid), "terraform 1.5.7", "opentofu 1.8.2" ("tofu" is opentofu; a
// leading "v" is allowed). "" is the zero Engine. It returns an error for
// anything else.
func ParseEngine(s string) (Engine, error) {
	fields := strings.Fields(strings.ToLower(s))
	var e Engine
	switch len(fields) {
	case 0:
		return Engine{}, nil
	case 1:
		e.Version = fields[0]
	case 2:
		e.Name, e.Version = fields[0], fields[1]
	default:
		return Engine{}, fmt.Errorf("%q is not a version, or terraform or opentofu and a version", s)
	}
	switch e.Name {
	case "", "terraform", "opentofu":
	case "tofu":
		e.Name = "opentofu"
	default:
		return Engine{}, fmt.Errorf("%q: %s is neither terraform nor opentofu", s, e.Name)
	}
	e.Version = strings.TrimPrefix(e.Version, "v")
	if _, err := version.NewVersion(e.Version); err != nil {
		return Engine{}, fmt.Errorf("%q: %s is not a version", s, e.Version)
	}
	return e, nil
}

// ParseEngineBanner reads the first line `terraform version` prints:
// "Terraform v1.5.7" or "OpenTofu v1.8.2".
func ParseEngineBanner(banner string) (Engine, error) {
	line, _, _ := strings.Cut(strings.TrimSpace(banner), "\n")
	return ParseEngine(line)
}

// CompareEngine compares the engine previewd runs with what production
// uses: the engine the setting names (production, possibly zero) and the
// module's required_version constraints. Each mismatch is an undeclared
// engine_version finding: a preview run by another engine or version than
// production is not the same deployment.
func CompareEngine(running, production Engine, required []string) []preview.Finding {
	var findings []preview.Finding
	if production.Name != "" && production.Name != running.Name {
		findings = append(findings, preview.Finding{Kind: preview.FindingEngineVersion, Subject: "engine",
			Production: production.Name, Preview: running.Name, Reason: "production runs another engine"})
	}
	if production.Version != "" && !sameVersion(production.Version, running.Version) {
		findings = append(findings, preview.Finding{Kind: preview.FindingEngineVersion, Subject: "version",
			Production: production.Version, Preview: running.Version, Reason: "production runs another version"})
	}
	v, err := version.NewVersion(running.Version)
	for _, c := range required {
		constraints, cerr := version.NewConstraint(c)
		if cerr != nil || err != nil || !constraints.Check(v) {
			findings = append(findings, preview.Finding{Kind: preview.FindingEngineVersion, Subject: "required_version",
				Production: c, Preview: running.Version, Reason: "the module's required_version excludes the engine previews run"})
		}
	}
	return findings
}

// CompareEngineBanner compares the engine whose banner is given
// ("Terraform v1.5.7", see ParseEngineBanner) with production's, as a
// setting names it ("1.5.7", "opentofu 1.8.2"): previewd check's engine
// check. Its errors are ParseEngineBanner's and ParseEngine's.
func CompareEngineBanner(banner, production string) ([]preview.Finding, error) {
	running, err := ParseEngineBanner(banner)
	if err != nil {
		return nil, err
	}
	prod, err := ParseEngine(production)
	if err != nil {
		return nil, err
	}
	return CompareEngine(running, prod, nil), nil
}

func sameVersion(a, b string) bool {
	va, errA := version.NewVersion(a)
	vb, errB := version.NewVersion(b)
	if errA != nil || errB != nil {
		return a == b
	}
	return va.Equal(vb)
}
