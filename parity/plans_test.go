package parity

import (
	"slices"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	preview "github.com/previewd/previewd"
)

// A hand-made plan: a web tier counted by a local (untraceable), regions by
// for_each over a variable, an aws resource in a module called once per
// var.replicas, and a provider constraint.
const craftedProduction = `{
  "planned_values": {"root_module": {
    "resources": [
      {"address": "terraform_data.web[0]", "provider_name": "terraform.io/builtin/terraform"},
      {"address": "terraform_data.web[1]", "provider_name": "terraform.io/builtin/terraform"},
      {"address": "terraform_data.region[\"eu\"]", "provider_name": "terraform.io/builtin/terraform"},
      {"address": "terraform_data.region[\"us\"]", "provider_name": "terraform.io/builtin/terraform"}
    ],
    "child_modules": [
      {"address": "module.db[0]", "resources": [{"address": "module.db[0].aws_db_instance.main", "provider_name": "registry.terraform.io/hashicorp/aws"}]},
      {"address": "module.db[1]", "resources": [{"address": "module.db[1].aws_db_instance.main", "provider_name": "registry.terraform.io/hashicorp/aws"}]}
    ]
  }},
  "configuration": {
    "provider_config": {"aws": {"name": "aws", "full_name": "registry.terraform.io/hashicorp/aws", "version_constraint": "~> 5.0"}},
    "root_module": {
      "resources": [
        {"address": "terraform_data.web", "count_expression": {"references": ["local.web_count"]}},
        {"address": "terraform_data.region", "for_each_expression": {"references": ["var.regions"]}}
      ],
      "module_calls": {"db": {
        "count_expression": {"references": ["var.replicas"]},
        "module": {"resources": [{"address": "aws_db_instance.main"}]}
      }}
    }
  }
}`

const craftedPreview = `{
  "planned_values": {"root_module": {
    "resources": [
      {"address": "terraform_data.web[0]", "provider_name": "terraform.io/builtin/terraform"},
      {"address": "terraform_data.region[\"eu\"]", "provider_name": "terraform.io/builtin/terraform"},
      {"address": "terraform_data.region[\"ap\"]", "provider_name": "terraform.io/builtin/terraform"}
    ]
  }},
  "configuration": {
    "provider_config": {"aws": {"name": "aws", "full_name": "registry.terraform.io/hashicorp/aws", "version_constraint": "~> 5.0"}},
    "root_module": {
      "resources": [
        {"address": "terraform_data.web", "count_expression": {"references": ["local.web_count"]}},
        {"address": "terraform_data.region", "for_each_expression": {"references": ["var.regions"]}}
      ],
      "module_calls": {"db": {
        "count_expression": {"references": ["var.replicas"]},
        "module": {"resources": [{"address": "aws_db_instance.main"}]}
      }}
    }
  }
}`

