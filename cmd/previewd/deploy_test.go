package main

import (
	"github.com/previewd/previewd/server"
	"github.com/prometheus/client_golang/prometheus"

	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/previewd/previewd/internal/config"
	"github.com/previewd/previewd/internal/waittest"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// alertRules is the shape of a Prometheus rule file.
type alertRules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

var metricName = regexp.MustCompile(`\bpreviewd_[a-z0-9_]+\b`)

// TestDeployMonitoringUsesExportedMetrics parses the Prometheus alerting
// rules and the Grafana dashboard under deploy/, checks their shape, and
// finds every previewd metric they use exported by a running previewd:
// a renamed metric cannot silently disarm an alert.
func TestDeployMonitoringUsesExportedMetrics(t *testing.T) {
	used := map[string][]string{} // metric → where
	data, err := os.ReadFile("../../deploy/prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rules alertRules
	if err := yaml.Unmarshal(data, &rules); err != nil {
		t.Fatalf("alerts.yaml: %v", err)
	}
	alerts := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts++
			if r.Alert == "" || strings.TrimSpace(r.Expr) == "" || r.Annotations["summary"] == "" {
				t.Errorf("rule %+v: want alert, expr and a summary", r)
			}
			if !slices.Contains([]string{"critical", "warning", "info"}, r.Labels["severity"]) {
				t.Errorf("%s: severity %q", r.Alert, r.Labels["severity"])
			}
			if _, err := time.ParseDuration(r.For); r.For != "" && err != nil {
				t.Errorf("%s: for %q: %v", r.Alert, r.For, err)
			}
			if strings.Count(r.Expr, "(") != strings.Count(r.Expr, ")") {
				t.Errorf("%s: unbalanced parentheses in %q", r.Alert, r.Expr)
			}
			for _, m := range metricName.FindAllString(r.Expr, -1) {
				used[m] = append(used[m], "alert "+r.Alert)
			}
		}
	}
	for _, want := range []string{"PreviewdQueueStuck", "PreviewdDestroysFailing", "PreviewdGitHubWritesBackingUp", "PreviewdParityDrift"} {
		if !strings.Contains(string(data), "alert: "+want+"\n") {
			t.Errorf("no %s alert", want)
		}
	}

	data, err = os.ReadFile("../../deploy/grafana/previewd.json")
	if err != nil {
		t.Fatal(err)
	}
	var dashboard struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dashboard); err != nil || dashboard.Title == "" || len(dashboard.Panels) == 0 {
		t.Fatalf("the Grafana dashboard: %v", err)
	}
	for _, p := range dashboard.Panels {
		for _, target := range p.Targets {
			for _, m := range metricName.FindAllString(target.Expr, -1) {
				used[m] = append(used[m], "panel "+p.Title)
			}
		}
	}

	module, _ := filepath.Abs("testdata/module")
	p := startPreviewd(t, map[string]string{"PREVIEWD_MODULE_DIR": module})
	families := scrape(t, p)
	// Production's series carry the repository: they appear once a watch
	// ran, which this previewd (no production state) never does. They are
	// taken from the same metrics, told of one watch.
	reg := prometheus.NewRegistry()
	server.NewRunMetrics(reg).ProductionWatched("acme/shop", 0, false)
	watched, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range watched {
		if strings.HasPrefix(f.GetName(), "previewd_production_") && families[f.GetName()] == nil {
			families[f.GetName()] = f
		}
	}
	for m, where := range used {
		base := m
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(m, suffix); ok && families[b] != nil {
				base = b
			}
		}
		if families[base] == nil {
			t.Errorf("%s, used by %v, is not exported by previewd", m, slices.Compact(where))
		}
	}
	t.Logf("%d alerts and %d panels use %d metrics", alerts, len(dashboard.Panels), len(used))

	// The controller's measurements move: an apply is counted by phase
	// and outcome, its parity check by verdict.
	p.send(prEvent{"opened", "metrics", "sha1", 1, time.Now().Add(-time.Hour)})
	p.waitFor("metrics", "parity-checked", func(e apiEnvironment) bool { return e.Status == "ready" && e.Parity.SHA == "sha1" })
	type measured struct{ Applies, Checks, Ready float64 }
	waittest.For(t, "one apply, its check and one ready environment measured", func() measured {
		families := scrape(t, p)
		return measured{
			Applies: sample(families, "previewd_run_duration_seconds", map[string]string{"phase": "apply", "outcome": "succeeded"}),
			Checks: sample(families, "previewd_parity_checks_total", map[string]string{"verdict": "ok"}) +
				sample(families, "previewd_parity_checks_total", map[string]string{"verdict": "drift"}),
			Ready: sample(families, "previewd_environments", map[string]string{"status": "ready"}),
		}
	}, func(m measured) bool { return m == measured{1, 1, 1} })
}

