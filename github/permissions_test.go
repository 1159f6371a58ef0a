package github

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// allFeatures is every feature that needs more of GitHub.
var allFeatures = Features{ModulesOnGitHub: true, WaitForChecks: true, ProductionWatch: true}

// checkPermissions reports, as test errors, every request in reqs made with
// an installation's (or a token's) credentials that the App's permissions
// for every feature would not allow: the manifest previewd derives must
// cover every call the client makes. An operation previewd does not know
// the permission of is an error too.
func checkPermissions(t *testing.T, prefix string, reqs []recordedRequest, installationGrant func(auth string) (Grant, bool)) {
	t.Helper()
	s := loadSpec(t)
	app, token := GrantOf(AppPermissions(allFeatures)), GrantOf(TokenPermissions(allFeatures))
	for _, r := range reqs {
		granted, mode := app, "the App's"
		if r.Auth == "" {
			granted, mode = token, "a token's"
		} else if g, ok := installationGrant(r.Auth); ok {
			granted, mode = g, "the installation's"
		}
		op, err := s.findOperation(r.Method, strings.TrimPrefix(r.Path, prefix))
		if err != nil || r.Auth == "jwt" || r.Refused {
			continue // the conformance check reports unknown operations; a refusal was the test's
		}
		id, _ := op.op["operationId"].(string)
		alternatives, ok := OperationGrants(id)
		if !ok {
			if strings.HasPrefix(id, "apps/") {
				continue // the App's own, with its JWT
			}
			t.Errorf("permissions: %s %s (%s): previewd does not know which permission it needs: add it to operationGrants", r.Method, r.Path, id)
			continue
		}
		if !slices.ContainsFunc(alternatives, granted.Allows) {
			t.Errorf("permissions: %s %s (%s) needs one of %v, %s permissions %v allow none", r.Method, r.Path, id, alternatives, mode, granted)
		}
	}
}

// TestEveryPermissionIsNeeded takes each permission away from the App's
// (or lowers write to read): some operation previewd calls or some event
// it takes then fails. The manifest asks for no more than works.
func TestEveryPermissionIsNeeded(t *testing.T) {
	full := GrantOf(AppPermissions(allFeatures))
	breaks := func(g Grant) bool {
		for id, alternatives := range operationGrants {
			if tokenOnly[id] {
				continue
			}
			if !slices.ContainsFunc(alternatives, g.Allows) {
				return true
			}
		}
		return len(MissingForEvents(g, allFeatures)) > 0
	}
	if breaks(full) {
		t.Fatalf("the App's permissions %v do not allow everything previewd does", full)
	}
	for name, level := range full {
		if name == "metadata" {
			continue // every App has it
		}
		less := Grant{}
		for k, v := range full {
			if k != name {
				less[k] = v
			}
		}
		if !breaks(less) {
			t.Errorf("%s: nothing previewd does needs it", name)
		}
		if level == Write {
			less[name] = Read
			if !breaks(less) {
				t.Errorf("%s: read would do, the App asks for write", name)
			}
		}
	}
}

// TestManifestFollowsTheFeatures: the default configuration's App asks for
// no contents and no commit statuses (it writes check runs); modules on
// GitHub add contents and push, waiting for checks adds commit statuses
// (read) and the checks' events. Comments go through
// pull_requests: write, and issues stays read (for issue_comment events)
// unless production is watched: its drift issue needs issues: write, which
// allows the comment too, so pull_requests is read only; the
// issue_comment events stay.
func TestManifestFollowsTheFeatures(t *testing.T) {
	tests := []struct {
		f      Features
		perms  map[string]string
		events []string
	}{
		{Features{}, map[string]string{"metadata": "read", "pull_requests": "write", "issues": "read", "deployments": "write", "checks": "write"},
			[]string{"pull_request", "issue_comment", "check_run", "check_suite"}},
		{Features{ModulesOnGitHub: true}, map[string]string{"metadata": "read", "pull_requests": "write", "issues": "read", "deployments": "write", "checks": "write", "contents": "read"},
			[]string{"pull_request", "issue_comment", "check_run", "check_suite", "push"}},
		{Features{ProductionWatch: true}, map[string]string{"metadata": "read", "pull_requests": "read", "issues": "write", "deployments": "write", "checks": "write"},
			[]string{"pull_request", "issue_comment", "check_run", "check_suite"}},
		{allFeatures, map[string]string{"metadata": "read", "pull_requests": "read", "issues": "write", "deployments": "write", "checks": "write", "contents": "read", "statuses": "read"},
			[]string{"pull_request", "issue_comment", "check_run", "check_suite", "push", "status"}},
	}
	for _, tt := range tests {
		m := NewManifest("previewd", "https://previewd.example.com/", tt.f)
		got, _ := json.Marshal(m.DefaultPermissions)
		want, _ := json.Marshal(tt.perms)
		if string(got) != string(want) || !slices.Equal(m.DefaultEvents, tt.events) {
			t.Errorf("%+v: permissions %s events %v; want %s %v", tt.f, got, m.DefaultEvents, want, tt.events)
		}
		if m.HookAttributes["url"] != "https://previewd.example.com/webhooks/github" {
			t.Errorf("hook url %v", m.HookAttributes["url"])
		}
		if missing := MissingForEvents(GrantOf(AppPermissions(tt.f)), tt.f); len(missing) > 0 {
			t.Errorf("%+v: events %v cannot be subscribed to with the manifest's permissions", tt.f, missing)
		}
	}
	installed := Grant{"metadata": Read, "pull_requests": Write, "issues": Write, "deployments": Write, "statuses": Write}
	if got := Missing(installed, allFeatures); !slices.Equal(got, []string{"checks: write", "contents: read"}) {
		t.Errorf("missing: %v", got)
	}
}

// TestInstallDocsShowTheManifest keeps the manifest in docs/install.md the
// one previewd derives for every feature.
func TestInstallDocsShowTheManifest(t *testing.T) {
	data, err := os.ReadFile("../docs/install.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(data), "```json\n{\n  \"name\": \"previewd\",")
	if !ok {
		t.Fatal("docs/install.md shows no manifest")
	}
	block, _, _ = strings.Cut(block, "```")
	var shown, want map[string]any
	if err := json.Unmarshal([]byte("{\"name\": \"previewd\","+block), &shown); err != nil {
		t.Fatalf("the manifest in docs/install.md: %v", err)
	}
	b, _ := json.Marshal(NewManifest("previewd", "https://previewd.example.com", allFeatures))
	json.Unmarshal(b, &want)
	if !reflect.DeepEqual(shown, want) {
		t.Errorf("docs/install.md's manifest:\n%v\nwant:\n%v", shown, want)
	}
}

// TestTokenPermissionsAllowTokenMode: a token with TokenPermissions may
// call everything token mode calls; the check runs only an App writes are
// not among them.
func TestTokenPermissionsAllowTokenMode(t *testing.T) {
	g := GrantOf(TokenPermissions(allFeatures))
	for id, alternatives := range operationGrants {
		if appOnly[id] {
			if slices.ContainsFunc(alternatives, g.Allows) {
				t.Errorf("%s: a token's permissions allow it, but only an App writes check runs", id)
			}
			continue
		}
		if !slices.ContainsFunc(alternatives, g.Allows) {
			t.Errorf("%s needs one of %v, a token's permissions %v allow none", id, alternatives, g)
		}
	}
}
