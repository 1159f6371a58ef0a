package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/previewd/previewd/internal/config"
	"gopkg.in/yaml.v3"
)

const helmChart = "../../deploy/helm/previewd"

// The test's Kubernetes version, for the chart's kubeVersion and lint's
// deprecation checks: the same with whichever helm built.
const helmKubeVersion = "1.31.0"

// helmFakeSecret is what the Secret docs/install.md makes holds under each
// key, for loading the rendered configuration.
var helmFakeSecret = map[string]string{
	"database-url":       "postgres://previewd@db:5432/previewd",
	"state-database-url": "postgres://previewd_state@db:5432/previewd_state",
	"webhook-secret":     strings.Repeat("5e", 32),
	"admin-token":        strings.Repeat("a7", 32),
	"metrics-token":      strings.Repeat("3c", 32),
}

// helmFullValues turns on everything optional: the Ingress, the
// NetworkPolicy, the ServiceMonitor with a metrics token, three replicas,
// and the service account annotations of IRSA and GKE Workload Identity.
const helmFullValues = `replicas: 3
ingress: {enabled: true, host: previewd.acme.dev}
networkPolicy: {enabled: true}
serviceMonitor: {enabled: true}
metrics: {token: {enabled: true}}
serviceAccount:
  annotations:
    eks.amazonaws.com/role-arn: arn:aws:iam::111122223333:role/previewd
    iam.gke.io/gcp-service-account: previewd@acme.iam.gserviceaccount.com
`

