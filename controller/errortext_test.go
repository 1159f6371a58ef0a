package controller

import "testing"

func TestPublicPaths(t *testing.T) {
	const data = "/srv/previewd/data"
	tests := []struct{ in, want string }{
		{"fork/exec /srv/previewd/data/envs/x/module/bin/preview-web: argument list too long",
			"fork/exec envs/x/module/bin/preview-web: argument list too long"},
		{`open "/srv/previewd/data/envs/x/terraform.tfstate": permission denied`, `open "envs/x/terraform.tfstate": permission denied`},
		{"module directory /srv/infra/shop does not exist", "module directory …/shop does not exist"},
		{"exec: /usr/local/bin/terraform: not found; -var-file=/srv/previewd/data/envs/x/previewd.tfvars.json",
			"exec: …/terraform: not found; -var-file=envs/x/previewd.tfvars.json"},
		{"data directory /srv/previewd/data is full", "data directory . is full"},
		{"Get https://api.example.com/v1/x: timeout", "Get https://api.example.com/v1/x: timeout"},
		{"/srv/previewd/database is not ours", "…/database is not ours"},
		{"on main.tf line 12: 3 / 4", "on main.tf line 12: 3 / 4"},
		{"no path here", "no path here"},
	}
	for _, tt := range tests {
		if got := publicPaths(tt.in, data); got != tt.want {
			t.Errorf("publicPaths(%q):\ngot  %q\nwant %q", tt.in, got, tt.want)
		}
	}
}
