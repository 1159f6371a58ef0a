package parity

import (
	"os"
	"path/filepath"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	preview "github.com/previewd/previewd"
)

// TestProductionFindings classifies a look at production the way
// Terraform writes it: a hotfix (changed outside, the module would set it
// back) with the module's line, a merge not applied yet, a resource
// deleted outside, a fix the module already adopted (no finding), a
// sensitive value hidden, a value not known until apply skipped, and an
// ignored attribute counted.
func TestProductionFindings(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.tf"), []byte(`variable "environment" {}

resource "pg_role" "app" {
  name             = "app"
  connection_limit = 200
  password         = "x"
}

resource "pg_database" "shop" {
  name = "shop"
}

resource "aws_autoscaling_group" "web" {
  desired_capacity = 2
  max_size         = 8
  arn_suffix       = "x"
}
`), 0o644)
	src, err := LoadModuleSource(dir)
	if err != nil {
		t.Fatal(err)
	}
	update := tfjson.Actions{tfjson.ActionUpdate}
	rc := func(addr, typ, name string, actions tfjson.Actions, before, after map[string]any, sensitive map[string]any, unknown map[string]any) *tfjson.ResourceChange {
		return &tfjson.ResourceChange{Address: addr, Mode: tfjson.ManagedResourceMode, Type: typ, Name: name,
			Change: &tfjson.Change{Actions: actions, Before: before, After: after, BeforeSensitive: sensitive, AfterSensitive: sensitive, AfterUnknown: unknown}}
	}
	sens := map[string]any{"password": true}
	outside := &tfjson.Plan{ResourceDrift: []*tfjson.ResourceChange{
		rc("pg_role.app", "pg_role", "app", update,
			map[string]any{"name": "app", "connection_limit": 200.0, "password": "old"},
			map[string]any{"name": "app", "connection_limit": 400.0, "password": "new"}, sens, nil),
		rc("pg_database.shop", "pg_database", "shop", tfjson.Actions{tfjson.ActionDelete}, map[string]any{"name": "shop"}, nil, nil, nil),
		rc("aws_autoscaling_group.web", "aws_autoscaling_group", "web", update,
			map[string]any{"desired_capacity": 2.0, "max_size": 4.0}, map[string]any{"desired_capacity": 5.0, "max_size": 8.0}, nil, nil),
	}}
	next := &tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{
		rc("pg_role.app", "pg_role", "app", update,
			map[string]any{"name": "app", "connection_limit": 400.0, "password": "new"},
			map[string]any{"name": "app", "connection_limit": 200.0, "password": "x"}, sens, nil),
		rc("pg_database.shop", "pg_database", "shop", tfjson.Actions{tfjson.ActionCreate}, nil, map[string]any{"name": "shop"}, nil, nil),
		// max_size 8 was adopted by the module: no finding; desired_capacity is ignored.
		rc("aws_autoscaling_group.web", "aws_autoscaling_group", "web", update,
			map[string]any{"desired_capacity": 5.0, "max_size": 8.0, "arn_suffix": "a"}, map[string]any{"desired_capacity": 2.0, "max_size": 8.0, "arn_suffix": nil}, nil,
			map[string]any{"arn_suffix": true}),
		rc("pg_role.reader", "pg_role", "reader", tfjson.Actions{tfjson.ActionCreate}, nil, map[string]any{"name": "reader"}, nil, nil),
	}}
	ignore := []preview.ProductionIgnore{{Path: "aws_autoscaling_group.*.desired_capacity", Reason: "the autoscaler moves it"}}
	findings, ignored := ProductionFindings(outside, next, src, ignore)
	want := []preview.ProductionFinding{
		{Kind: preview.ProductionDeletedOutside, Address: "pg_database.shop", Where: "main.tf:9"},
		{Kind: preview.ProductionChangedOutside, Address: "pg_role.app", Path: "connection_limit", Live: "400", Module: "200", Where: "main.tf:5"},
		{Kind: preview.ProductionChangedOutside, Address: "pg_role.app", Path: "password", Live: preview.Redacted, Module: preview.Redacted, Where: "main.tf:6"},
		{Kind: preview.ProductionPending, Address: "pg_role.reader", Module: "(added by the module)"},
	}
	if ignored != 1 || len(findings) != len(want) {
		t.Fatalf("ignored %d, findings %+v\nwant 1 and %+v", ignored, findings, want)
	}
	for i := range want {
		if findings[i] != want[i] {
			t.Errorf("finding %d: %+v\nwant %+v", i, findings[i], want[i])
		}
	}
}

// TestRevertWarnings: a preview whose plan sets an attribute production
// changed outside Terraform back to the module's value is warned, with the
// values and the module's line, and its parity is not drift for it; one
// that keeps production's value, or a pending change, is not warned.
func TestRevertWarnings(t *testing.T) {
	prod := preview.ProductionWatch{Findings: []preview.ProductionFinding{
		{Kind: preview.ProductionChangedOutside, Address: "pg_role.app", Path: "connection_limit", Live: "400", Module: "200", Where: "main.tf:31"},
		{Kind: preview.ProductionChangedOutside, Address: "terraform_data.db", Path: "input.max_connections", Live: "50", Module: "100"},
		{Kind: preview.ProductionPending, Address: "pg_role.reader", Path: "login", Live: "false", Module: "true"},
	}}
	pv := &tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{
		{Address: "pg_role.app", Change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionCreate}, After: map[string]any{"name": "app", "connection_limit": 200.0}}},
		{Address: "terraform_data.db", Change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionCreate}, After: map[string]any{"input": map[string]any{"max_connections": 50.0}}}},
		{Address: "pg_role.reader", Change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionCreate}, After: map[string]any{"login": true}}},
	}}
	got := RevertWarnings(pv, prod)
	if len(got) != 1 {
		t.Fatalf("warnings %+v, want one for pg_role.app.connection_limit", got)
	}
	w := got[0]
	want := "production runs `pg_role.app.connection_limit = 400` since a change outside Terraform; merging this pull request and deploying would set it back to `200` (main.tf:31)"
	if w.Kind != preview.FindingRevertsProduction || !w.Warning || w.Reason != want || w.Location != "main.tf:31" || w.Production != "400" || w.Preview != "200" {
		t.Errorf("warning %+v\nwant reason %q", w, want)
	}
	if v := preview.Verdict(got); v != preview.ParityOK {
		t.Errorf("verdict %s on a warning alone, want ok", v)
	}
	if RevertWarnings(pv, preview.ProductionWatch{Error: "unreachable", Findings: prod.Findings}) != nil {
		t.Error("a failed watch warned")
	}
}
