// Package preflight checks, before the first pull request does, what a
// preview needs: the GitHub App's credentials and each installation's
// permissions and events, each module source, each state backend with the
// credentials runs get, the engine's version against production's, and
// the store. Each check's result names the setting at fault and the fix.
// The package declares what it checks as small interfaces;
// internal/preflightcheck fits GitHub, the module resolver and the
// provisioner to them, and cmd/previewd the store.
package preflight

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	preview "github.com/previewd/previewd"
)

// Status is a check's outcome.
type Status string

// The outcomes of a check. A warning does not stop previews from running.
const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "fail"
)

// Result is one check's outcome. Setting and Fix are set when Status is
// not OK.
type Result struct {
	Check   string `json:"check"`
	Status  Status `json:"status"`
	Setting string `json:"setting,omitempty"`
	Detail  string `json:"detail,omitempty"`
	Fix     string `json:"fix,omitempty"`
}

// App is the GitHub App, called with its JWT.
type App interface {
	// AppName is the App's name; an error with code unauthorized means
	// GitHub refused the App's credentials.
	AppName(ctx context.Context) (string, error)
	// Installations lists the App's installations and what each lacks.
	Installations(ctx context.Context) ([]Installation, error)
}

// Installation is one installation of the App and what it lacks of what
// the configuration needs.
type Installation struct {
	Account   string
	Suspended bool
	Lacks     []Lack
}

// Lack is one permission ("checks: read") or event ("check_run") an
// installation lacks, the setting that needs it and why.
type Lack struct {
	Name    string
	Event   bool
	Setting string
	Why     string
}

// ModuleSource is one repository's module source.
type ModuleSource struct {
	Repo    string
	Source  string
	Setting string // "module_source", or "repos[owner/name].module_source"
}

// Modules resolves a module source as an apply would (its ref, now).
type Modules interface {
	ResolveModule(ctx context.Context, m ModuleSource) error
}

// Backend is one distinct state backend and the repositories using it.
type Backend struct {
	Type    string            // "pg", "s3" …
	Config  map[string]string // the backend's settings
	Setting string            // "state", or "repos[owner/name].state"
	Repos   []string
}

// States initialises a state backend with the credentials runs get, in a
// scratch workspace it deletes again.
type States interface {
	CheckState(ctx context.Context, b Backend) error
}

// Production is the engine a repository's production runs.
type Production struct {
	Repo    string
	Version string // "1.5.7", "opentofu 1.8.2"
	Setting string
}

// Engine compares the engine previewd runs with production's.
type Engine interface {
	// EngineBanner is the engine previewd runs ("Terraform v1.5.7").
	EngineBanner(ctx context.Context) (string, error)
	// CompareEngine returns how banner differs from production's version.
	CompareEngine(banner, production string) ([]preview.Finding, error)
}

// Store is previewd's store.
type Store interface {
	Ping(ctx context.Context) error
}

// Checks is what to check; a nil interface skips its checks.
type Checks struct {
	App          App
	AppSetting   string // "github.app_id"
	Modules      Modules
	Sources      []ModuleSource
	States       States
	Backends     []Backend
	Engine       Engine
	Productions  []Production
	EngineSetter string // the setting naming the binary: "terraform.bin"
	Store        Store
	StoreSetting string // "store.url" or "data_dir"
	// Timeout bounds each check; 0 is a minute.
	Timeout time.Duration
}

// Store checks' name, which Down looks for.
const storeCheck = "store"

// Run runs every check concurrently, each within Timeout, and returns
// their results in a fixed order: the App, the installations, the module
// sources, the state backends, the engine, the store. It blocks until all
// are done or ctx ends.
func (c Checks) Run(ctx context.Context) []Result {
	var jobs []func(context.Context) []Result
	if c.App != nil {
		jobs = append(jobs, c.app, c.installations)
	}
	if c.Modules != nil {
		for _, m := range c.Sources {
			jobs = append(jobs, func(ctx context.Context) []Result { return []Result{c.module(ctx, m)} })
		}
	}
	if c.States != nil {
		for _, b := range c.Backends {
			jobs = append(jobs, func(ctx context.Context) []Result { return []Result{c.state(ctx, b)} })
		}
	}
	if c.Engine != nil {
		jobs = append(jobs, c.engine)
	}
	if c.Store != nil {
		jobs = append(jobs, func(ctx context.Context) []Result { return []Result{c.store(ctx)} })
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	out := make([][]Result, len(jobs))
	var wg sync.WaitGroup
	for i, job := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			out[i] = job(ctx)
		}()
	}
	wg.Wait()
	var all []Result
	for _, r := range out {
		all = append(all, r...)
	}
	return all
}

// Failed reports whether any result failed.
func Failed(results []Result) bool {
	for _, r := range results {
		if r.Status == Fail {
			return true
		}
	}
	return false
}

// Down reports whether the store check failed: previewd cannot serve.
func Down(results []Result) bool {
	for _, r := range results {
		if r.Check == storeCheck && r.Status == Fail {
			return true
		}
	}
	return false
}

func (c Checks) app(ctx context.Context) []Result {
	name, err := c.App.AppName(ctx)
	if err == nil {
		return []Result{{Check: "github app", Status: OK, Detail: fmt.Sprintf("the App %q accepts previewd's credentials", name)}}
	}
	fix := "check that " + c.AppSetting + " and github.app_private_key_file are the App's ID and a private key from its settings → Private keys"
	if preview.ErrorCode(err) != preview.EUNAUTHORIZED {
		fix = "check github.api_url and that GitHub can be reached from here"
	}
	return []Result{{Check: "github app", Status: Fail, Setting: c.AppSetting, Detail: err.Error(), Fix: fix}}
}

