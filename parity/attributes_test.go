package parity

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	preview "github.com/previewd/previewd"
)

// lineOf returns "file:line" of the first line of testdata/attributes/file
// containing text.
func lineOf(t *testing.T, file, text string) string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "attributes", file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for n := 1; s.Scan(); n++ {
		if strings.Contains(s.Text(), text) {
			return file + ":" + strconv.Itoa(n)
		}
	}
	t.Fatalf("%s has no line with %q", file, text)
	return ""
}

// attrPlan builds a plan of testdata/attributes as Terraform would show it
// for environment env (production when env is "production").
type attrPlan struct {
	env           string
	pr            int
	instanceClass string
	password      string
	unknownOutput bool // values only known after apply, as in a plan from empty state
}

func (a attrPlan) plan() *tfjson.Plan {
	engine, tier, cacheEngine := "13.11", "bronze", "6.2"
	if a.env == "production" {
		engine, tier, cacheEngine = "15.4", "gold", "7.2"
	}
	db := map[string]any{
		"name": "shop-" + a.env, "engine_version": engine, "instance_class": a.instanceClass,
		"via_local": engine, "password": a.password, "pr": float64(a.pr),
	}
	rc := func(addr, module, name string, input map[string]any) *tfjson.ResourceChange {
		after := map[string]any{"id": "id-" + a.env, "input": input, "output": input, "triggers_replace": nil}
		unknown := map[string]any{}
		if a.unknownOutput {
			unknown = map[string]any{"id": true, "output": true}
			delete(after, "id")
			delete(after, "output")
		}
		sensitive := map[string]any{}
		if _, ok := input["password"]; ok {
			sensitive = map[string]any{"input": map[string]any{"password": true}, "output": map[string]any{"password": true}}
		}
		return &tfjson.ResourceChange{Address: addr, ModuleAddress: module, Mode: tfjson.ManagedResourceMode, Type: "terraform_data", Name: name,
			Change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionCreate}, After: after, AfterUnknown: unknown, AfterSensitive: sensitive}}
	}
	return &tfjson.Plan{
		Variables: map[string]*tfjson.PlanVariable{
			"environment": {Value: a.env}, "pr_number": {Value: float64(a.pr)},
			"instance_class": {Value: a.instanceClass}, "db_password": {Value: a.password},
		},
		ResourceChanges: []*tfjson.ResourceChange{
			rc("terraform_data.database", "", "database", db),
			rc(`terraform_data.regional["eu"]`, "", "regional", map[string]any{"region": "eu-west-1", "tier": tier}),
			rc("module.cache.terraform_data.node", "module.cache", "node", map[string]any{"size": a.instanceClass, "engine": cacheEngine}),
		},
		OutputChanges: map[string]*tfjson.Change{
			"url":          {Actions: tfjson.Actions{tfjson.ActionCreate}, After: "https://" + a.env + ".example.com/"},
			"cache_engine": {Actions: tfjson.Actions{tfjson.ActionCreate}, After: cacheEngine},
		},
	}
}

