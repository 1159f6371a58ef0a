package config

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/previewd/previewd/controller"
	"github.com/previewd/previewd/provisioner"
	"github.com/previewd/previewd/store/postgres"
)

// StopDelay is how long an interrupted Terraform may take to stop before
// its process group is killed (provisioner.Config.WaitDelay): with
// replicas (the postgres store), short enough that it has stopped before
// its lease can pass to another replica; alone, 0, the provisioner's
// default.
func (c *Config) StopDelay() time.Duration {
	if c.Store.Driver != "postgres" {
		return 0
	}
	return controller.StopDelay(c.LeaseTTL)
}

// terraformStoreProblem says which setting would hand Terraform previewd's
// own database, or "": a state backend's conn_str, or a connection string
// in Terraform's environment (terraform.env, or a variable passed through
// from previewd's), that logs in as the store's user to the store's
// database. Any module or provider could then read the run logs, forge
// commands or drop the leases. The state backend gets a role of its own.
// getenv is previewd's environment, which the passthrough reads.
func (c *Config) terraformStoreProblem(getenv func(string) (string, bool)) (setting, problem string) {
	if c.Store.Driver != "postgres" {
		return "", ""
	}
	type candidate struct{ setting, value string }
	var seen []candidate
	for _, s := range c.states() {
		seen = append(seen, candidate{s.setting, s.state.Config["conn_str"]})
	}
	for _, name := range c.Terraform.EnvPassthrough {
		value, _ := getenv(name)
		seen = append(seen, candidate{"terraform.env_passthrough: " + name, value})
	}
	for _, name := range slices.Sorted(maps.Keys(c.Terraform.Env)) {
		seen = append(seen, candidate{"terraform.env: " + name, c.Terraform.Env[name]})
	}
	for _, cand := range seen {
		if !postgres.LooksLikeConnString(cand.value) {
			continue
		}
		same, err := postgres.SameRole(c.Store.URL, cand.value)
		if err != nil || same {
			return cand.setting, "connects as previewd's own store user to its database, which would let every module read and change previewd's records: give Terraform's state a database and a role of its own (docs/install.md, Running several replicas)"
		}
	}
	return "", ""
}

// stateLockProblem says which state, with replicas sharing the postgres
// store, has no lock to keep two Terraform processes of one environment
// apart, or "".
func (c *Config) stateLockProblem() (setting, problem string) {
	if c.Store.Driver != "postgres" {
		return "", ""
	}
	for _, s := range c.states() {
		if p := provisioner.LockProblem(s.state); p != "" {
			return s.setting, p + ": with store.driver postgres, state must be remote and locked"
		}
	}
	return "", ""
}

type namedState struct {
	setting string
	state   provisioner.State
}

// states returns the state settings environments use: the default, when a
// repository without its own (or any repository) may use it, and each
// repository's own.
func (c *Config) states() []namedState {
	var out []namedState
	if len(c.Repos) == 0 || slices.ContainsFunc(c.Repos, func(r RepoConfig) bool { return r.State == nil }) {
		out = append(out, namedState{"state", c.State.Provisioner()})
	}
	for _, r := range c.Repos {
		if r.State != nil {
			out = append(out, namedState{fmt.Sprintf("repos[%s].state", r.Name), r.State.Provisioner()})
		}
	}
	return out
}
