package controller

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPublicPaths(t *testing.T) {
	const data = "/srv/previewd/data"
	module := filepath.Join(t.TempDir(), "shop") // a path of this machine, outside the data directory
	os.Mkdir(module, 0o700)
	bin := filepath.Join(filepath.Dir(module), "bin", "terraform") // missing, in an existing directory's subdirectory
	tests := []struct{ in, want string }{
		{"fork/exec /srv/previewd/data/envs/x/module/bin/preview-web: argument list too long",
			"fork/exec envs/x/module/bin/preview-web: argument list too long"},
		{`open "/srv/previewd/data/envs/x/terraform.tfstate": permission denied`, `open "envs/x/terraform.tfstate": permission denied`},
		{"module directory " + module + " does not exist", "module directory …/shop does not exist"},
		{"exec: " + module + "/terraform: not found; -var-file=/srv/previewd/data/envs/x/previewd.tfvars.json",
			"exec: …/terraform: not found; -var-file=envs/x/previewd.tfvars.json"},
		{"data directory /srv/previewd/data is full", "data directory . is full"},
		{"Get https://api.example.com/v1/x: timeout", "Get https://api.example.com/v1/x: timeout"},
		{"GET /repos/acme/shop/pulls/7: 502", "GET /repos/acme/shop/pulls/7: 502"},
		{"name must match /^[a-z]+$/", "name must match /^[a-z]+$/"},
		{"on main.tf line 12: 3 / 4", "on main.tf line 12: 3 / 4"},
		{"no path here", "no path here"},
	}
	for _, tt := range tests {
		if got := publicPaths(tt.in, data); got != tt.want {
			t.Errorf("publicPaths(%q):\ngot  %q\nwant %q", tt.in, got, tt.want)
		}
	}
	if got := publicPaths("run "+bin, data); !strings.HasPrefix(got, "run /") {
		t.Errorf("a path whose directory does not exist was rewritten: %q", got)
	}
}
