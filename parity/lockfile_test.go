package parity

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	preview "github.com/previewd/previewd"
)

func readLock(t *testing.T, name string) []byte {
	t.Helper()
	if name == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join("testdata", "locks", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCompareLockFiles(t *testing.T) {
	const aws, random, tls = "registry.terraform.io/hashicorp/aws", "registry.terraform.io/hashicorp/random", "registry.terraform.io/hashicorp/tls"
	tests := []struct {
		name                string
		production, preview string
		want                []preview.Finding
		wantErr             string
	}{
		{name: "same file", production: "production.lock.hcl", preview: "production.lock.hcl"},
		{name: "no lock files", production: "", preview: ""},
		{
			name: "version mismatch, providers in one only", production: "production.lock.hcl", preview: "preview-mismatch.lock.hcl",
			want: []preview.Finding{
				{Kind: preview.FindingProviderVersion, Subject: aws, Production: "5.31.0", Preview: "5.40.0", Reason: "locked at another version"},
				{Kind: preview.FindingProviderVersion, Subject: random, Production: "3.6.0", Preview: "not locked", Reason: "locked only by production"},
				{Kind: preview.FindingProviderVersion, Subject: tls, Production: "not locked", Preview: "4.0.5", Reason: "locked only by the preview: production's lock file does not pin it"},
			},
		},
		{
			name: "production has no lock file", production: "", preview: "preview-mismatch.lock.hcl",
			want: []preview.Finding{
				{Kind: preview.FindingProviderVersion, Subject: aws, Production: "not locked", Preview: "5.40.0", Reason: "locked only by the preview: production's lock file does not pin it"},
				{Kind: preview.FindingProviderVersion, Subject: tls, Production: "not locked", Preview: "4.0.5", Reason: "locked only by the preview: production's lock file does not pin it"},
			},
		},
		{name: "provider without version", production: "bad.lock.hcl", preview: "production.lock.hcl", wantErr: `read production's .terraform.lock.hcl: line 1: provider "registry.terraform.io/hashicorp/aws" has no version`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CompareLockFiles(readLock(t, tt.production), readLock(t, tt.preview))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("got %+v, %v\nwant %+v", got, err, tt.want)
			}
		})
	}
	if _, err := CompareLockFiles([]byte("provider {"), nil); err == nil || !strings.Contains(err.Error(), "production's .terraform.lock.hcl") {
		t.Errorf("unparsable lock file: got %v", err)
	}
}
