package parity

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	preview "github.com/previewd/previewd"
)

// Defaults for the settings a Config may leave unset.
const (
	DefaultTogglesVariable = "feature_flags"
	DefaultCommandTimeout  = 60 * time.Second
	DefaultHookTimeout     = 10 * time.Minute
	// MinDriftCheckInterval is the shortest drift_check_interval accepted:
	// each check runs a refresh-only plan of every ready environment.
	MinDriftCheckInterval = time.Minute
)

// Config is one repository's parity settings: the `parity:` block of its
// entry under `repos:` in previewd's configuration. The zero Config checks
// variables and plans only, with drift detection and hooks off.
type Config struct {
	// ConfigKeys are pairs of config sources whose keys must match.
	ConfigKeys []ConfigKeys `yaml:"config_keys"`
	// TogglesFile is a JSON file of feature toggles per tier (see Toggles).
	TogglesFile string `yaml:"toggles_file"`
	// TogglesVariable is the module's map variable the toggles are passed
	// in, when the module declares it (default DefaultTogglesVariable).
	TogglesVariable string `yaml:"toggles_variable"`
	// DriftCheckInterval is how often each ready environment gets a
	// refresh-only plan; 0 turns live drift detection off.
	DriftCheckInterval time.Duration `yaml:"drift_check_interval"`
	// DriftReapply re-applies an environment found drifted.
	DriftReapply bool `yaml:"drift_reapply"`
	// SeedCommand runs after an environment's first successful apply.
	SeedCommand []string `yaml:"seed_command"`
	// PreDestroyCommand runs before an environment is destroyed.
	PreDestroyCommand []string `yaml:"pre_destroy_command"`
	// HookSensitiveOutputs gives the seed and pre-destroy commands the
	// module's sensitive outputs too, as PREVIEW_OUTPUT_<NAME>. Off by
	// default: a hook's output goes to the run log.
	HookSensitiveOutputs bool `yaml:"hook_sensitive_outputs"`
	// HookTimeout bounds each hook run (default DefaultHookTimeout).
	HookTimeout time.Duration `yaml:"hook_timeout"`
	// CommandTimeout bounds each config-key command (default
	// DefaultCommandTimeout).
	CommandTimeout time.Duration `yaml:"command_timeout"`
	// ProductionLockFile is the dependency lock file production runs with,
	// when it is not the module's own .terraform.lock.hcl (the default).
	ProductionLockFile string `yaml:"production_lock_file"`
	// EnvPassthrough names the variables copied from previewd's environment
	// into commands' and hooks', besides PATH, HOME and the other harmless
	// ones; a trailing * makes a prefix ("AWS_*"). Names starting with
	// PREVIEWD_ or GITHUB_ are refused.
	EnvPassthrough []string `yaml:"env_passthrough"`
	// BaseDir is the directory relative paths were resolved from and
	// commands run in; ResolvePaths sets it. It is not read from YAML.
	BaseDir string `yaml:"-"`
}

// ConfigKeys is one pair of config sources: every key Production has must
// exist in Preview, except those declared missing in Differences.
type ConfigKeys struct {
	Name        string          `yaml:"name"`
	Production  Source          `yaml:"production"`
	Preview     Source          `yaml:"preview"`
	Differences []KeyDifference `yaml:"differences"`
}

// KeyDifference declares that the preview's source lacks Key on purpose.
type KeyDifference struct {
	Key    string `yaml:"key"`
	Reason string `yaml:"reason"`
}

// Source is where a list of config keys comes from. Exactly one of the
// fields naming a file or a command is set.
type Source struct {
	// EnvFile is a dotenv file: KEY=value lines, # comments, optional
	// "export ", quoted values spanning lines.
	EnvFile string `yaml:"env_file,omitempty"`
	// JSONFile is a JSON object; nested objects' keys are joined with dots.
	JSONFile string `yaml:"json_file,omitempty"`
	// YAMLFile is a YAML mapping; nested mappings' keys are joined with dots.
	YAMLFile string `yaml:"yaml_file,omitempty"`
	// TFVarsFile is a Terraform var file (HCL, or JSON when it ends in
	// .json); object values' keys are joined with dots.
	TFVarsFile string `yaml:"tfvars_file,omitempty"`
	// Command is an argv (no shell) printing keys separated by newlines or
	// other white space, so `aws ssm get-parameters-by-path --query
	// 'Parameters[].Name' --output text` works unchanged. Of a KEY=value
	// word only KEY is kept.
	Command []string `yaml:"command,omitempty"`
	// StripPrefix is removed from each key that starts with it
	// ("/app/prod/").
	StripPrefix string `yaml:"strip_prefix,omitempty"`
}

// kind names the one source set, or "" when none or several are.
func (s Source) kind() (string, error) {
	var set []string
	for name, ok := range map[string]bool{
		"env_file": s.EnvFile != "", "json_file": s.JSONFile != "", "yaml_file": s.YAMLFile != "",
		"tfvars_file": s.TFVarsFile != "", "command": len(s.Command) > 0,
	} {
		if ok {
			set = append(set, name)
		}
	}
	slices.Sort(set)
	switch len(set) {
	case 0:
		return "", errors.New("names no source: set one of env_file, json_file, yaml_file, tfvars_file, command")
	case 1:
		if set[0] == "command" && strings.TrimSpace(s.Command[0]) == "" {
			return "", errors.New("command: the program (first element) is empty")
		}
		return set[0], nil
	default:
		return "", fmt.Errorf("sets %s: set exactly one", strings.Join(set, " and "))
	}
}

