package github

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"slices"
	"testing"

	preview "github.com/previewd/previewd"
)

// TestAppNameAndInstallations reads the App and its installations' grants
// as GitHub lists them, and a key GitHub refuses fails GET /app.
func TestAppNameAndInstallations(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := newTestApp(t, f, map[int64][]string{101: {"acme/shop"}, 102: {"globex/site"}}, newFakeClock())
	f.mu.Lock()
	f.app.grants = map[int64]Grant{102: {"metadata": Read, "pull_requests": Write, "issues": Read, "deployments": Write, "statuses": Write}}
	f.app.events = map[int64][]string{102: {"pull_request", "issue_comment"}}
	f.mu.Unlock()
	ctx := context.Background()

	name, err := c.AppName(ctx)
	if err != nil || name != "previewd" {
		t.Fatalf("AppName = %q, %v; want previewd", name, err)
	}
	insts, err := c.Installations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(insts) != 2 || insts[0].Account != "acme" || insts[1].Account != "globex" {
		t.Fatalf("installations = %+v, want acme's and globex's", insts)
	}
	if got := Missing(insts[0].Permissions, allFeatures); len(got) != 0 {
		t.Errorf("acme lacks %v, want nothing", got)
	}
	if got, want := Missing(insts[1].Permissions, allFeatures), []string{"checks: write", "contents: read", "issues: write"}; !slices.Equal(got, want) {
		t.Errorf("globex lacks %v, want %v", got, want)
	}
	if got, want := insts[1].Events, []string{"issue_comment", "pull_request"}; !slices.Equal(got, want) {
		t.Errorf("globex's events = %v, want %v", got, want)
	}

	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := NewApp(Config{BaseURL: f.URL(), AppID: testAppID, Render: render, Retry: newFakeClock().policy(),
		PrivateKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(other)})})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrong.AppName(ctx); preview.ErrorCode(err) != preview.EUNAUTHORIZED {
		t.Errorf("wrong key: AppName err = %v, want unauthorized", err)
	}

	token, err := NewClient(Config{BaseURL: f.URL(), Token: "t", Render: render})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := token.Installations(ctx); preview.ErrorCode(err) != preview.EINVALID {
		t.Errorf("token mode: err = %v, want invalid", err)
	}
}

// TestLacksNamesTheSetting: each permission an installation lacks names
// the setting that needs it; an App from before production watches lacks
// issues: write, for production.state.
func TestLacksNamesTheSetting(t *testing.T) {
	inst := Installation{Permissions: Grant{"metadata": Read, "pull_requests": Write, "issues": Read, "deployments": Write},
		Events: []string{"check_run", "check_suite", "issue_comment", "pull_request"}}
	var got []string
	for _, l := range inst.Lacks(allFeatures) {
		got = append(got, l.Name+" for "+l.Setting)
	}
	want := []string{"issues: write for production.state", "checks: write for github.app_id", "statuses: read for wait_for_checks",
		"contents: read for module_source", "push for module_source", "status for wait_for_checks"}
	if !slices.Equal(got, want) {
		t.Errorf("lacks %q, want %q", got, want)
	}
}