// TestHelmChart lints deploy/helm/previewd and renders it with its defaults
// and with everything optional turned on, then checks what it makes as
// TestKubernetesManifests checks the plain manifests, and more: the
// Ingress routes only the webhook and the log links, the NetworkPolicy
// and the ServiceMonitor reach the right ports, the memory limit covers
// every run slot, no secret is written, and the ConfigMap's configuration
// loads in previewd itself.
func TestHelmChart(t *testing.T) {
	helm := helmBinary(t)
	full := filepath.Join(t.TempDir(), "full.yaml")
	if err := os.WriteFile(full, []byte(helmFullValues), 0o600); err != nil {
		t.Fatal(err)
	}
	helmRun(t, helm, "lint", "--strict", "--kube-version", helmKubeVersion, helmChart)
	helmRun(t, helm, "lint", "--strict", "--kube-version", helmKubeVersion, "-f", full, helmChart)

	var values struct {
		Memory struct {
			BaseMiB   int `yaml:"baseMiB"`
			PerRunMiB int `yaml:"perRunMiB"`
		} `yaml:"memory"`
	}
	data, err := os.ReadFile(filepath.Join(helmChart, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The per-run figure is an estimate (values.yaml says how it is made):
	// Terraform itself and one large provider do not fit in less.
	if err := yaml.Unmarshal(data, &values); err != nil || values.Memory.BaseMiB <= 0 || values.Memory.PerRunMiB < 512 {
		t.Fatalf("values.yaml: memory %+v (want at least 512 MiB a run): %v", values.Memory, err)
	}

	t.Run("defaults", func(t *testing.T) {
		objects := helmTemplate(t, helm)
		for _, kind := range []string{"Ingress", "NetworkPolicy", "ServiceMonitor", "Secret"} {
			if objects[kind] != nil {
				t.Errorf("a %s by default", kind)
			}
		}
		checkHelmObjects(t, objects, values.Memory.BaseMiB, values.Memory.PerRunMiB)
	})
	t.Run("everything", func(t *testing.T) {
		objects := helmTemplate(t, helm, "-f", full)
		cfg, pod := checkHelmObjects(t, objects, values.Memory.BaseMiB, values.Memory.PerRunMiB)
		if r := manifestGet(objects["Deployment"], "spec", "replicas"); r != 3 {
			t.Errorf("replicas: %v, want 3", r)
		}
		checkHelmExposure(t, objects, cfg, pod)
		sa := objects["ServiceAccount"]
		for k, v := range map[string]string{
			"eks.amazonaws.com/role-arn":     "arn:aws:iam::111122223333:role/previewd",
			"iam.gke.io/gcp-service-account": "previewd@acme.iam.gserviceaccount.com",
		} {
			if got := manifestGet(sa, "metadata", "annotations", k); got != v {
				t.Errorf("the ServiceAccount's annotation %s: %v, want %s", k, got, v)
			}
		}
	})

	// What cannot work is refused at render time.
	for _, bad := range []struct{ set, want string }{
		{"replicas=3,config.store.driver=bbolt", "need config.store.driver postgres"},
		{"terminationGracePeriodSeconds=90", "must be longer than config.shutdown_timeout (90s)"},
		{"config.shutdown_timeout=3m", "must be longer than config.shutdown_timeout (3m)"},
		{"config.admin_token=" + helmFakeSecret["admin-token"], "config.admin_token: secrets come from the Secret"},
		{"config.store.url=" + helmFakeSecret["database-url"], "config.store.url: secrets come from the Secret"},
	} {
		args := []string{"template", "previewd", helmChart, "--kube-version", helmKubeVersion, "--set", bad.set}
		if out, err := helmCommand(t, helm, args...).CombinedOutput(); err == nil || !strings.Contains(string(out), bad.want) {
			t.Errorf("helm template --set %s: %v, want a refusal saying %q:\n%.500s", bad.set, err, bad.want, out)
		}
	}
}

// checkHelmObjects checks what every rendering makes, loads the
// ConfigMap's configuration with the Deployment's environment, and
// returns it and the pod's spec.
func checkHelmObjects(t *testing.T, objects map[string]map[string]any, baseMiB, perRunMiB int) (config.Config, any) {
	t.Helper()
	for _, kind := range []string{"Deployment", "Service", "PodDisruptionBudget", "ConfigMap", "ServiceAccount"} {
		if objects[kind] == nil {
			t.Fatalf("no %s", kind)
		}
	}
	d := objects["Deployment"]
	if r, _ := manifestGet(d, "spec", "replicas").(int); r < 2 {
		t.Errorf("replicas: %v, want at least 2", manifestGet(d, "spec", "replicas"))
	}
	pod := manifestGet(d, "spec", "template", "spec")
	c := manifestGet(pod, "containers", 0)
	podLabels, _ := manifestGet(d, "spec", "template", "metadata", "labels").(map[string]any)
	if !helmSelects(manifestGet(objects["PodDisruptionBudget"], "spec", "selector", "matchLabels"), podLabels) ||
		!helmSelects(manifestGet(objects["Service"], "spec", "selector"), podLabels) {
		t.Error("the Service and the PodDisruptionBudget do not select previewd's pods")
	}
	if mu := manifestGet(objects["PodDisruptionBudget"], "spec", "maxUnavailable"); mu != 1 {
		t.Errorf("PodDisruptionBudget maxUnavailable: %v", mu)
	}
	if p := manifestGet(c, "readinessProbe", "httpGet"); manifestGet(p, "path") != "/readyz" || manifestGet(p, "port") != "http" {
		t.Errorf("readiness probe: %v", p)
	}
	if p := manifestGet(c, "livenessProbe", "httpGet"); manifestGet(p, "path") != "/healthz" || manifestGet(p, "port") != "http" {
		t.Errorf("liveness probe: %v", p)
	}
	if name := manifestGet(objects["ServiceAccount"], "metadata", "name"); manifestGet(pod, "serviceAccountName") != name {
		t.Errorf("the pod runs as %v, not the chart's ServiceAccount %v", manifestGet(pod, "serviceAccountName"), name)
	}
	if manifestGet(pod, "securityContext", "runAsUser") != 10001 || manifestGet(pod, "securityContext", "runAsNonRoot") != true ||
		manifestGet(c, "securityContext", "readOnlyRootFilesystem") != true {
		t.Errorf("security contexts: pod %v, container %v", manifestGet(pod, "securityContext"), manifestGet(c, "securityContext"))
	}
	writable := map[string]bool{}
	for _, m := range helmList(c, "volumeMounts") {
		for _, v := range helmList(pod, "volumes") {
			if manifestGet(v, "name") == manifestGet(m, "name") && manifestGet(v, "emptyDir") != nil {
				writable[manifestGet(m, "mountPath").(string)] = true
			}
		}
	}
	if !writable["/tmp"] || !writable["/var/lib/previewd"] {
		t.Errorf("writable volumes: %v; Terraform needs /tmp and the data directory", writable)
	}

	// Every variable is one previewd reads; every secret comes from the
	// Secret, PG_CONN_STR from the state's key and never previewd's own.
	known := map[string]bool{"PREVIEWD_CONFIG": true, "PREVIEWD_DATABASE_URL": true}
	for _, s := range config.EnvSettings() {
		known[s.Var] = true
	}
	secretName := ""
	vars := map[string]string{}
	for _, e := range helmList(c, "env") {
		name, _ := manifestGet(e, "name").(string)
		value, _ := manifestGet(e, "value").(string)
		if ref := manifestGet(e, "valueFrom", "secretKeyRef"); ref != nil {
			key, _ := manifestGet(ref, "key").(string)
			secretName, _ = manifestGet(ref, "name").(string)
			if value = helmFakeSecret[key]; value == "" {
				t.Errorf("%s: the Secret's key %q is not one docs/install.md's Secret holds", name, key)
			}
			if name == "PG_CONN_STR" && key != "state-database-url" {
				t.Errorf("PG_CONN_STR comes from the Secret's %q, want state-database-url", key)
			}
		} else if regexp.MustCompile(`SECRET|TOKEN|PASSWORD|DATABASE_URL|STORE_URL|CONN_STR`).MatchString(name) {
			t.Errorf("%s is written in the manifest, not taken from a Secret", name)
		}
		if strings.HasPrefix(name, "PREVIEWD_") && !known[name] {
			t.Errorf("%s is not a variable previewd reads", name)
		}
		vars[name] = value
	}
	if _, ok := vars["PG_CONN_STR"]; !ok {
		t.Error("no PG_CONN_STR for Terraform's pg backend")
	}

	grace, _ := manifestGet(pod, "terminationGracePeriodSeconds").(int)
	if time.Duration(grace)*time.Second <= config.Default().ShutdownTimeout {
		t.Errorf("terminationGracePeriodSeconds %d: not longer than the shutdown timeout %s", grace, config.Default().ShutdownTimeout)
	}

	// The ConfigMap holds no secret: they are all in the environment.
	body, _ := manifestGet(objects["ConfigMap"], "data", "previewd.yaml").(string)
	var file map[string]any
	if err := yaml.Unmarshal([]byte(body), &file); err != nil {
		t.Fatalf("the ConfigMap's previewd.yaml: %v", err)
	}
	for _, path := range [][]any{{"webhook_secret"}, {"admin_token"}, {"metrics_token"}, {"store", "url"}, {"github", "token"}, {"state", "config", "conn_str"}} {
		if manifestGet(file, path...) != nil {
			t.Errorf("the ConfigMap's previewd.yaml sets %v", path)
		}
	}
	configFile := filepath.Join(t.TempDir(), "previewd.yaml")
	if err := os.WriteFile(configFile, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	vars["PREVIEWD_CONFIG"] = configFile
	keyPath := ""
	for _, m := range helmList(c, "volumeMounts") {
		for _, v := range helmList(pod, "volumes") {
			if manifestGet(v, "name") == manifestGet(m, "name") && manifestGet(v, "secret", "secretName") == secretName {
				dir, _ := manifestGet(m, "mountPath").(string)
				item, _ := manifestGet(v, "secret", "items", 0, "path").(string)
				keyPath = dir + "/" + item
			}
		}
	}
	if keyPath == "" || !strings.Contains(body, "app_private_key_file: "+keyPath+"\n") {
		t.Errorf("the configuration does not read the App's key from the Secret's volume (%q)", keyPath)
	}
	cfg := loadDeployedConfig(t, configFile, vars)
	if time.Duration(grace)*time.Second <= cfg.ShutdownTimeout {
		t.Errorf("terminationGracePeriodSeconds %d: not longer than shutdown_timeout %s", grace, cfg.ShutdownTimeout)
	}
	if cfg.MetricsListenAddr == "" {
		t.Error("/metrics is served on the HTTP port, not a port of its own")
	}

	// Memory: previewd, and every run slot (runs and parity checks) with
	// Terraform and its providers.
	slots := cfg.MaxConcurrentRuns + cfg.MaxConcurrentChecks
	limit, _ := manifestGet(c, "resources", "limits", "memory").(string)
	if mib, err := helmMebibytes(limit); err != nil || mib < baseMiB+slots*perRunMiB {
		t.Errorf("memory limit %q (%v): want at least %d MiB + %d run slots × %d MiB", limit, err, baseMiB, slots, perRunMiB)
	}

	return cfg, pod
}

// checkHelmExposure checks the Ingress, the NetworkPolicy and the
// ServiceMonitor against the Service and the pod's ports.
func checkHelmExposure(t *testing.T, objects map[string]map[string]any, cfg config.Config, pod any) {
	t.Helper()
	for _, kind := range []string{"Ingress", "NetworkPolicy", "ServiceMonitor"} {
		if objects[kind] == nil {
			t.Fatalf("no %s", kind)
		}
	}
	c := manifestGet(pod, "containers", 0)
	containerPort := map[string]int{} // name → number
	for _, p := range helmList(c, "ports") {
		n, _ := manifestGet(p, "containerPort").(int)
		containerPort[manifestGet(p, "name").(string)] = n
	}
	for name, addr := range map[string]string{"http": cfg.ListenAddr, "metrics": cfg.MetricsListenAddr} {
		if _, port, _ := net.SplitHostPort(addr); port != strconv.Itoa(containerPort[name]) {
			t.Errorf("container port %s (%d) is not where previewd listens (%s)", name, containerPort[name], addr)
		}
	}
	service := objects["Service"]
	servicePort := map[string]string{} // the Service's port name → the container port's name
	for _, p := range helmList(service, "spec", "ports") {
		servicePort[manifestGet(p, "name").(string)], _ = manifestGet(p, "targetPort").(string)
	}
	if servicePort["http"] != "http" || servicePort["metrics"] != "metrics" {
		t.Errorf("the Service's ports: %v", servicePort)
	}

	// The Ingress: the webhook and the log links, nothing else.
	ing := objects["Ingress"]
	routes := map[string]string{}
	for _, rule := range helmList(ing, "spec", "rules") {
		for _, p := range helmList(rule, "http", "paths") {
			routes[manifestGet(p, "path").(string)], _ = manifestGet(p, "pathType").(string)
			if manifestGet(p, "backend", "service", "name") != manifestGet(service, "metadata", "name") ||
				manifestGet(p, "backend", "service", "port", "name") != "http" {
				t.Errorf("the Ingress' %v goes to %v", manifestGet(p, "path"), manifestGet(p, "backend"))
			}
		}
	}
	if want := map[string]string{"/webhooks/github": "Exact", "/logs/": "Prefix"}; fmt.Sprint(routes) != fmt.Sprint(want) {
		t.Errorf("the Ingress routes %v, want only %v", routes, want)
	}

	// The NetworkPolicy: HTTP from the ingress controller, metrics from
	// monitoring; egress open by default.
	np := objects["NetworkPolicy"]
	podLabels, _ := manifestGet(objects["Deployment"], "spec", "template", "metadata", "labels").(map[string]any)
	if !helmSelects(manifestGet(np, "spec", "podSelector", "matchLabels"), podLabels) {
		t.Error("the NetworkPolicy does not select previewd's pods")
	}
	if slices.Contains(helmList(np, "spec", "policyTypes"), any("Egress")) {
		t.Error("the NetworkPolicy restricts egress by default")
	}
	from := map[string]string{} // port → namespace allowed
	for _, rule := range helmList(np, "spec", "ingress") {
		if len(helmList(rule, "ports")) != 1 || len(helmList(rule, "from")) == 0 {
			t.Errorf("an ingress rule open to every port or every peer: %v", rule)
			continue
		}
		port, _ := manifestGet(rule, "ports", 0, "port").(string)
		from[port], _ = manifestGet(rule, "from", 0, "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name").(string)
	}
	if want := map[string]string{"http": "ingress-nginx", "metrics": "monitoring"}; fmt.Sprint(from) != fmt.Sprint(want) {
		t.Errorf("the NetworkPolicy admits %v, want %v", from, want)
	}

	// The ServiceMonitor scrapes the metrics port with the Secret's token.
	sm := objects["ServiceMonitor"]
	if manifestGet(sm, "apiVersion") != "monitoring.coreos.com/v1" ||
		!helmSelects(manifestGet(sm, "spec", "selector", "matchLabels"), manifestGet(service, "metadata", "labels").(map[string]any)) {
		t.Error("the ServiceMonitor does not select previewd's Service")
	}
	ep := manifestGet(sm, "spec", "endpoints", 0)
	if manifestGet(ep, "port") != "metrics" || manifestGet(ep, "path") != "/metrics" {
		t.Errorf("the ServiceMonitor scrapes %v", ep)
	}
	var token any // where previewd's metrics token comes from
	for _, e := range helmList(c, "env") {
		if manifestGet(e, "name") == "PREVIEWD_METRICS_TOKEN" {
			token = manifestGet(e, "valueFrom", "secretKeyRef")
		}
	}
	cred := manifestGet(ep, "authorization", "credentials")
	if token == nil || manifestGet(cred, "name") != manifestGet(token, "name") || manifestGet(cred, "key") != manifestGet(token, "key") ||
		manifestGet(ep, "authorization", "type") != "Bearer" || cfg.MetricsToken != helmFakeSecret["metrics-token"] {
		t.Errorf("the ServiceMonitor's credentials %v, previewd's metrics token from %v", cred, token)
	}
}

// helmBinary finds helm: $PREVIEWD_HELM_BIN, else ./bin/helm (make helm).
// Missing, the test fails under CI and is skipped elsewhere.
func helmBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("PREVIEWD_HELM_BIN")
	if bin == "" {
		bin, _ = filepath.Abs("../../bin/helm")
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("helm: %v (scripts/helm.sh builds it)", err)
		}
		t.Skipf("helm: %v (scripts/helm.sh builds it)", err)
	}
	return bin
}

// helmCommand is helm with its caches and configuration in the test's own
// directory.
func helmCommand(t *testing.T, helm string, args ...string) *exec.Cmd {
	cmd := exec.Command(helm, args...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home+"/cache", "HELM_CONFIG_HOME="+home+"/config", "HELM_DATA_HOME="+home+"/data")
	return cmd
}

// helmRun runs helm and returns its standard output.
func helmRun(t *testing.T, helm string, args ...string) []byte {
	t.Helper()
	cmd := helmCommand(t, helm, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return out
}

// helmTemplate renders the chart as the release "previewd" and returns
// its objects by kind (one of each kind).
func helmTemplate(t *testing.T, helm string, args ...string) map[string]map[string]any {
	t.Helper()
	out := helmRun(t, helm, append([]string{"template", "previewd", helmChart, "--kube-version", helmKubeVersion}, args...)...)
	// The chart is given no secret, and writes none of its own.
	if bytes.Contains(out, []byte("postgres://")) || bytes.Contains(out, []byte("PRIVATE KEY")) || regexp.MustCompile(`(?m)^kind: Secret$`).Match(out) {
		t.Errorf("a Secret, a connection string or a key in the rendered manifests:\n%s", out)
	}
	objects := map[string]map[string]any{}
	dec := yaml.NewDecoder(bytes.NewReader(out))
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("rendered manifests: %v", err)
		}
		if obj == nil {
			continue
		}
		kind, _ := obj["kind"].(string)
		if kind == "" || obj["apiVersion"] == nil {
			t.Fatalf("an object without kind or apiVersion: %v", obj)
		}
		if objects[kind] != nil {
			t.Fatalf("two %s objects", kind)
		}
		objects[kind] = obj
	}
	return objects
}

// manifestGet walks a manifest object v by map keys (strings) and list indexes (ints); nil when
// something is missing.
func manifestGet(v any, path ...any) any {
	for _, p := range path {
		switch p := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[p]
		case int:
			s, _ := v.([]any)
			if p >= len(s) {
				return nil
			}
			v = s[p]
		}
	}
	return v
}

func helmList(v any, path ...any) []any {
	s, _ := manifestGet(v, path...).([]any)
	return s
}

// helmSelects says whether a non-empty selector matches labels.
func helmSelects(selector any, labels map[string]any) bool {
	m, _ := selector.(map[string]any)
	for k, v := range m {
		if labels[k] != v {
			return false
		}
	}
	return len(m) > 0
}

// helmMebibytes reads a memory quantity (4864Mi, 5Gi, bytes) in MiB.
func helmMebibytes(q string) (int, error) {
	units := map[string]int64{"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "": 1}
	m := regexp.MustCompile(`^([0-9]+)([KMGT]i|[kMGT])?$`).FindStringSubmatch(q)
	if m == nil {
		return 0, fmt.Errorf("not a memory quantity: %q", q)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	return int(n * units[m[2]] >> 20), err
}
