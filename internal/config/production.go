package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/provisioner"
)

// ProductionWatchConfig watches production read-only: its real state, how
// often, and the attributes expected to move there.
type ProductionWatchConfig struct {
	// State is production's real state, read with read-only credentials;
	// no backend: no watch.
	State ProductionStateConfig `yaml:"state"`
	// WatchInterval is how often production is looked at (0: only when
	// asked).
	WatchInterval time.Duration `yaml:"watch_interval"`
	// Ignore lists attributes expected to move, each with why: counted,
	// not reported.
	Ignore []preview.ProductionIgnore `yaml:"ignore"`
}

// ProductionStateConfig is production's state: a remote backend and its
// settings (never credentials: those come through Terraform's
// environment), and production's workspace.
type ProductionStateConfig struct {
	Backend   string            `yaml:"backend"`
	Config    map[string]string `yaml:"config"`
	Workspace string            `yaml:"workspace"`
}

// Provisioner is s as the provisioner takes it.
func (s ProductionStateConfig) Provisioner() provisioner.ProductionState {
	return provisioner.ProductionState{State: provisioner.State{Backend: s.Backend, Config: s.Config}, Workspace: s.Workspace}
}

// problem says what is wrong with s, or "".
func (s ProductionStateConfig) problem() string {
	switch {
	case s.Backend == "":
		if len(s.Config) > 0 || s.Workspace != "" {
			return "backend is empty: name production's state backend (s3, gcs, azurerm, pg …)"
		}
		return ""
	case s.Backend == "local":
		return "backend local is previewd's own disk, not production's state: name the remote backend production keeps its state in"
	}
	return provisioner.StateProblem(provisioner.State{Backend: s.Backend, Config: s.Config})
}

// ProductionWatch is repository repo's watch of production: its own
// production.state, else the top level's; its own watch_interval, else
// the top level's; the top level's ignore list then its own. ok is false
// when repo has no entry in repos or no production state to watch.
func (c *Config) ProductionWatch(repo string) (ProductionWatchConfig, bool) {
	i := slices.IndexFunc(c.Repos, func(r RepoConfig) bool { return strings.EqualFold(r.Name, repo) })
	if i < 0 {
		return ProductionWatchConfig{}, false
	}
	own := c.Repos[i].Production
	w := ProductionWatchConfig{State: c.Production.State, WatchInterval: c.Production.WatchInterval,
		Ignore: append(slices.Clone(c.Production.Ignore), own.Ignore...)}
	if own.State != nil {
		w.State = *own.State
	}
	if own.WatchInterval != nil {
		w.WatchInterval = *own.WatchInterval
	}
	return w, w.State.Backend != ""
}

// WatchedProduction is every repository whose production is watched, with
// its interval.
func (c *Config) WatchedProduction() map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, r := range c.Repos {
		if w, ok := c.ProductionWatch(r.Name); ok {
			out[r.Name] = w.WatchInterval
		}
	}
	return out
}

// productionWatchProblem checks the top level's production block and each
// repository's.
func (c *Config) productionWatchProblem() error {
	if problem := c.Production.State.problem(); problem != "" {
		return badSetting("production.state", "%s", problem)
	}
	if err := ignoreProblem(c.Production.Ignore); err != nil {
		return badSetting("production.ignore", "%v", err)
	}
	for i, r := range c.Repos {
		p := r.Production
		if p.State != nil {
			if problem := p.State.problem(); problem != "" {
				return fmt.Errorf("config: repos[%d] (%s): production.state: %s", i, r.Name, problem)
			}
		}
		if p.WatchInterval != nil && *p.WatchInterval < 0 {
			return fmt.Errorf("config: repos[%d] (%s): production.watch_interval: cannot be negative", i, r.Name)
		}
		if err := ignoreProblem(p.Ignore); err != nil {
			return fmt.Errorf("config: repos[%d] (%s): production.ignore: %v", i, r.Name, err)
		}
	}
	return nil
}

// ignoreProblem checks an ignore list: each entry an attribute path with
// a reason.
func ignoreProblem(ignore []preview.ProductionIgnore) error {
	for j, i := range ignore {
		switch {
		case strings.TrimSpace(i.Path) == "" || !strings.Contains(i.Path, "."):
			return fmt.Errorf("[%d].path: %q is not an attribute path (aws_autoscaling_group.web.desired_capacity)", j, i.Path)
		case strings.TrimSpace(i.Reason) == "":
			return fmt.Errorf("[%d].reason: say why %s is expected to move", j, i.Path)
		}
	}
	return nil
}