func TestComparePlans(t *testing.T) {
	prodPlan, prevPlan := loadPlan(t, "production.json"), loadPlan(t, "preview.json")
	craftedProd, craftedPrev := decodePlan(t, craftedProduction), decodePlan(t, craftedPreview)
	const builtin = "terraform.io/builtin/terraform"
	aws := "registry.terraform.io/hashicorp/aws"
	debugOnlyInPreview := preview.Finding{
		Kind: preview.FindingResource, Subject: "terraform_data.debug", Production: "absent", Preview: "1 instance",
		Reason: "count or for_each follows var.environment, not a declared difference",
	}
	tests := []struct {
		name                string
		production, preview *tfjson.Plan
		declared            []preview.Difference
		want                []preview.Finding
	}{
		{name: "same plan", production: prodPlan, preview: prodPlan},
		{
			name: "count follows a declared difference; a resource only in the preview",
			// web and the cache module follow instance_count, declared for
			// scale; debug exists because environment is not production.
			production: prodPlan, preview: prevPlan,
			declared: []preview.Difference{{Variable: "instance_count", Value: 1, Reason: "scale"}},
			want: []preview.Finding{
				{Kind: preview.FindingResource, Subject: "module.cache.terraform_data.node", Production: "3 instances", Preview: "1 instance", Declared: true, Reason: "scale"},
				debugOnlyInPreview,
				{Kind: preview.FindingResource, Subject: "terraform_data.web", Production: "3 instances", Preview: "1 instance", Declared: true, Reason: "scale"},
			},
		},
		{
			name:       "count follows an undeclared variable",
			production: prodPlan, preview: prevPlan,
			want: []preview.Finding{
				{Kind: preview.FindingResource, Subject: "module.cache.terraform_data.node", Production: "3 instances", Preview: "1 instance", Reason: "count or for_each follows var.instance_count, not a declared difference"},
				debugOnlyInPreview,
				{Kind: preview.FindingResource, Subject: "terraform_data.web", Production: "3 instances", Preview: "1 instance", Reason: "count or for_each follows var.instance_count, not a declared difference"},
			},
		},
		{
			name:       "module count, for_each keys, untraceable local, provider used by production only",
			production: craftedProd, preview: craftedPrev,
			declared: []preview.Difference{{Variable: "replicas", Value: 0, Reason: "cost"}, {Variable: "regions", Value: []string{"eu", "ap"}, Reason: "data"}},
			want: []preview.Finding{
				{Kind: preview.FindingResource, Subject: "module.db.aws_db_instance.main", Production: "2 instances", Preview: "absent", Declared: true, Reason: "cost"},
				{Kind: preview.FindingResource, Subject: "terraform_data.region", Production: `2 instances: ["eu"], ["us"]`, Preview: `2 instances: ["ap"], ["eu"]`, Declared: true, Reason: "data"},
				{Kind: preview.FindingResource, Subject: "terraform_data.web", Production: "2 instances", Preview: "1 instance", Reason: "count or for_each follows local.web_count, which parity cannot trace to a declared difference"},
				{Kind: preview.FindingProviderVersion, Subject: aws, Production: "in use, ~> 5.0", Preview: "not used", Declared: true, Reason: "cost"},
			},
		},
		{
			name:       "provider used only by an undeclared difference",
			production: craftedProd, preview: craftedPrev,
			declared: []preview.Difference{{Variable: "regions", Value: []string{"eu", "ap"}, Reason: "data"}},
			want: []preview.Finding{
				{Kind: preview.FindingResource, Subject: "module.db.aws_db_instance.main", Production: "2 instances", Preview: "absent", Reason: "count or for_each follows var.replicas, not a declared difference"},
				{Kind: preview.FindingResource, Subject: "terraform_data.region", Production: `2 instances: ["eu"], ["us"]`, Preview: `2 instances: ["ap"], ["eu"]`, Declared: true, Reason: "data"},
				{Kind: preview.FindingResource, Subject: "terraform_data.web", Production: "2 instances", Preview: "1 instance", Reason: "count or for_each follows local.web_count, which parity cannot trace to a declared difference"},
				{Kind: preview.FindingProviderVersion, Subject: aws, Production: "in use, ~> 5.0", Preview: "not used", Reason: "used only by resources that differ without a declaration"},
			},
		},
		{
			name:       "version constraints differ",
			production: craftedProd,
			preview:    decodePlan(t, `{"planned_values": {"root_module": {"child_modules": [{"resources": [{"address": "module.db[0].aws_db_instance.main", "provider_name": "registry.terraform.io/hashicorp/aws"}, {"address": "module.db[1].aws_db_instance.main", "provider_name": "registry.terraform.io/hashicorp/aws"}]}], "resources": [{"address": "terraform_data.web[0]", "provider_name": "`+builtin+`"}, {"address": "terraform_data.web[1]", "provider_name": "`+builtin+`"}, {"address": "terraform_data.region[\"eu\"]", "provider_name": "`+builtin+`"}, {"address": "terraform_data.region[\"us\"]", "provider_name": "`+builtin+`"}]}}, "configuration": {"provider_config": {"aws": {"full_name": "registry.terraform.io/hashicorp/aws", "version_constraint": "~> 4.0"}}}}`),
			want: []preview.Finding{
				{Kind: preview.FindingProviderVersion, Subject: aws, Production: "in use, ~> 5.0", Preview: "in use, ~> 4.0", Reason: "version constraints differ"},
			},
		},
		{
			name:       "no planned values: resource changes that do not delete",
			production: decodePlan(t, `{"resource_changes": [{"address": "a.x", "provider_name": "p", "change": {"actions": ["create"]}}, {"address": "a.y", "provider_name": "p", "change": {"actions": ["delete"]}}]}`),
			preview:    decodePlan(t, `{"resource_changes": [{"address": "a.y", "provider_name": "p", "change": {"actions": ["no-op"]}}, {"address": "a.x", "provider_name": "p", "change": {"actions": ["delete", "create"]}}]}`),
			want: []preview.Finding{
				{Kind: preview.FindingResource, Subject: "a.y", Production: "absent", Preview: "1 instance", Reason: "not explained by a declared difference"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ComparePlans(tt.production, tt.preview, tt.declared); !slices.Equal(got, tt.want) {
				t.Errorf("got\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestStripInstanceKeys(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"aws_instance.web", "aws_instance.web"},
		{"aws_instance.web[0]", "aws_instance.web"},
		{`module.a["x"].aws_instance.web[3]`, "module.a.aws_instance.web"},
		{`aws_instance.web["a]b\"c"]`, "aws_instance.web"},
		{"data.aws_ami.ubuntu", "data.aws_ami.ubuntu"},
	}
	for _, tt := range tests {
		if got := stripInstanceKeys(tt.addr); got != tt.want {
			t.Errorf("stripInstanceKeys(%q): got %q, want %q", tt.addr, got, tt.want)
		}
	}
}

func TestCountDriversThroughModules(t *testing.T) {
	plan := decodePlan(t, `{"configuration": {"root_module": {"module_calls": {"outer": {
		"expressions": {"size": {"references": ["var.instance_count"]}, "fixed": {"constant_value": 2}},
		"module": {"module_calls": {"inner": {
			"expressions": {"n": {"references": ["var.size"]}, "m": {"references": ["var.fixed"]}},
			"for_each_expression": {"references": ["var.zones"]},
			"module": {"resources": [
				{"address": "terraform_data.a", "count_expression": {"references": ["var.n"]}},
				{"address": "terraform_data.b", "count_expression": {"references": ["var.m"]}},
				{"address": "terraform_data.c", "count_expression": {"references": ["var.unset"]}}
			]}
		}}}
	}}}}}`)
	got := countDrivers(plan)
	tests := []struct {
		addr string
		want []string
	}{
		{"module.outer.module.inner.terraform_data.a", []string{"instance_count"}}, // zones is the outer module's own variable, left to its default
		{"module.outer.module.inner.terraform_data.b", nil},
		{"module.outer.module.inner.terraform_data.c", nil},
	}
	for _, tt := range tests {
		d, ok := got[tt.addr]
		if !ok {
			t.Errorf("%s: no drivers found", tt.addr)
			continue
		}
		var vars []string
		for v := range d.vars {
			vars = append(vars, v)
		}
		slices.Sort(vars)
		if !slices.Equal(vars, tt.want) || len(d.untraced) > 0 {
			t.Errorf("%s: got %v (untraced %v), want %v", tt.addr, vars, d.untraced, tt.want)
		}
	}
}
