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
