package parity

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// decodeConfig decodes a parity block strictly, as previewd's configuration
// loader does.
func decodeConfig(t *testing.T, body string) (Config, error) {
	t.Helper()
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader([]byte(body)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return c, err
	}
	return c, c.Validate()
}

func TestConfigDecodes(t *testing.T) {
	c, err := decodeConfig(t, `
config_keys:
  - name: app-env
    production: {env_file: env/production.env}
    preview: {command: [aws, ssm, get-parameters-by-path, --path, /app/preview], strip_prefix: /app/preview/}
    differences:
      - {key: PAYMENTS_WEBHOOK_SECRET, reason: external-integration}
toggles_file: toggles.json
toggles_variable: flags
drift_check_interval: 30m
drift_reapply: true
seed_command: [./seed.sh, --records, "5000"]
pre_destroy_command: [./dump.sh]
hook_timeout: 5m
command_timeout: 20s
env_passthrough: [AWS_*]
production_lock_file: /srv/production/.terraform.lock.hcl
`)
	if err != nil {
		t.Fatal(err)
	}
	c.ResolvePaths("/etc/previewd")
	checks := []struct {
		name      string
		got, want any
	}{
		{"env file resolved", c.ConfigKeys[0].Production.EnvFile, "/etc/previewd/env/production.env"},
		{"command kept", strings.Join(c.ConfigKeys[0].Preview.Command, " "), "aws ssm get-parameters-by-path --path /app/preview"},
		{"strip prefix", c.ConfigKeys[0].Preview.StripPrefix, "/app/preview/"},
		{"toggles file resolved", c.TogglesFile, filepath.Join("/etc/previewd", "toggles.json")},
		{"toggles variable", c.TogglesVar(), "flags"},
		{"absolute lock file kept", c.ProductionLockFile, "/srv/production/.terraform.lock.hcl"},
		{"drift interval", c.DriftCheckInterval, 30 * time.Minute},
		{"command options", c.CommandOptions().Timeout, 20 * time.Second},
		{"hook options", c.HookOptions().Timeout, 5 * time.Minute},
		{"commands run in the config's directory", c.CommandOptions().Dir, "/etc/previewd"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: got %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	var zero Config
	if zero.TogglesVar() != "feature_flags" || zero.CommandOptions().Timeout != DefaultCommandTimeout || zero.HookOptions().Timeout != DefaultHookTimeout {
		t.Errorf("defaults: got %q %s %s", zero.TogglesVar(), zero.CommandOptions().Timeout, zero.HookOptions().Timeout)
	}
	if err := zero.Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	pair := "config_keys:\n  - name: env\n    production: {env_file: a.env}\n"
	tests := []struct {
		name, body, want string
	}{
		{"unknown setting", "drift_interval: 1h\n", "field drift_interval not found"},
		{"not a duration", "drift_check_interval: often\n", "cannot unmarshal"},
		{"no name", "config_keys:\n  - production: {env_file: a}\n    preview: {env_file: b}\n", "config_keys[0].name: is empty"},
		{"twice", pair + "    preview: {env_file: b.env}\n  - name: env\n    production: {env_file: a}\n    preview: {env_file: b}\n", `config_keys[1].name: "env" is listed twice`},
		{"no preview source", pair, "config_keys[0].preview: names no source"},
		{"two sources", pair + "    preview: {env_file: b.env, json_file: b.json}\n", "config_keys[0].preview: sets env_file and json_file: set exactly one"},
		{"empty command", pair + "    preview: {command: [\"\"]}\n", "config_keys[0].preview: command: the program (first element) is empty"},
		{"unknown source kind", pair + "    preview: {ssm_path: /app}\n", "field ssm_path not found"},
		{"bad key reason", pair + "    preview: {env_file: b.env}\n    differences: [{key: A, reason: convenience}]\n", `config_keys[0].differences[0].reason: "convenience" is not one of scale, data`},
		{"empty key", pair + "    preview: {env_file: b.env}\n    differences: [{reason: cost}]\n", "config_keys[0].differences[0].key: is empty"},
		{"bad toggles variable", "toggles_variable: feature flags\n", `toggles_variable: "feature flags" is not a variable name`},
		{"negative interval", "drift_check_interval: -1m\n", "drift_check_interval: must not be negative"},
		{"interval too short", "drift_check_interval: 10s\n", "drift_check_interval: 10s is shorter than 1m0s"},
		{"reapply without checks", "drift_reapply: true\n", "drift_reapply: has no effect"},
		{"negative hook timeout", "seed_command: [x]\nhook_timeout: -1s\n", "hook_timeout: must not be negative"},
		{"hook timeout without hooks", "hook_timeout: 1m\n", "hook_timeout: is set but neither"},
		{"empty seed program", "seed_command: [\"\", x]\n", "seed_command: the program (first element) is empty"},
		{"negative command timeout", "command_timeout: -1s\n", "command_timeout: must not be negative"},
		{"secret passthrough", "env_passthrough: [AWS_*, PREVIEWD_ADMIN_TOKEN]\n", `env_passthrough[1]: "PREVIEWD_ADMIN_TOKEN": names starting with PREVIEWD_ or GITHUB_`},
		{"passthrough everything", "env_passthrough: [\"*\"]\n", "would pass every variable"},
		{"passthrough github prefix", "env_passthrough: [github_*]\n", "never passed to commands"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeConfig(t, tt.body)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
