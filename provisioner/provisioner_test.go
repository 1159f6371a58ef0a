package provisioner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	preview "github.com/previewd/previewd"
)

func TestNewValidates(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "terraform")
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
	notExe := filepath.Join(dir, "not-executable")
	os.WriteFile(notExe, nil, 0o644)
	valid := Config{TerraformBin: exe, DataDir: filepath.Join(dir, "data")}

	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"valid", func(*Config) {}, ""},
		{"no binary", func(c *Config) { c.TerraformBin = "" }, "no terraform binary"},
		{"missing binary", func(c *Config) { c.TerraformBin = filepath.Join(dir, "missing") }, "terraform binary"},
		{"binary not executable", func(c *Config) { c.TerraformBin = notExe }, "terraform binary"},
		{"no data dir", func(c *Config) { c.DataDir = "" }, "no data directory"},
		{"PREVIEWD_ passthrough", func(c *Config) { c.EnvPassthrough = []string{"AWS_*", "PREVIEWD_ADMIN_TOKEN"} }, "never passed"},
		{"GITHUB_ passthrough", func(c *Config) { c.EnvPassthrough = []string{"GITHUB_*"} }, "never passed"},
		{"GITHUB_ fixed env", func(c *Config) { c.Env = map[string]string{"GITHUB_TOKEN": "x"} }, "never passed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.change(&cfg)
			_, err := New(cfg)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func TestInvalidEnvironmentName(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "terraform")
	os.WriteFile(exe, []byte("#!/bin/sh\nexit 1\n"), 0o755)
	prov, err := New(Config{TerraformBin: exe, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	p := testProvisioner{Provisioner: prov, modules: fixed(Module{Dir: dir})}
	for _, name := range []string{"", "../escape", "Upper", "a/b"} {
		if _, err := p.Apply(context.Background(), preview.Environment{Name: name}, nil); preview.ErrorCode(err) != preview.EINVALID {
			t.Errorf("Apply(%q): got %v, want EINVALID", name, err)
		}
		if err := p.Destroy(context.Background(), preview.Environment{Name: name}, nil); preview.ErrorCode(err) != preview.EINVALID {
			t.Errorf("Destroy(%q): got %v, want EINVALID", name, err)
		}
	}
}
