package config

import (
	"flag"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

var updateDocs = flag.Bool("update", false, "rewrite docs/configuration.md's settings table from the settings table")

// configurationDoc is the settings reference, seen from this package.
const configurationDoc = "../../docs/configuration.md"

// settingsTableHeader starts the reference's table of settings.
const settingsTableHeader = "| YAML key | variable | type | meaning | default |\n|---|---|---|---|---|\n"

// settingsReference renders the settings table as the reference's
// Markdown table.
func settingsReference() string {
	kinds := map[string]string{
		"string": "text", "int": "whole number", "float": "number", "bool": "`true` or `false`",
		"duration": "duration", "list": "list", "map": "mapping", "records": "list of entries",
	}
	var b strings.Builder
	b.WriteString(settingsTableHeader)
	for _, s := range settings() {
		variable, def := "—", "—"
		if s.Var != "" {
			variable = "`" + s.Var + "`"
		}
		switch {
		case s.shown != "":
			def = s.shown
		case s.def != "":
			def = "`" + s.def + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", s.Key, variable, kinds[s.Kind], s.doc, def)
	}
	return b.String()
}

// TestDocsConfigurationTable keeps docs/configuration.md's settings table
// the settings table's rendering. With -update it rewrites the table:
//
//	go test ./internal/config -run TestDocsConfigurationTable -update
func TestDocsConfigurationTable(t *testing.T) {
	data, err := os.ReadFile(configurationDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	start := strings.Index(doc, "| YAML key | variable |")
	if start < 0 {
		t.Fatal("docs/configuration.md has no settings table")
	}
	end := strings.Index(doc[start:], "\n\n")
	if end < 0 {
		t.Fatal("docs/configuration.md's settings table has no end")
	}
	end += start + 1
	want := settingsReference()
	if *updateDocs {
		if err := os.WriteFile(configurationDoc, []byte(doc[:start]+want+doc[end:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got := doc[start:end]; got != want {
		t.Errorf("docs/configuration.md's settings table is not the settings table's (-file +table); "+
			"run go test ./internal/config -run TestDocsConfigurationTable -update:\n%s", lineDiff(got, want))
	}
}

// lineDiff lists the lines only a has (-) and only b has (+), in order.
func lineDiff(a, b string) string {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	// lcs[i][j] is the longest common subsequence of x[i:] and y[j:].
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			i, j = i+1, j+1
		case j < len(y) && (i == len(x) || lcs[i][j+1] >= lcs[i+1][j]):
			fmt.Fprintf(&out, "+%s\n", y[j])
			j++
		default:
			fmt.Fprintf(&out, "-%s\n", x[i])
			i++
		}
	}
	return out.String()
}

// TestDefaultConfigIsTheTable pins the defaults operators rely on, which
// DefaultConfig takes from the settings table, and checks each default
// passes its setting's own check.
func TestDefaultConfigIsTheTable(t *testing.T) {
	want := Config{
		ListenAddr: "127.0.0.1:8080", LogLinks: "signed", LogLinkTTL: 30 * 24 * time.Hour, DataDir: "./.previewd",
		URLOutput: "url", TTL: 72 * time.Hour, MaxConcurrentRuns: 4, NameMaxLength: 63, LogLevel: "info", LogFormat: "text",
		ShutdownTimeout: 90 * time.Second, MaxKeep: 30 * 24 * time.Hour, RetryBase: time.Minute, CheckTimeout: time.Hour,
		CheckPollInterval: 30 * time.Second, ModulePollInterval: 5 * time.Minute, RedeliveryInterval: 5 * time.Minute,
		LeaseTTL: 30 * time.Second, MaxAttempts: 5, ResyncInterval: 10 * time.Minute, MaxResyncDestroys: 5, StartupChecks: true,
		GitHub:     GitHubConfig{APIURL: "https://api.github.com/"},
		Migrations: MigrationsConfig{MaxWriteBlock: 5 * time.Second, MaxReadBlock: time.Second, MinShare: 0.1, Settle: 30 * time.Second},
		Production: ProductionWatchConfig{WatchInterval: 6 * time.Hour},
	}
	cfg := Default()
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("DefaultConfig:\n got %+v\nwant %+v", cfg, want)
	}
	for _, s := range settings() {
		if s.def == "" || s.check == nil {
			continue
		}
		if err := s.check(s.Key, s.value(&cfg)); err != nil {
			t.Errorf("the default of %s: %v", s.Key, err)
		}
	}
}

// TestSettingsTableCoversEveryField: every setting of Config (a value,
// a map or a list of records; a struct's settings are its fields') has
// one row, and every row one setting.
func TestSettingsTableCoversEveryField(t *testing.T) {
	rows := map[string]int{}
	for _, s := range settingRows {
		rows[s.Key]++
		if s.doc == "" {
			t.Errorf("%s has no meaning for the reference", s.Key)
		}
	}
	var walk func(typ reflect.Type, prefix string)
	walk = func(typ reflect.Type, prefix string) {
		for name, f := range yamlFields(typ) {
			key := prefix + name
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type, key+".")
				continue
			}
			if rows[key] != 1 {
				t.Errorf("%s has %d rows in the settings table, want 1", key, rows[key])
			}
			delete(rows, key)
		}
	}
	walk(reflect.TypeFor[Config](), "")
	for key := range rows {
		t.Errorf("the settings table's %s is no setting of Config", key)
	}
}

func TestParseDuration(t *testing.T) {
	good := map[string]time.Duration{
		"90s": 90 * time.Second, "72h": 72 * time.Hour, "1h30m": 90 * time.Minute, "0": 0, "-1h": -time.Hour,
		"2d": 48 * time.Hour, "1d12h": 36 * time.Hour, "1.5d": 36 * time.Hour, "30d": 720 * time.Hour,
		"-1d": -24 * time.Hour, "+1d": 24 * time.Hour, "0d": 0, "1d30m15s": 24*time.Hour + 30*time.Minute + 15*time.Second,
	}
	for in, want := range good {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "3 days", "2 d", "1h1d", "1d-2h", "1d+2h", "d12h", "1dd", "--1d", "1e3d", "999999999999d", "106752d", "1.d", ".5d"} {
		if got, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) = %v, want an error", in, got)
		} else if want := fmt.Sprintf("%q is not a duration (use e.g. 72h or 30m)", in); err.Error() != want {
			t.Errorf("parseDuration(%q): %v, want %q", in, err, want)
		}
	}
}

