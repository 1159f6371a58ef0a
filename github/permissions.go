package github

import (
	"maps"
	"slices"
	"strings"
)

// Access is the level of an App permission: "read" or "write" (write
// includes read).
type Access string

// Access levels.
const (
	Read  Access = "read"
	Write Access = "write"
)

// Grant is a set of App permissions, as a manifest's default_permissions
// and an installation's permissions name them ("pull_requests": "write").
type Grant map[string]Access

// Allows reports whether g holds each permission of need at its level or
// above.
func (g Grant) Allows(need Grant) bool {
	for name, level := range need {
		if have, ok := g[name]; !ok || (level == Write && have != Write) {
			return false
		}
	}
	return true
}

// operationGrants are, for each REST operation previewd calls with an
// installation's token (by GitHub's OpenAPI operationId), the permission
// sets that allow it: any one of them will do. From GitHub's "Permissions
// required for GitHub Apps"; metadata is granted to every App. Calls made
// with the App's JWT (installations, tokens, the delivery log) need no
// installation permission and are not listed. issues/create, get and
// update are the production drift issue's: on an issue, unlike on a pull
// request, pull_requests does not do.
var operationGrants = map[string][]Grant{
	"pulls/list":                                 {{"pull_requests": Read}},
	"pulls/get":                                  {{"pull_requests": Read}},
	"issues/list-comments":                       {{"issues": Read}, {"pull_requests": Read}},
	"issues/create-comment":                      {{"issues": Write}, {"pull_requests": Write}},
	"issues/update-comment":                      {{"issues": Write}, {"pull_requests": Write}},
	"reactions/create-for-issue-comment":         {{"issues": Write}, {"pull_requests": Write}},
	"issues/create":                              {{"issues": Write}},
	"issues/get":                                 {{"issues": Read}},
	"issues/update":                              {{"issues": Write}},
	"repos/get-collaborator-permission-level":    {{"metadata": Read}},
	"repos/create-deployment":                    {{"deployments": Write}},
	"repos/create-deployment-status":             {{"deployments": Write}},
	"repos/list-deployments":                     {{"deployments": Read}},
	"repos/create-commit-status":                 {{"statuses": Write}},
	"repos/get-combined-status-for-ref":          {{"statuses": Read}},
	"repos/list-commit-statuses-for-ref":         {{"statuses": Read}},
	"checks/list-for-ref":                        {{"checks": Read}},
	"checks/create":                              {{"checks": Write}},
	"checks/update":                              {{"checks": Write}},
	"checks/get":                                 {{"checks": Read}},
	"checks/list-suites-for-ref":                 {{"checks": Read}},
	"apps/list-repos-accessible-to-installation": {{"metadata": Read}},
}

// tokenOnly are the operations only token mode calls: a token cannot
// write check runs, so previewd writes commit statuses with it.
var tokenOnly = map[string]bool{"repos/create-commit-status": true}

// appOnly are the operations only App mode calls.
var appOnly = map[string]bool{"checks/create": true, "checks/update": true}

// OperationGrants returns the permission sets that allow the REST
// operation id (any one of them), and whether previewd knows it.
func OperationGrants(id string) ([]Grant, bool) {
	g, ok := operationGrants[id]
	return g, ok
}

// eventGrants are the permission each webhook event previewd takes needs
// for an App to subscribe to it.
var eventGrants = map[string]Grant{
	"pull_request":  {"pull_requests": Read},
	"issue_comment": {"issues": Read},
	"push":          {"contents": Read},
	"check_run":     {"checks": Read},
	"check_suite":   {"checks": Read},
	"status":        {"statuses": Read},
}

// Features are what a configuration uses that needs more of GitHub than
// the pull request's comment, deployment and status.
type Features struct {
	// ModulesOnGitHub: a module_source on GitHub (base//DIR, or a git
	// source on GitHub's host) is fetched with the installation's token,
	// and a push event says when production's module moved.
	ModulesOnGitHub bool
	// WaitForChecks: heads wait for check runs and commit statuses, and
	// their events say when those changed.
	WaitForChecks bool
	// ProductionWatch: production is watched (production.state), and its
	// drift reported in a GitHub issue that previewd opens, edits, closes
	// and reopens.
	ProductionWatch bool
}

// Requirement is one permission or event the App needs, and why.
type Requirement struct {
	Name   string // "pull_requests", or an event's name
	Access Access // "" for an event
	Why    string
}