func TestCompareAttributes(t *testing.T) {
	src, err := LoadModuleSource(filepath.Join("testdata", "attributes"))
	if err != nil {
		t.Fatal(err)
	}
	production := attrPlan{env: "production", instanceClass: "db.r5.2xlarge", password: "prod-secret", unknownOutput: true}.plan()
	pv := attrPlan{env: "feature-x", pr: 7, instanceClass: "db.t3.medium", password: "preview-secret"}.plan()
	findings, stats := CompareAttributes(production, pv, AttributeInputs{Declared: map[string]string{"instance_class": "scale", "db_password": "security"}, Source: src})
	got := map[string]preview.Finding{}
	for _, f := range findings {
		if f.Kind != preview.FindingAttribute {
			t.Errorf("finding of kind %q: %+v", f.Kind, f)
		}
		got[f.Subject] = f
	}
	want := []preview.Finding{
		{Subject: "terraform_data.database.input.engine_version", Production: "15.4", Preview: "13.11",
			Reason: "follows var.environment other than by the environment's name", Location: lineOf(t, "main.tf", "engine_version = var.environment")},
		{Subject: "terraform_data.database.input.via_local", Production: "15.4", Preview: "13.11",
			Reason: "follows var.environment other than by the environment's name", Location: lineOf(t, "main.tf", "via_local")},
		{Subject: "terraform_data.database.input.name", Production: "shop-production", Preview: "shop-feature-x", Declared: true, Identity: true,
			Reason: "identity: differs only by the environment's name", Location: lineOf(t, "main.tf", `name           = "shop-`)},
		{Subject: "terraform_data.database.input.pr", Production: "0", Preview: "7", Declared: true, Identity: true,
			Reason: "identity: differs only by the environment's name", Location: lineOf(t, "main.tf", "pr             = var.pr_number")},
		{Subject: "terraform_data.database.input.instance_class", Production: "db.r5.2xlarge", Preview: "db.t3.medium", Declared: true,
			Reason: "scale", Location: lineOf(t, "main.tf", "instance_class = var.instance_class")},
		{Subject: "terraform_data.database.input.password", Production: Sensitive, Preview: Sensitive, Declared: true,
			Reason: "security", Location: lineOf(t, "main.tf", "password       = var.db_password")},
		{Subject: `terraform_data.regional["eu"].input.tier`, Production: "gold", Preview: "bronze",
			Reason: "follows var.environment other than by the environment's name", Location: lineOf(t, "main.tf", "tier   =")},
		{Subject: "module.cache.terraform_data.node.input.engine", Production: "7.2", Preview: "6.2",
			Reason: "follows var.environment other than by the environment's name", Location: lineOf(t, "modules/cache/main.tf", "engine = var.env")},
		{Subject: "module.cache.terraform_data.node.input.size", Production: "db.r5.2xlarge", Preview: "db.t3.medium", Declared: true,
			Reason: "scale", Location: lineOf(t, "modules/cache/main.tf", "size   = var.size")},
		{Subject: "output.url", Production: "https://production.example.com/", Preview: "https://feature-x.example.com/", Declared: true, Identity: true,
			Reason: "identity: differs only by the environment's name", Location: lineOf(t, "main.tf", `value = "https://`)},
		{Subject: "output.cache_engine", Production: "7.2", Preview: "6.2",
			Reason: "follows var.environment other than by the environment's name", Location: lineOf(t, "main.tf", "value = module.cache.engine")},
	}
	for _, w := range want {
		w.Kind = preview.FindingAttribute
		if g, ok := got[w.Subject]; !ok {
			t.Errorf("no finding for %s", w.Subject)
		} else if g != w {
			t.Errorf("%s:\ngot  %+v\nwant %+v", w.Subject, g, w)
		}
		delete(got, w.Subject)
	}
	for subject, f := range got {
		t.Errorf("unexpected finding for %s: %+v", subject, f)
	}
	// Unknown in production: id and output of each of the three instances.
	if stats.Unknown != 6 || stats.Identity != 3 {
		t.Errorf("stats: got %+v, want 6 unknown, 3 identity", stats)
	}
	for _, f := range findings {
		for _, secret := range []string{"prod-secret", "preview-secret"} {
			if strings.Contains(f.Production+f.Preview+f.Reason, secret) {
				t.Errorf("a finding shows a sensitive value: %+v", f)
			}
		}
	}
}

// TestCompareAttributesOnlyIdentityAndDeclaredIsParity is the false
// positive side: the same module where nothing follows the environment
// other than by name has parity.
func TestCompareAttributesOnlyIdentityAndDeclaredIsParity(t *testing.T) {
	src, err := LoadModuleSource(filepath.Join("testdata", "attributes"))
	if err != nil {
		t.Fatal(err)
	}
	production := attrPlan{env: "production", instanceClass: "db.r5.2xlarge", password: "same", unknownOutput: true}.plan()
	pv := attrPlan{env: "feature-x", pr: 7, instanceClass: "db.t3.medium", password: "same"}.plan()
	drop := func(p *tfjson.Plan) { // no conditional on the environment
		db := p.ResourceChanges[0].Change.After.(map[string]any)["input"].(map[string]any)
		db["engine_version"], db["via_local"] = "15.4", "15.4"
		p.ResourceChanges = p.ResourceChanges[:1]
		delete(p.OutputChanges, "cache_engine")
	}
	drop(production)
	drop(pv)
	findings, stats := CompareAttributes(production, pv, AttributeInputs{Declared: map[string]string{"instance_class": "scale"}, Source: src})
	if v := preview.Verdict(findings); v != preview.ParityOK {
		t.Errorf("verdict: got %s, want ok; findings %+v", v, findings)
	}
	if stats.Identity != 3 || stats.Unknown != 2 {
		t.Errorf("stats: got %+v, want 3 identity, 2 unknown", stats)
	}
	if len(findings) != 4 { // name, pr, url (identity) and instance_class (declared)
		t.Errorf("got %d findings, want 4: %+v", len(findings), findings)
	}
}