// String describes the source without its contents, for error messages.
func (s Source) String() string {
	switch k, _ := s.kind(); k {
	case "env_file":
		return "env_file " + s.EnvFile
	case "json_file":
		return "json_file " + s.JSONFile
	case "yaml_file":
		return "yaml_file " + s.YAMLFile
	case "tfvars_file":
		return "tfvars_file " + s.TFVarsFile
	case "command":
		return "command " + s.Command[0]
	}
	return "no source"
}

// ResolvePaths makes the files c names relative to dir (the directory of the
// configuration file) absolute, and records dir as the directory commands
// run in.
func (c *Config) ResolvePaths(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	abs(&c.TogglesFile)
	abs(&c.ProductionLockFile)
	for i := range c.ConfigKeys {
		for _, s := range []*Source{&c.ConfigKeys[i].Production, &c.ConfigKeys[i].Preview} {
			abs(&s.EnvFile)
			abs(&s.JSONFile)
			abs(&s.YAMLFile)
			abs(&s.TFVarsFile)
		}
	}
	c.BaseDir = dir
}

// TogglesVar returns the module variable toggles are passed in.
func (c Config) TogglesVar() string {
	if c.TogglesVariable == "" {
		return DefaultTogglesVariable
	}
	return c.TogglesVariable
}

// CommandOptions returns how c's config-key commands run.
func (c Config) CommandOptions() CommandOptions {
	return CommandOptions{Dir: c.BaseDir, EnvPassthrough: c.EnvPassthrough, Timeout: orDefault(c.CommandTimeout, DefaultCommandTimeout)}
}

// HookOptions returns how c's seed and pre-destroy commands run.
func (c Config) HookOptions() CommandOptions {
	return CommandOptions{Dir: c.BaseDir, EnvPassthrough: c.EnvPassthrough, Timeout: orDefault(c.HookTimeout, DefaultHookTimeout)}
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// identifier reports whether s can name a Terraform variable.
func identifier(s string) bool {
	if s == "" || !(s[0] == '_' || s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool {
		return !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) < 0
}

// Validate checks every setting and returns the first problem; its message
// names the setting ("config_keys[1].preview: …"), relative to the parity
// block.
func (c Config) Validate() error {
	seen := map[string]bool{}
	for i, ck := range c.ConfigKeys {
		at := fmt.Sprintf("config_keys[%d]", i)
		if strings.TrimSpace(ck.Name) == "" {
			return fmt.Errorf("%s.name: is empty", at)
		}
		if seen[ck.Name] {
			return fmt.Errorf("%s.name: %q is listed twice", at, ck.Name)
		}
		seen[ck.Name] = true
		if _, err := ck.Production.kind(); err != nil {
			return fmt.Errorf("%s.production: %w", at, err)
		}
		if _, err := ck.Preview.kind(); err != nil {
			return fmt.Errorf("%s.preview: %w", at, err)
		}
		for j, d := range ck.Differences {
			if d.Key == "" {
				return fmt.Errorf("%s.differences[%d].key: is empty", at, j)
			}
			if !slices.Contains(preview.Reasons, d.Reason) {
				return fmt.Errorf("%s.differences[%d].reason: %q is not one of %s", at, j, d.Reason, strings.Join(preview.Reasons, ", "))
			}
		}
	}
	if c.TogglesVariable != "" && !identifier(c.TogglesVariable) {
		return fmt.Errorf("toggles_variable: %q is not a variable name", c.TogglesVariable)
	}
	if err := c.validateTimes(); err != nil {
		return err
	}
	for name, argv := range map[string][]string{"seed_command": c.SeedCommand, "pre_destroy_command": c.PreDestroyCommand} {
		if len(argv) > 0 && strings.TrimSpace(argv[0]) == "" {
			return fmt.Errorf("%s: the program (first element) is empty", name)
		}
	}
	return validatePassthrough(c.EnvPassthrough)
}

func (c Config) validateTimes() error {
	switch {
	case c.DriftCheckInterval < 0:
		return fmt.Errorf("drift_check_interval: must not be negative, got %s (0 turns drift checks off)", c.DriftCheckInterval)
	case c.DriftCheckInterval > 0 && c.DriftCheckInterval < MinDriftCheckInterval:
		return fmt.Errorf("drift_check_interval: %s is shorter than %s; each check plans every ready environment", c.DriftCheckInterval, MinDriftCheckInterval)
	case c.DriftReapply && c.DriftCheckInterval == 0:
		return errors.New("drift_reapply: has no effect while drift_check_interval is 0 (off)")
	case c.HookTimeout < 0:
		return fmt.Errorf("hook_timeout: must not be negative, got %s", c.HookTimeout)
	case c.HookTimeout > 0 && len(c.SeedCommand) == 0 && len(c.PreDestroyCommand) == 0:
		return errors.New("hook_timeout: is set but neither seed_command nor pre_destroy_command is")
	case c.CommandTimeout < 0:
		return fmt.Errorf("command_timeout: must not be negative, got %s", c.CommandTimeout)
	}
	return nil
}
