package provisioner

import (
	"maps"
	"strings"
	"testing"
)

func TestTerraformEnv(t *testing.T) {
	environ := []string{
		"PATH=/usr/bin", "HOME=/home/previewd", "LANG=C.UTF-8", "https_proxy=http://proxy:3128",
		"PREVIEWD_WEBHOOK_SECRET=hook", "PREVIEWD_ADMIN_TOKEN=admin", "GITHUB_TOKEN=ghp_x",
		"AWS_REGION=eu-west-1", "AWS_SECRET_ACCESS_KEY=aws", "AWS_X=1",
		"TF_VAR_password=pw", "TF_LOG=TRACE", "TF_CLI_ARGS=-no-color", "TF_DATA_DIR=/elsewhere",
		"UNLISTED=1", "NOEQUALS",
	}
	tests := []struct {
		name        string
		passthrough []string
		fixed       map[string]string
		want        map[string]string
	}{{
		name: "defaults only",
		want: map[string]string{
			"PATH": "/usr/bin", "HOME": "/home/previewd", "LANG": "C.UTF-8", "https_proxy": "http://proxy:3128",
			"CHECKPOINT_DISABLE": "1", "TF_DATA_DIR": "/data/envs/x/.terraform",
		},
	}, {
		name:        "names and prefixes",
		passthrough: []string{"AWS_REGION", "AWS_SECRET_*"},
		want: map[string]string{
			"PATH": "/usr/bin", "HOME": "/home/previewd", "LANG": "C.UTF-8", "https_proxy": "http://proxy:3128",
			"CHECKPOINT_DISABLE": "1", "TF_DATA_DIR": "/data/envs/x/.terraform",
			"AWS_REGION": "eu-west-1", "AWS_SECRET_ACCESS_KEY": "aws",
		},
	}, {
		name:        "broad prefixes never pass forbidden or managed names",
		passthrough: []string{"P*", "G*", "T*"},
		want: map[string]string{
			"PATH": "/usr/bin", "HOME": "/home/previewd", "LANG": "C.UTF-8", "https_proxy": "http://proxy:3128",
			"CHECKPOINT_DISABLE": "1", "TF_DATA_DIR": "/data/envs/x/.terraform",
		},
	}, {
		name:  "fixed values win over passed ones, own values over both",
		fixed: map[string]string{"HOME": "/srv", "CHECKPOINT_DISABLE": "", "EXTRA": "e"},
		want: map[string]string{
			"PATH": "/usr/bin", "HOME": "/srv", "LANG": "C.UTF-8", "https_proxy": "http://proxy:3128",
			"CHECKPOINT_DISABLE": "", "EXTRA": "e", "TF_DATA_DIR": "/data/envs/x/.terraform",
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := terraformEnv(environ, tt.passthrough, tt.fixed, map[string]string{"TF_DATA_DIR": "/data/envs/x/.terraform"})
			if !maps.Equal(got, tt.want) {
				t.Errorf("got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestValidatePassthrough(t *testing.T) {
	tests := []struct {
		names []string
		want  string // "" for valid
	}{
		{nil, ""},
		{[]string{"AWS_*", "GOOGLE_APPLICATION_CREDENTIALS", "TF_TOKEN_*", "G*"}, ""},
		{[]string{"PREVIEWD_WEBHOOK_SECRET"}, "never passed"},
		{[]string{"PREVIEWD_*"}, "never passed"},
		{[]string{"GITHUB_TOKEN"}, "never passed"},
		{[]string{"*"}, "every variable"},
		{[]string{""}, "every variable"},
		{[]string{"A*B"}, "not a name"},
		{[]string{"A=B"}, "not a name"},
		{[]string{"TF_VAR_db_password"}, "terraform-exec manages"},
		{[]string{"TF_VAR_*"}, "terraform-exec manages"},
		{[]string{"TF_LOG"}, "terraform-exec manages"},
		{[]string{"TF_DATA_DIR"}, "previewd sets"},
	}
	for _, tt := range tests {
		err := validatePassthrough(tt.names)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("validatePassthrough(%q): got %v, want %q", tt.names, err, tt.want)
		}
	}
}

func TestValidateFixedEnv(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"AWS_PROFILE": "preview"}, ""},
		{map[string]string{"GITHUB_TOKEN": "x"}, "never passed"},
		{map[string]string{"github_token": "x"}, "never passed"},
		{map[string]string{"tf_data_dir": "x"}, "previewd sets"},
		{map[string]string{"PREVIEWD_ADMIN_TOKEN": "x"}, "never passed"},
		{map[string]string{"TF_CLI_ARGS_plan": "x"}, "terraform-exec manages"},
		{map[string]string{"TF_PLUGIN_CACHE_DIR": "x"}, "previewd sets"},
		{map[string]string{"A=B": "x"}, "not a variable name"},
	}
	for _, tt := range tests {
		err := validateFixedEnv(tt.env)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("validateFixedEnv(%v): got %v, want %q", tt.env, err, tt.want)
		}
	}
}
