package parity

import (
	"slices"
	"testing"

	preview "github.com/previewd/previewd"
)

func TestParseEngine(t *testing.T) {
	tests := []struct {
		in      string
		want    Engine
		wantErr bool
	}{
		{"", Engine{}, false},
		{"1.5.7", Engine{Version: "1.5.7"}, false},
		{"Terraform v1.5.7", Engine{Name: "terraform", Version: "1.5.7"}, false},
		{"OpenTofu v1.8.2", Engine{Name: "opentofu", Version: "1.8.2"}, false},
		{"tofu 1.8.2", Engine{Name: "opentofu", Version: "1.8.2"}, false},
		{"pulumi 3.0.0", Engine{}, true},
		{"terraform latest", Engine{}, true},
		{"a b c", Engine{}, true},
	}
	for _, tt := range tests {
		got, err := ParseEngine(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseEngine(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
	if got, err := ParseEngineBanner("Terraform v1.5.7\non linux_amd64\n"); err != nil || got != (Engine{"terraform", "1.5.7"}) {
		t.Errorf("banner: got %+v, %v", got, err)
	}
}

func TestCompareEngine(t *testing.T) {
	running := Engine{Name: "terraform", Version: "1.5.7"}
	subjects := func(fs []preview.Finding) []string {
		var out []string
		for _, f := range fs {
			if f.Kind != preview.FindingEngineVersion || f.Declared {
				t.Errorf("finding %+v: want an undeclared engine_version", f)
			}
			out = append(out, f.Subject)
		}
		return out
	}
	tests := []struct {
		name       string
		production Engine
		required   []string
		want       []string
	}{
		{"same engine and version", Engine{"terraform", "1.5.7"}, []string{">= 1.4"}, nil},
		{"version only, equal", Engine{Version: "v1.5.7"}, nil, nil},
		{"nothing said about production", Engine{}, nil, nil},
		{"another version", Engine{"terraform", "1.6.0"}, nil, []string{"version"}},
		{"another engine", Engine{"opentofu", "1.5.7"}, nil, []string{"engine"}},
		{"required_version excludes it", Engine{}, []string{">= 1.6"}, []string{"required_version"}},
		{"all wrong", Engine{"opentofu", "1.8.2"}, []string{"~> 1.8"}, []string{"engine", "version", "required_version"}},
	}
	for _, tt := range tests {
		if got := subjects(CompareEngine(running, tt.production, tt.required)); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}