// TestDurationsTakeDays sets durations in days in the file, at the top
// level and in a repository's parity block, and by a variable; a bad
// duration is refused by the same words either way.
func TestDurationsTakeDays(t *testing.T) {
	module := t.TempDir()
	env := map[string]string{"PREVIEWD_WEBHOOK_SECRET": testSecret, "PREVIEWD_MAX_KEEP": "1d12h"}
	path := writeConfig(t, "module_dir: "+module+"\nttl: 1d\nlog_link_ttl: 7d\ncheck_timeout: 0\n"+
		"repos:\n  - name: acme/shop\n    parity: {drift_check_interval: 2d}\n")
	cfg, err := Load(path, MapEnv(env))
	if err != nil {
		t.Fatal(err)
	}
	got := []time.Duration{cfg.TTL, cfg.LogLinkTTL, cfg.MaxKeep, cfg.CheckTimeout, cfg.Repos[0].Parity.DriftCheckInterval}
	want := []time.Duration{24 * time.Hour, 7 * 24 * time.Hour, 36 * time.Hour, 0, 48 * time.Hour}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ttl, log_link_ttl, max_keep, check_timeout, drift_check_interval: got %v, want %v", got, want)
	}
	bad := []struct{ yaml, env, want string }{
		{"ttl: 3 days\n", "", `line 2: ttl: "3 days" is not a duration (use e.g. 72h or 30m)`},
		{"repos:\n  - name: acme/shop\n    parity:\n      drift_check_interval: often\n", "",
			`line 5: repos[0].parity.drift_check_interval: "often" is not a duration (use e.g. 72h or 30m)`},
		{"ttl: [1d]\n", "", "line 2: ttl: is a list, not a duration"},
		{"", "3 days", `config: PREVIEWD_TTL: "3 days" is not a duration (use e.g. 72h or 30m)`},
	}
	for _, b := range bad {
		e := map[string]string{"PREVIEWD_WEBHOOK_SECRET": testSecret}
		if b.env != "" {
			e["PREVIEWD_TTL"] = b.env
		}
		_, err := Load(writeConfig(t, "module_dir: "+module+"\n"+b.yaml), MapEnv(e))
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%q %q: got %v, want an error containing %q", b.yaml, b.env, err, b.want)
		}
	}
}

