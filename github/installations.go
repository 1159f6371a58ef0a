package github

import (
	"context"
	"fmt"
	"slices"

	gh "github.com/google/go-github/v60/github"

	preview "github.com/previewd/previewd"
)

// Installation is one installation of the App as GitHub lists it: the
// account it is on, the permissions granted and the events subscribed to.
type Installation struct {
	ID          int64
	Account     string // the user or organisation login
	Permissions Grant
	Events      []string // sorted
	Suspended   bool
}

// AppName returns the App's name from GET /app, called with the App's
// JWT: the call that fails first when the App ID or private key is wrong
// (an error with code unauthorized for a key GitHub refuses). In token mode
// it returns an error with code invalid. It blocks for one request.
func (c *Client) AppName(ctx context.Context) (string, error) {
	if c.app == nil {
		return "", errTokenApp
	}
	var app *gh.App
	err := c.app.jwt.do(ctx, read, func(ctx context.Context, api *gh.Client) (err error) {
		app, _, err = api.Apps.Get(ctx, "")
		return err
	})
	if err != nil {
		return "", fmt.Errorf("get the App %d: %w", c.app.appID, classify(err))
	}
	return app.GetName(), nil
}

// Installations returns every installation of the App with its
// permissions and events (GET /app/installations, with the App's JWT). In
// token mode it returns an error with code invalid. It blocks for one
// request per page.
func (c *Client) Installations(ctx context.Context) ([]Installation, error) {
	if c.app == nil {
		return nil, errTokenApp
	}
	list, err := c.app.listInstallations(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Installation, len(list))
	for i, inst := range list {
		out[i] = installationOf(inst)
	}
	return out, nil
}

// installationOf converts go-github's installation.
func installationOf(inst *gh.Installation) Installation {
	grant := Grant{}
	if p := inst.GetPermissions(); p != nil {
		for name, level := range permissionLevels(p) {
			if level != nil && (*level == string(Read) || *level == string(Write)) {
				grant[name] = Access(*level)
			}
		}
	}
	events := slices.Clone(inst.Events)
	slices.Sort(events)
	return Installation{ID: inst.GetID(), Account: inst.GetAccount().GetLogin(), Permissions: grant,
		Events: events, Suspended: inst.SuspendedAt != nil}
}

// permissionLevels names the installation permissions previewd asks for
// (see AppPermissions).
func permissionLevels(p *gh.InstallationPermissions) map[string]*string {
	return map[string]*string{
		"metadata": p.Metadata, "pull_requests": p.PullRequests, "issues": p.Issues,
		"deployments": p.Deployments, "statuses": p.Statuses, "checks": p.Checks, "contents": p.Contents,
	}
}

// errTokenApp is the App calls' answer in token mode.
var errTokenApp = preview.Errorf(preview.EINVALID, "in token mode there is no App: set github.app_id to use one")

// Lack is a permission or event an installation lacks, and the setting
// whose use needs it: github.app_id for what every previewd App needs,
// wait_for_checks, production.state or module_source for what those add
// (see Features).
type Lack struct {
	Requirement
	Event   bool
	Setting string
}

// Lacks returns the permissions ("checks: read") and then the events of f
// that inst lacks, each with the setting that needs it.
func (inst Installation) Lacks(f Features) []Lack {
	var lacks []Lack
	for _, r := range AppPermissions(f) {
		if !inst.Permissions.Allows(Grant{r.Name: r.Access}) {
			setting := featureSetting(r, AppPermissions)
			r.Name += ": " + string(r.Access)
			lacks = append(lacks, Lack{Requirement: r, Setting: setting})
		}
	}
	for _, r := range Events(f) {
		if !slices.Contains(inst.Events, r.Name) {
			lacks = append(lacks, Lack{Requirement: r, Event: true, Setting: featureSetting(r, Events)})
		}
	}
	return lacks
}

// featureSetting names the setting that makes a requirement needed (the
// permission at its level or above, or the event): none of the features,
// wait_for_checks, production.state, or module_source.
func featureSetting(need Requirement, of func(Features) []Requirement) string {
	needs := func(f Features) bool {
		return GrantOf(of(f)).Allows(Grant{need.Name: need.Access})
	}
	switch {
	case needs(Features{}):
		return "github.app_id"
	case needs(Features{WaitForChecks: true}):
		return "wait_for_checks"
	case needs(Features{ProductionWatch: true}):
		return "production.state"
	default:
		return "module_source"
	}
}