// AppPermissions returns the least permissions an App needs for f, each
// with why. Comments, their reactions and replies go through the pull
// request's permission (pull_requests: write allows them on a pull
// request), so issues is read only: GitHub delivers issue_comment
// events, the /preview commands, only to Apps that may read issues. A
// production watch needs issues: write for its drift issue, which allows
// comments on pull requests too: pull_requests is then read only.
func AppPermissions(f Features) []Requirement {
	pulls := Requirement{"pull_requests", Write, "the comment, replies and reactions to commands; resync lists open pull requests"}
	issues := Requirement{"issues", Read, "issue_comment events: the /preview commands"}
	if f.ProductionWatch {
		pulls = Requirement{"pull_requests", Read, "resync lists open pull requests; pull_request events (the comment goes through issues: write)"}
		issues = Requirement{"issues", Write, "the production drift issue; the comment, replies and reactions to commands; issue_comment events: the /preview commands"}
	}
	req := []Requirement{
		{"metadata", Read, "collaborators' permissions, for commands and approvals (every App has it)"},
		pulls,
		issues,
		{"deployments", Write, `the "View deployment" button and its statuses`},
		{"checks", Write, "the previewd and previewd/parity check runs (wait_for_checks reads the head's others)"},
	}
	if f.WaitForChecks {
		req = append(req, Requirement{"statuses", Read, "wait_for_checks: the commit statuses of a head, and their events"})
	}
	if f.ModulesOnGitHub {
		req = append(req, Requirement{"contents", Read, "module_source on GitHub: fetching the module with the installation's token, and push events"})
	}
	return req
}

// TokenPermissions returns the least permissions a token needs for f (a
// fine-grained token, or an installation's): the App's, with commit
// statuses written instead of check runs.
func TokenPermissions(f Features) []Requirement {
	var req []Requirement
	for _, r := range AppPermissions(f) {
		switch r.Name {
		case "checks":
			r = Requirement{"statuses", Write, "the previewd and previewd/parity commit statuses; wait_for_checks: a head's commit statuses"}
		case "statuses":
			r = Requirement{"checks", Read, "wait_for_checks: the check runs of a head, and their events"}
		}
		req = append(req, r)
	}
	return req
}

// Events returns the webhook events an App needs for f, each with why.
func Events(f Features) []Requirement {
	ev := []Requirement{
		{Name: "pull_request", Why: "open, push, close, labels"},
		{Name: "issue_comment", Why: "/preview commands"},
		{Name: "check_run", Why: "the Redeploy and Re-check buttons and Re-run on previewd's check runs; with wait_for_checks, a head's checks changed"},
		{Name: "check_suite", Why: "Re-run all on previewd's checks; with wait_for_checks, a head's checks changed"},
	}
	if f.ModulesOnGitHub {
		ev = append(ev, Requirement{Name: "push", Why: "production's module moved (else polled every module_poll_interval)"})
	}
	if f.WaitForChecks {
		ev = append(ev, Requirement{Name: "status", Why: "a head's commit statuses changed"})
	}
	return ev
}

// GrantOf returns requirements as a Grant.
func GrantOf(req []Requirement) Grant {
	g := Grant{}
	for _, r := range req {
		g[r.Name] = r.Access
	}
	return g
}

// Manifest is a GitHub App manifest, for registering the App from it
// (POST /app-manifests/{code}/conversions exchanges what GitHub returns).
type Manifest struct {
	Name               string            `json:"name"`
	URL                string            `json:"url"`
	HookAttributes     map[string]any    `json:"hook_attributes"`
	RedirectURL        string            `json:"redirect_url,omitempty"`
	Public             bool              `json:"public"`
	DefaultPermissions map[string]string `json:"default_permissions"`
	DefaultEvents      []string          `json:"default_events"`
}

// NewManifest returns the manifest of a previewd App named name, served
// at publicURL, for a configuration using f.
func NewManifest(name, publicURL string, f Features) Manifest {
	base := strings.TrimRight(publicURL, "/")
	m := Manifest{Name: name, URL: base, HookAttributes: map[string]any{"url": base + "/webhooks/github", "active": true},
		DefaultPermissions: map[string]string{}}
	for _, p := range AppPermissions(f) {
		m.DefaultPermissions[p.Name] = string(p.Access)
	}
	for _, e := range Events(f) {
		m.DefaultEvents = append(m.DefaultEvents, e.Name)
	}
	return m
}

// MissingForEvents returns the events of f that grant g does not let an
// App subscribe to, sorted.
func MissingForEvents(g Grant, f Features) []string {
	var missing []string
	for _, e := range Events(f) {
		if !g.Allows(eventGrants[e.Name]) {
			missing = append(missing, e.Name)
		}
	}
	return slices.Sorted(slices.Values(missing))
}

// Missing returns the permissions of f that grant g lacks ("checks: read"),
// sorted.
func Missing(g Grant, f Features) []string {
	need := GrantOf(AppPermissions(f))
	var missing []string
	for _, name := range slices.Sorted(maps.Keys(need)) {
		if !g.Allows(Grant{name: need[name]}) {
			missing = append(missing, name+": "+string(need[name]))
		}
	}
	return missing
}
