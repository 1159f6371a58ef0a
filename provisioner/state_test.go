package provisioner

import (
	"strings"
	"testing"

	preview "github.com/previewd/previewd"
)

// TestBackendSettings is the table docs/terraform.md's state section shows: what
// previewd writes for each backend (the backend configuration file init
// reads, and the override's backend block), and the settings it refuses.
func TestBackendSettings(t *testing.T) {
	tests := []struct {
		name     string
		state    State
		file     string // the backend configuration file; "" for none
		override string // the backend block of the override file
	}{
		{"local, the default", State{}, "", `"local": {`},
		{"s3", State{Backend: "s3", Config: map[string]string{"bucket": "acme-tfstate", "key": "shop/terraform.tfstate", "region": "eu-west-1", "dynamodb_table": "tf-locks"}},
			`bucket         = "acme-tfstate"
dynamodb_table = "tf-locks"
key            = "shop/terraform.tfstate"
region         = "eu-west-1"
`, `"s3": {}`},
		{"gcs", State{Backend: "gcs", Config: map[string]string{"bucket": "acme-tfstate", "prefix": "shop"}},
			`bucket = "acme-tfstate"
prefix = "shop"
`, `"gcs": {}`},
		{"azurerm", State{Backend: "azurerm", Config: map[string]string{"resource_group_name": "tfstate", "storage_account_name": "acmetfstate", "container_name": "tfstate", "key": "shop.tfstate"}},
			`container_name       = "tfstate"
key                  = "shop.tfstate"
resource_group_name  = "tfstate"
storage_account_name = "acmetfstate"
`, `"azurerm": {}`},
		{"a template sequence is escaped (both engines read it back literally)", State{Backend: "pg", Config: map[string]string{"conn_str": "postgres://db/${x}%{y}"}},
			`conn_str = "postgres://db/$${x}%%{y}"
`, `"pg": {}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if problem := StateProblem(tt.state); problem != "" {
				t.Fatalf("refused: %s", problem)
			}
			if tt.state.Remote() {
				if got := string(backendFile(tt.state)); got != tt.file {
					t.Errorf("backend file:\n%s\nwant:\n%s", got, tt.file)
				}
			} else if tt.file != "" {
				t.Fatal("a local state has no backend file")
			}
			override, err := backendOverrideFor(tt.state, "../terraform.tfstate")
			if err != nil || !strings.Contains(string(override), tt.override) {
				t.Errorf("override: %s, %v; want it to hold %s", override, err, tt.override)
			}
		})
	}
}

func TestStateProblem(t *testing.T) {
	tests := []struct {
		state State
		want  string
	}{
		{State{Backend: "http", Config: map[string]string{"address": "https://x"}}, "has no workspaces"},
		{State{Backend: "remote"}, "workspaces block"},
		{State{Backend: "cloud"}, "workspaces block"},
		{State{Backend: "local", Config: map[string]string{"path": "/shared/terraform.tfstate"}}, "takes no settings"},
		{State{Config: map[string]string{"path": "x"}}, "takes no settings"},
		{State{Backend: "S3"}, "not a Terraform backend type"},
		{State{Backend: "s3; rm -rf"}, "not a Terraform backend type"},
		{State{Backend: "pg", Config: map[string]string{"conn str": "x"}}, "not a backend setting name"},
		{State{Backend: "pg", Config: map[string]string{"workspace": "default"}}, "would choose the workspace"},
		{State{Backend: "s3", Config: map[string]string{"bucket": "b", "key": "k", "workspace_key_prefix": ""}}, "may not be empty"},
	}
	for _, tt := range tests {
		if got := StateProblem(tt.state); !strings.Contains(got, tt.want) || tt.want == "" {
			t.Errorf("StateProblem(%+v) = %q, want it to say %q", tt.state, got, tt.want)
		}
	}
}

// TestOverrideFilesMayNotSetABackend refuses a module whose override file,
// Terraform's or OpenTofu's, sets a backend or a cloud block: sorting after
// previewd's own override, it would take an environment's state elsewhere
// (production's). So is a module with a file of previewd's override's
// name in either engine's extensions: OpenTofu reads
// zz_previewd_override.tofu.json instead of previewd's .tf.json.
func TestOverrideFilesMayNotSetABackend(t *testing.T) {
	tests := []struct {
		file, body, want string
	}{
		{"zzz_override.tf", "terraform {\n  backend \"s3\" {\n    bucket = \"prod\"\n  }\n}\n", "zzz_override.tf sets a backend"},
		{"override.tf.json", `{"terraform": {"cloud": {"organization": "acme"}}}`, "override.tf.json sets a backend"},
		{"zzz_override.tofu", "terraform {\n  backend \"s3\" {\n    bucket = \"prod\"\n  }\n}\n", "zzz_override.tofu sets a backend"},
		{"override.tofu", "terraform {\n  cloud {\n    organization = \"acme\"\n  }\n}\n", "override.tofu sets a backend"},
		{"zzz_override.tofu.json", `{"terraform": {"backend": {"local": {"path": "/srv/prod.tfstate"}}}}`, "zzz_override.tofu.json sets a backend"},
		{"override.tofu.json", `{"terraform": {"cloud": {"organization": "acme"}}}`, "override.tofu.json sets a backend"},
		{"zz_previewd_override.tf.json", `{}`, "has a file named zz_previewd_override.tf.json"},
		{"zz_previewd_override.tofu.json", `{}`, "has a file named zz_previewd_override.tofu.json"},
		{"zz_previewd_override.tofu", "locals {\n  x = 1\n}\n", "has a file named zz_previewd_override.tofu:"},
		{"zz_previewd_override.tf", "locals {\n  x = 1\n}\n", "has a file named zz_previewd_override.tf:"},
		{"zzz_override.tofu", "locals {\n  x = 1\n}\n", ""},
		{"zzz_override.tf", "locals {\n  x = 1\n}\n", ""},
		{"backend.tf", "terraform {\n  backend \"s3\" {}\n}\n", ""}, // the module's own backend: previewd's override wins
	}
	for _, tt := range tests {
		dir := t.TempDir()
		writeTree(t, dir, map[string]string{"main.tf": "variable \"environment\" {}\noutput \"url\" {\n  value = \"x\"\n}\n", tt.file: tt.body})
		_, err := checkModule(Module{Dir: dir}, preview.Environment{Repo: "acme/shop"})
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v, want it accepted", tt.file, err)
		case tt.want != "" && (preview.ErrorCode(err) != preview.EINVALID || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: %v, want EINVALID saying %q", tt.file, err, tt.want)
		}
	}
}