func (c Checks) installations(ctx context.Context) []Result {
	list, err := c.App.Installations(ctx)
	if err != nil {
		return []Result{{Check: "github installations", Status: Fail, Setting: c.AppSetting, Detail: err.Error(),
			Fix: "check the App's credentials (" + c.AppSetting + ") and that GitHub can be reached"}}
	}
	if len(list) == 0 {
		return []Result{{Check: "github installations", Status: Warn, Setting: c.AppSetting, Detail: "the App is installed nowhere",
			Fix: "install the App on the repositories previewd serves (the App's page → Install App)"}}
	}
	var results []Result
	for _, inst := range list {
		results = append(results, installationResult(inst))
	}
	return results
}

// installationResult is one installation's result: ok, or a failure
// naming what it lacks and the setting that needs it.
func installationResult(inst Installation) Result {
	check := "github installation " + inst.Account
	if inst.Suspended {
		return Result{Check: check, Status: Warn, Setting: "github.app_id", Detail: "the installation on " + inst.Account + " is suspended",
			Fix: "unsuspend it in " + inst.Account + "'s settings → GitHub Apps, or its repositories get no previews"}
	}
	if len(inst.Lacks) == 0 {
		return Result{Check: check, Status: OK, Detail: "permissions and events as the configuration needs"}
	}
	var lacks, settings, where []string
	for _, l := range inst.Lacks {
		kind, place := "", "Permissions"
		if l.Event {
			kind, place = "the event ", "Subscribe to events"
		}
		lacks = append(lacks, fmt.Sprintf("%s%s, which %s needs (%s)", kind, l.Name, l.Setting, l.Why))
		settings = appendNew(settings, l.Setting)
		where = appendNew(where, place)
	}
	return Result{Check: check, Status: Fail, Setting: strings.Join(settings, ", "),
		Detail: "the installation on " + inst.Account + " lacks " + strings.Join(lacks, "; "),
		Fix: "grant it in the App's settings → Permissions & events (" + strings.Join(where, ", ") + "), then accept the new permissions on " +
			inst.Account + "'s installation; or unset the setting that needs it"}
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

func (c Checks) module(ctx context.Context, m ModuleSource) Result {
	check := "module " + m.Repo
	if err := c.Modules.ResolveModule(ctx, m); err != nil {
		return Result{Check: check, Status: Fail, Setting: m.Setting, Detail: err.Error(),
			Fix: "check " + m.Setting + " (" + m.Source + "): the repository must exist, the ref must name a branch, tag or commit, and previewd must be allowed to fetch it"}
	}
	return Result{Check: check, Status: OK, Detail: m.Source + " resolves"}
}

func (c Checks) state(ctx context.Context, b Backend) Result {
	check := "state " + b.Type + " (" + strings.Join(b.Repos, ", ") + ")"
	if err := c.States.CheckState(ctx, b); err != nil {
		return Result{Check: check, Status: Fail, Setting: b.Setting, Detail: err.Error(),
			Fix: "check " + b.Setting + "'s settings, and that the backend's credentials reach Terraform's environment (terraform.env_passthrough or terraform.env)"}
	}
	return Result{Check: check, Status: OK, Detail: "initialised, and a scratch workspace created and deleted"}
}

// engine compares the engine with each repository's production: a
// mismatch warns, as previews still run; each pull request's parity check
// reports it as undeclared drift until production's version is matched.
func (c Checks) engine(ctx context.Context) []Result {
	banner, err := c.Engine.EngineBanner(ctx)
	if err != nil {
		return []Result{{Check: "engine", Status: Fail, Setting: c.EngineSetter, Detail: err.Error(),
			Fix: "set " + c.EngineSetter + " to a Terraform or OpenTofu binary previewd can run"}}
	}
	results := []Result{{Check: "engine", Status: OK, Detail: banner}}
	for _, p := range c.Productions {
		if p.Version == "" {
			continue
		}
		check := "engine " + p.Repo
		findings, err := c.Engine.CompareEngine(banner, p.Version)
		switch {
		case err != nil:
			results = append(results, Result{Check: check, Status: Fail, Setting: p.Setting, Detail: err.Error(), Fix: "set " + p.Setting + " to a version such as 1.5.7"})
		case len(findings) > 0:
			var diffs []string
			for _, f := range findings {
				diffs = append(diffs, fmt.Sprintf("%s: production %s, previewd %s", f.Subject, f.Production, f.Preview))
			}
			results = append(results, Result{Check: check, Status: Warn, Setting: p.Setting, Detail: strings.Join(diffs, "; "),
				Fix: "run production's engine (" + c.EngineSetter + ") or correct " + p.Setting + "; until then each pull request's parity check reports the difference"})
		default:
			results = append(results, Result{Check: check, Status: OK, Detail: "production runs " + p.Version})
		}
	}
	return results
}

func (c Checks) store(ctx context.Context) Result {
	if err := c.Store.Ping(ctx); err != nil {
		return Result{Check: storeCheck, Status: Fail, Setting: c.StoreSetting, Detail: err.Error(),
			Fix: "check " + c.StoreSetting + ": the database must be reachable with those credentials"}
	}
	return Result{Check: storeCheck, Status: OK, Detail: "answers"}
}