func TestCompareAttributesWithoutSourceIsUndeclared(t *testing.T) {
	production := attrPlan{env: "production", instanceClass: "a", password: "p"}.plan()
	pv := attrPlan{env: "feature-x", instanceClass: "b", password: "p"}.plan()
	findings, _ := CompareAttributes(production, pv, AttributeInputs{Declared: map[string]string{"instance_class": "scale"}})
	for _, f := range findings {
		if f.Subject == "terraform_data.database.input.instance_class" {
			if f.Declared || !strings.Contains(f.Reason, "cannot trace") {
				t.Errorf("without the module's source: got %+v, want undeclared, untraceable", f)
			}
			return
		}
	}
	t.Error("no finding for instance_class")
}

func TestIdentity(t *testing.T) {
	production := &tfjson.Plan{Variables: map[string]*tfjson.PlanVariable{"environment": {Value: "production"}, "head_sha": {Value: ""}, "pr_number": {Value: float64(0)}}}
	pv := &tfjson.Plan{Variables: map[string]*tfjson.PlanVariable{"environment": {Value: "feat-x"}, "head_sha": {Value: "abc123"}, "pr_number": {Value: float64(42)}}}
	id := identityOf(production, pv, "/data/scratch/production-123/module", "/data/envs/feat-x/module")
	tests := []struct {
		production, preview string
		want                bool
	}{
		{"/data/scratch/production-123/module/.web/production/0", "/data/envs/feat-x/module/.web/feat-x/0", true},
		{"/data/scratch/production-123/module/.web/production/0", "/data/envs/feat-x/module/.web/other/0", false},
		{"shop-production", "shop-feat-x", true},
		{"https://production.test/?sha=&pr=0", "https://feat-x.test/?sha=abc123&pr=42", true},
		{"15.4", "13.11", false},
		{"production-db", "feat-x-db-2", false},
		{"gold", "bronze", false},
		{"https://production.example.com/", "https://feat-x.example.com/", true},
		{"production_db", "feat-x_db", true},
		// A pull request's number or an empty production value must not
		// make a version or a word look like identity.
		{"8.0", "8.42", false},
		{"v0", "v42", false},
		{"10", "1042", false},
		{"productive", "feat-xive", false},
		{"prod-abc123-x", "prod--x", false},
	}
	for _, tt := range tests {
		if got := id.matches(tt.production, tt.preview); got != tt.want {
			t.Errorf("matches(%q, %q) = %v, want %v", tt.production, tt.preview, got, tt.want)
		}
	}
}

func TestLoadModuleSourceRefusesBrokenHCL(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.tf"), []byte("resource \"x\" \"y\" {\n  a = \n"), 0o600)
	if _, err := LoadModuleSource(dir); err == nil || !strings.Contains(err.Error(), "main.tf:") {
		t.Errorf("got %v, want an error naming main.tf and a line", err)
	}
}

func TestCompareAttributesShowsNothingOfASensitiveMap(t *testing.T) {
	plan := func(env, key string) *tfjson.Plan {
		return &tfjson.Plan{Variables: map[string]*tfjson.PlanVariable{"environment": {Value: env}},
			ResourceChanges: []*tfjson.ResourceChange{{Address: "terraform_data.creds", Mode: tfjson.ManagedResourceMode, Type: "terraform_data", Name: "creds",
				Change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionCreate}, After: map[string]any{"input": map[string]any{key: "s3cret-" + key}},
					AfterSensitive: map[string]any{"input": true}}}}}
	}
	findings, _ := CompareAttributes(plan("production", "prod_key"), plan("feature-x", "preview_key"), AttributeInputs{})
	if len(findings) != 1 || findings[0].Subject != "terraform_data.creds.input" || findings[0].Production != Sensitive || findings[0].Preview != Sensitive {
		t.Errorf("got %+v, want one finding on terraform_data.creds.input, values hidden", findings)
	}
}