// TestUnknownKeysNameTheirPath: an unknown key's error names its YAML path
// and, when one is near, the known key it likely meant at that level;
// never a Go type.
func TestUnknownKeysNameTheirPath(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"top level", "webhook_secrett: x\n", "line 1: webhook_secrett: field webhook_secrett not found; did you mean webhook_secret?"},
		{"in a repository", "repos:\n  - name: acme/shop\n    modul_dir: x\n", "line 3: repos[0].modul_dir: field modul_dir not found; did you mean module_dir?"},
		{"in a block", "github:\n  tokn: x\n", "line 2: github.tokn: field tokn not found; did you mean token?"},
		{"in a pointer's block", "repos:\n  - name: acme/shop\n    cost: {hourley: 1}\n", "line 3: repos[0].cost.hourley: field hourley not found; did you mean hourly?"},
		{"in a list of records", "repos:\n  - name: acme/shop\n    differences:\n      - {variable: a, value: 1, reasn: cost}\n",
			"line 4: repos[0].differences[0].reasn: field reasn not found; did you mean reason?"},
		{"in a type of another package", "repos:\n  - name: acme/shop\n    parity:\n      drift_interval: 1h\n",
			"line 4: repos[0].parity.drift_interval: field drift_interval not found"},
		{"in a different case", "TTL: 1h\n", "line 1: TTL: field TTL not found; did you mean ttl?"},
		{"nothing near", "colour: blue\n", "line 1: colour: field colour not found"},
		{"two of them", "ttll: 1h\nstore:\n  drivr: bbolt\n", "line 1: ttll: field ttll not found; did you mean ttl?; line 3: store.drivr: field drivr not found; did you mean driver?"},
		{"merged from an anchor", "repos:\n  - &shop {name: acme/shop, modul_dir: x}\n  - {<<: *shop, name: acme/web}\n",
			"line 2: repos[0].modul_dir: field modul_dir not found; did you mean module_dir?"},
		{"through an alias", "repos:\n  - name: acme/shop\n    production:\n      vars: {x: &c {hourley: 1}}\n    cost: *c\n",
			"line 4: repos[0].cost.hourley: field hourley not found; did you mean hourly?"},
		{"an anchor within itself", "repos:\n  - &r {name: acme/shop, parity: *r}\n", "line 2: repos[0].parity.name: field name not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := decodeYAML([]byte(tt.yaml), &Config{})
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
			if strings.Contains(tt.want, "did you mean") != strings.Contains(err.Error(), "did you mean") {
				t.Errorf("got %v: a suggestion where none was wanted, or none", err)
			}
			if strings.Contains(err.Error(), "type") || strings.Contains(err.Error(), "main.") {
				t.Errorf("got %v, naming a Go type", err)
			}
		})
	}
	// Where any key goes (a map's), none is unknown.
	free := "terraform:\n  env: {ANY_NAME: x}\nstate:\n  config: {anything: x}\nrepos:\n  - name: acme/shop\n    production:\n      vars: {whatever: {deep: 1}}\n"
	if err := decodeYAML([]byte(free), &Config{}); err != nil {
		t.Errorf("keys of maps: %v", err)
	}
}

// TestYAMLTypeErrorsNameTheSetting says what a setting wanted in words.
func TestYAMLTypeErrorsNameTheSetting(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{"max_concurrent_runs: lots\n", `line 1: max_concurrent_runs: "lots" is not a whole number`},
		{"drafts: perhaps\n", `line 1: drafts: "perhaps" is not true or false`},
		{"cost: {hourly: cheap}\n", `line 1: cost.hourly: "cheap" is not a number`},
		{"repos: acme/shop\n", `line 1: repos: "acme/shop" is not a list`},
		{"github: [x]\n", "line 1: github: is a list, not a mapping"},
		{"allowed_repos: {a: b}\n", "line 1: allowed_repos: is a mapping, not a list"},
		{"listen_addr: {a: b}\n", "line 1: listen_addr: is a mapping, not text"},
		{"ttl: 1h\nttl: 2h\n", `line 2: ttl: mapping key "ttl" already defined at line 1`},
		{"repos:\n  - name: acme/shop\n    parity: [1]\n", "line 3: repos[0].parity: is a list, not a mapping"},
		{"allowed_repos: [a, {b: c}]\n", "line 1: allowed_repos[1]: is a mapping, not text"},
		{"- ttl: 1h\n", "line 1: is a list, not a mapping"},
	}
	for _, tt := range tests {
		err := decodeYAML([]byte(tt.yaml), &Config{})
		if err == nil || err.Error() != tt.want {
			t.Errorf("%q: got %v, want %q", tt.yaml, err, tt.want)
		}
	}
}

// TestBaseWithOneSlashSuggestsTwo refuses base/DIR, which Terraform's
// syntax does not read as a directory of the repository, naming base//DIR.
func TestBaseWithOneSlashSuggestsTwo(t *testing.T) {
	env := map[string]string{"PREVIEWD_WEBHOOK_SECRET": testSecret, "PREVIEWD_ALLOWED_REPOS": "acme/shop"}
	tests := []struct{ yaml, want string }{
		{"module_source: base/infra\n", `config: module_source (PREVIEWD_MODULE_SOURCE): "base/infra": base's directory follows two slashes, as in Terraform's sources: did you mean "base//infra"?`},
		{"module_source: base/infra/shop\n", `did you mean "base//infra/shop"?`},
		{"repos:\n  - name: acme/shop\n    module_source: base/infra\n", `config: repos[0]: module_source: "base/infra": base's directory follows two slashes`},
	}
	for _, tt := range tests {
		_, err := Load(writeConfig(t, tt.yaml), MapEnv(env))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: got %v, want %q", tt.yaml, err, tt.want)
		}
	}
	if _, err := Load(writeConfig(t, "module_source: base//infra\n"), MapEnv(env)); err != nil {
		t.Errorf("base//infra: %v", err)
	}
}