func scrape(t *testing.T, p *previewd) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(p.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics: %v", err)
	}
	return families
}

// sample returns the value of the series of name with labels (a
// histogram's count, a counter's or a gauge's value), 0 when absent.
func sample(families map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	f := families[name]
	if f == nil {
		return 0
	}
next:
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
				continue next
			}
		}
		switch {
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

// TestKubernetesManifests reads deploy/kubernetes/previewd.yaml and checks
// the objects it makes: several replicas behind a Service, probes on
// /readyz and /healthz, a stop grace period longer than the shutdown
// timeout, a PodDisruptionBudget, secrets from a Secret, and a
// configuration previewd itself loads (the PostgreSQL store, remote state).
func TestKubernetesManifests(t *testing.T) {
	f, err := os.Open("../../deploy/kubernetes/previewd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	objects := map[string]map[string]any{} // kind → object
	dec := yaml.NewDecoder(f)
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("manifest: %v", err)
		}
		kind, _ := obj["kind"].(string)
		if kind == "" || obj["apiVersion"] == nil {
			t.Fatalf("an object without kind or apiVersion: %v", obj)
		}
		objects[kind] = obj
	}
	get := manifestGet
	for _, kind := range []string{"Deployment", "Service", "PodDisruptionBudget", "ConfigMap", "ServiceAccount"} {
		if objects[kind] == nil {
			t.Fatalf("no %s", kind)
		}
	}
	d := objects["Deployment"]
	if r, _ := get(d, "spec", "replicas").(int); r < 2 {
		t.Errorf("replicas: %v, want at least 2", get(d, "spec", "replicas"))
	}
	pod := get(d, "spec", "template", "spec")
	c := get(pod, "containers", 0)
	if p := get(c, "readinessProbe", "httpGet", "path"); p != "/readyz" {
		t.Errorf("readiness probe: %v", p)
	}
	if p := get(c, "livenessProbe", "httpGet", "path"); p != "/healthz" {
		t.Errorf("liveness probe: %v", p)
	}
	grace, _ := get(pod, "terminationGracePeriodSeconds").(int)
	if grace*int(time.Second) <= int(config.Default().ShutdownTimeout) {
		t.Errorf("terminationGracePeriodSeconds %d: not longer than the shutdown timeout %s", grace, config.Default().ShutdownTimeout)
	}
	if get(objects["PodDisruptionBudget"], "spec", "maxUnavailable") != 1 {
		t.Errorf("PodDisruptionBudget: %v", get(objects["PodDisruptionBudget"], "spec"))
	}
	if get(objects["PodDisruptionBudget"], "spec", "selector", "matchLabels", "app.kubernetes.io/name") != "previewd" ||
		get(objects["Service"], "spec", "selector", "app.kubernetes.io/name") != "previewd" {
		t.Error("the Service and the PodDisruptionBudget do not select previewd's pods")
	}

	// Every variable is one previewd reads; secrets come from the Secret;
	// the configuration loads.
	known := map[string]bool{"PREVIEWD_CONFIG": true, "PREVIEWD_DATABASE_URL": true}
	for _, s := range config.EnvSettings() {
		known[s.Var] = true
	}
	vars := map[string]string{}
	envs, _ := get(c, "env").([]any)
	for _, e := range envs {
		name, _ := get(e, "name").(string)
		value, _ := get(e, "value").(string)
		if ref := get(e, "valueFrom", "secretKeyRef", "name"); ref != nil {
			// What docs/install.md's Secret holds under each key: the store's
			// and the state's connections are two roles and databases.
			key, _ := get(e, "valueFrom", "secretKeyRef", "key").(string)
			value = map[string]string{
				"database-url":       "postgres://previewd@db:5432/previewd",
				"state-database-url": "postgres://previewd_state@db:5432/previewd_state",
				"webhook-secret":     strings.Repeat("5e", 32),
				"admin-token":        strings.Repeat("a7", 32),
			}[key]
			if value == "" {
				t.Errorf("%s: the Secret's key %q is not one the manifest's instructions create", name, key)
			}
		} else if strings.Contains(name, "SECRET") || strings.Contains(name, "TOKEN") {
			t.Errorf("%s is written in the manifest, not taken from a Secret", name)
		}
		if strings.HasPrefix(name, "PREVIEWD_") && !known[name] {
			t.Errorf("%s is not a variable previewd reads", name)
		}
		vars[name] = value
	}
	configFile := filepath.Join(t.TempDir(), "previewd.yaml")
	body, _ := get(objects["ConfigMap"], "data", "previewd.yaml").(string)
	if err := os.WriteFile(configFile, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	vars["PREVIEWD_CONFIG"] = configFile
	// The App's key is where the Secret's volume puts it; here, a key of
	// the test's own.
	var keyPath string
	mounts, _ := get(c, "volumeMounts").([]any)
	for _, m := range mounts {
		if get(m, "name") == "secret" {
			keyPath, _ = get(m, "mountPath").(string)
		}
	}
	if item := get(pod, "volumes", 1, "secret", "items", 0, "path"); keyPath == "" || item == nil {
		t.Fatal("no Secret volume with the App's key")
	} else {
		keyPath += "/" + item.(string)
	}
	if !strings.Contains(body, "app_private_key_file: "+keyPath+"\n") {
		t.Errorf("the configuration does not read the App's key from %s", keyPath)
	}
	loadDeployedConfig(t, configFile, vars)
}

// loadDeployedConfig loads a deployment's configuration as previewd would
// with vars (the Secret's values), an App key of the test's own in place
// of the Secret's, and checks it runs replicas on PostgreSQL with the pg
// backend's PG_CONN_STR passed to Terraform.
func loadDeployedConfig(t *testing.T, configFile string, vars map[string]string) config.Config {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	vars["PREVIEWD_GITHUB_APP_PRIVATE_KEY_FILE"] = filepath.Join(t.TempDir(), "app.pem")
	os.WriteFile(vars["PREVIEWD_GITHUB_APP_PRIVATE_KEY_FILE"], pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
	cfg, err := config.Read(configFile, config.MapEnv(vars), true)
	if err != nil {
		t.Fatalf("the ConfigMap's configuration: %v", err)
	}
	if cfg.Store.Driver != "postgres" || cfg.State.Backend != "pg" || cfg.LeaseTTL <= 0 {
		t.Errorf("the configuration: store %q, state %q, lease_ttl %s; want postgres, a remote backend", cfg.Store.Driver, cfg.State.Backend, cfg.LeaseTTL)
	}
	if !slices.Contains(cfg.Terraform.EnvPassthrough, "PG_CONN_STR") || vars["PG_CONN_STR"] == "" {
		t.Error("Terraform's pg backend gets no PG_CONN_STR")
	}
	return cfg
}
