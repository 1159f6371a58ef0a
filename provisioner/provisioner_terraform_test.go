package provisioner

// These tests run the real Terraform binary on the modules in testdata/.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/internal/enginetest"
	"github.com/previewd/previewd/internal/waittest"
)

// newTestProvisioner returns a Provisioner with its own data directory that
// gives every repository mod.
func newTestProvisioner(t testing.TB, mod Module, configure ...func(*Config)) (testProvisioner, string) {
	t.Helper()
	dataDir := t.TempDir()
	cfg := Config{
		TerraformBin: enginetest.Terraform(t, ".."),
		DataDir:      dataDir,
		WaitDelay:    10 * time.Second,
	}
	for _, c := range configure {
		c(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return testProvisioner{Provisioner: p, modules: fixed(mod)}, dataDir
}

func fixture(name string) Module {
	dir, _ := filepath.Abs(filepath.Join("testdata", name))
	return Module{Dir: dir}
}

func testEnv(name, sha string) preview.Environment {
	return preview.Environment{Name: name, Repo: "acme/shop", PR: 42, Branch: "feat/" + name, HeadSHA: sha}
}

func TestApplyReapplyDestroy(t *testing.T) {
	t.Parallel()
	p, dataDir := newTestProvisioner(t, fixture("basic"))
	ctx := context.Background()
	var log bytes.Buffer

	res, err := p.Apply(ctx, testEnv("feat-a", "sha1"), &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if want := "http://feat-a.preview.test/sha1"; res.URL != want {
		t.Errorf("got URL %q, want %q", res.URL, want)
	}
	wantOutputs := map[string]string{
		"url": "http://feat-a.preview.test/sha1", "pr_number": "42", "vars": `{"branch":"feat/feat-a","repo":"acme/shop"}`,
	}
	if !maps.Equal(res.Outputs, wantOutputs) {
		t.Errorf("got outputs %v, want %v", res.Outputs, wantOutputs)
	}
	for _, want := range []string{"$ terraform init -no-color -input=false", "$ terraform plan -no-color", "$ terraform apply -no-color -auto-approve -input=false"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log does not contain %q:\n%s", want, log.String())
		}
	}
	if strings.Contains(log.String(), "$ terraform output") {
		t.Errorf("the outputs were read with another terraform process, not from the state:\n%s", log.String())
	}

	res, err = p.Apply(ctx, testEnv("feat-a", "sha2"), &log)
	if err != nil {
		t.Fatalf("re-apply: %v\n%s", err, log.String())
	}
	if want := "http://feat-a.preview.test/sha2"; res.URL != want {
		t.Errorf("re-apply: got URL %q, want %q", res.URL, want)
	}
	marker := filepath.Join(dataDir, "envs", "feat-a", "module", "runtime", "feat-a")
	if b, err := os.ReadFile(marker); err != nil || strings.TrimSpace(string(b)) != "sha2" {
		t.Errorf("runtime file: got %q, %v, want sha2", b, err)
	}

	if err := p.Destroy(ctx, testEnv("feat-a", "sha2"), &log); err != nil {
		t.Fatalf("destroy: %v\n%s", err, log.String())
	}
	if _, err := os.Stat(filepath.Join(dataDir, "envs", "feat-a")); !os.IsNotExist(err) {
		t.Errorf("environment directory left after destroy: %v", err)
	}
	var again bytes.Buffer
	if err := p.Destroy(ctx, testEnv("feat-a", "sha2"), &again); err != nil {
		t.Errorf("second destroy: %v", err)
	}
	if strings.Contains(again.String(), "$ terraform") {
		t.Errorf("second destroy ran terraform:\n%s", again.String())
	}
}

func TestDestroyNeverApplied(t *testing.T) {
	t.Parallel()
	p, _ := newTestProvisioner(t, fixture("basic"))
	var log bytes.Buffer
	if err := p.Destroy(context.Background(), testEnv("never", "sha"), &log); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(log.String(), "$ terraform") {
		t.Errorf("destroy ran terraform:\n%s", log.String())
	}
}

// TestProductionModuleUntouched runs on a read-only copy of a module holding
// what a production checkout may hold after a run by hand: a local state, its
// backup and a .terraform directory. None may change or reach the preview.
func TestProductionModuleUntouched(t *testing.T) {
	t.Parallel()
	prod := t.TempDir()
	copyModuleTree(t, fixture("basic").Dir, prod)
	prodState := `{"version":4,"terraform_version":"1.5.7","serial":9,"lineage":"prod","outputs":{},"resources":[` +
		`{"mode":"managed","type":"terraform_data","name":"prod_only","provider":"provider[\"terraform.io/builtin/terraform\"]",` +
		`"instances":[{"schema_version":0,"attributes":{"id":"prod","input":null,"output":null,"triggers_replace":null}}]}]}`
	writeTree(t, prod, map[string]string{
		"terraform.tfstate":            prodState,
		"terraform.tfstate.backup":     prodState,
		".terraform/terraform.tfstate": `{"version":3,"backend":{"type":"s3","config":{"bucket":"prod"}}}`,
	})
	readOnly(t, prod)
	before := treeDigest(t, prod)

	p, dataDir := newTestProvisioner(t, Module{Dir: prod})
	ctx := context.Background()
	var log bytes.Buffer
	if _, err := p.Apply(ctx, testEnv("feat-ro", "sha1"), &log); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if _, err := p.Apply(ctx, testEnv("feat-ro", "sha2"), &log); err != nil {
		t.Fatalf("re-apply: %v\n%s", err, log.String())
	}
	ws := filepath.Join(dataDir, "envs", "feat-ro")
	for _, leaked := range []string{"module/terraform.tfstate", "module/terraform.tfstate.backup", "module/.terraform"} {
		if _, err := os.Stat(filepath.Join(ws, leaked)); !os.IsNotExist(err) {
			t.Errorf("%s exists in the environment: %v", leaked, err)
		}
	}
	state, err := os.ReadFile(filepath.Join(ws, "terraform.tfstate"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(state), "prod_only") || !strings.Contains(string(state), "feat-ro") {
		t.Errorf("environment state is not its own:\n%s", state)
	}
	if err := p.Destroy(ctx, testEnv("feat-ro", "sha2"), &log); err != nil {
		t.Fatalf("destroy: %v\n%s", err, log.String())
	}
	if after := treeDigest(t, prod); after != before {
		t.Errorf("production module directory changed")
	}
}

// TestOverrideFilesCannotMoveTheStateOnEitherEngine gives a module whose
// own backend is production's state file an OpenTofu override file that
// would otherwise win over previewd's: one named like previewd's own
// (OpenTofu reads it instead of previewd's .tf.json), and one setting a
// backend and sorting after it. On Terraform and on OpenTofu alike the
// module is refused before anything runs, and production's state is never
// written.
func TestOverrideFilesCannotMoveTheStateOnEitherEngine(t *testing.T) {
	t.Parallel()
	for engine, bin := range engines(t) {
		for _, file := range []string{"zz_previewd_override.tofu.json", "zzz_override.tofu"} {
			t.Run(engine+"/"+file, func(t *testing.T) {
				t.Parallel()
				prodState := filepath.Join(t.TempDir(), "production.tfstate")
				backend := fmt.Sprintf("terraform {\n  backend \"local\" {\n    path = %q\n  }\n}\n", prodState)
				module := t.TempDir()
				copyModuleTree(t, fixture("basic").Dir, module)
				files := map[string]string{"backend.tf": backend, file: backend}
				if strings.HasSuffix(file, ".json") {
					files[file] = "{}\n" // OpenTofu reads it instead of previewd's override, and the module's backend stays
				}
				writeTree(t, module, files)
				p, _ := newTestProvisioner(t, Module{Dir: module}, func(c *Config) { c.TerraformBin = bin })
				var log waittest.Buffer
				_, err := p.Apply(context.Background(), testEnv("moved", "sha1"), &log)
				if preview.ErrorCode(err) != preview.EINVALID || !strings.Contains(err.Error(), file) {
					t.Errorf("apply: %v; want EINVALID naming %s\n%s", err, file, log.String())
				}
				if _, err := os.Stat(prodState); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("production's state was written (%v)", err)
				}
			})
		}
	}
}

// TestNoSecretsReachModule dumps the environment local-exec sees.
func TestNoSecretsReachModule(t *testing.T) {
	secrets := map[string]string{
		"PREVIEWD_WEBHOOK_SECRET":               "webhook-secret-3f9a",
		"PREVIEWD_ADMIN_TOKEN":                  "admin-token-77c1",
		"PREVIEWD_GITHUB_APP_PRIVATE_KEY_FILE":  "/secret/key-path-9d2e.pem",
		"GITHUB_TOKEN":                          "ghp_secret0a1b2c",
		"UNRELATED_SECRET_NOT_IN_THE_ALLOWLIST": "unlisted-5e6f",
	}
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	t.Setenv("AWS_REGION", "eu-west-1")
	p, dataDir := newTestProvisioner(t, fixture("basic"), func(c *Config) {
		c.EnvPassthrough = []string{"AWS_*"}
		c.Env = map[string]string{"PREVIEW_FIXED": "fixed-value"}
	})
	var log bytes.Buffer
	if _, err := p.Apply(context.Background(), testEnv("feat-env", "sha1"), &log); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	ws := filepath.Join(dataDir, "envs", "feat-env")
	dump, err := os.ReadFile(filepath.Join(ws, "module", "env.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"AWS_REGION=eu-west-1", "PREVIEW_FIXED=fixed-value", "TF_DATA_DIR=" + filepath.Join(ws, ".terraform"), "CHECKPOINT_DISABLE=1", "PATH="} {
		if !strings.Contains(string(dump), want) {
			t.Errorf("module environment lacks %q:\n%s", want, dump)
		}
	}
	state, _ := os.ReadFile(filepath.Join(ws, "terraform.tfstate"))
	varFile, _ := os.ReadFile(filepath.Join(ws, "previewd.tfvars.json"))
	for name, value := range secrets {
		for what, text := range map[string]string{"module environment": string(dump), "state": string(state), "var file": string(varFile), "log": log.String()} {
			if strings.Contains(text, name) || strings.Contains(text, value) {
				t.Errorf("%s holds %s or its value", what, name)
			}
		}
	}
	if strings.Contains(string(dump), "PREVIEWD_") || strings.Contains(string(dump), "GITHUB_") {
		t.Errorf("module environment holds a PREVIEWD_ or GITHUB_ variable:\n%s", dump)
	}
	if err := p.Destroy(context.Background(), testEnv("feat-env", "sha1"), &log); err != nil {
		t.Fatalf("destroy: %v\n%s", err, log.String())
	}
}

func TestModuleWithoutEnvironment(t *testing.T) {
	t.Parallel()
	mod := fixture("no-environment")
	p, _ := newTestProvisioner(t, mod)
	var log bytes.Buffer
	_, err := p.Apply(context.Background(), testEnv("feat-noenv", "sha1"), &log)
	want := `module ` + mod.Dir + ` does not declare variable "environment"`
	if preview.ErrorCode(err) != preview.EINVALID || preview.ErrorMessage(err) != want {
		t.Fatalf("got %v, want EINVALID %q", err, want)
	}
	if strings.Contains(log.String(), "$ terraform") {
		t.Errorf("terraform ran:\n%s", log.String())
	}
}

func TestUndeclaredConfiguredVar(t *testing.T) {
	t.Parallel()
	mod := fixture("basic")
	mod.Vars = map[string]any{"instance_count": 1}
	p, _ := newTestProvisioner(t, mod)
	_, err := p.Apply(context.Background(), testEnv("feat-undeclared", "sha1"), nil)
	if preview.ErrorCode(err) != preview.EINVALID || !strings.Contains(preview.ErrorMessage(err), `"instance_count"`) {
		t.Fatalf("got %v, want EINVALID naming instance_count", err)
	}
}

// TestSomeVariables runs a module declaring environment and branch only:
// nothing else may be passed, or Terraform would warn about undeclared
// variables.
func TestSomeVariables(t *testing.T) {
	t.Parallel()
	p, dataDir := newTestProvisioner(t, fixture("some-vars"))
	var log bytes.Buffer
	res, err := p.Apply(context.Background(), testEnv("feat-some", "sha1"), &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if want := "http://feat-some.test/feat/feat-some"; res.URL != want {
		t.Errorf("got URL %q, want %q", res.URL, want)
	}
	b, err := os.ReadFile(filepath.Join(dataDir, "envs", "feat-some", "previewd.tfvars.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vars map[string]any
	json.Unmarshal(b, &vars)
	if got := sortedKeys(vars); !slices.Equal(got, []string{"branch", "environment"}) {
		t.Errorf("var file sets %q, want branch and environment only", got)
	}
	if strings.Contains(strings.ToLower(log.String()), "undeclared") {
		t.Errorf("terraform warned about undeclared variables:\n%s", log.String())
	}
}

// TestVarFileOrder checks var files in order, then configured vars, then the
// per-pull-request values, even over a var file setting environment.
func TestVarFileOrder(t *testing.T) {
	t.Parallel()
	mod := fixture("varfiles")
	mod.VarFiles = []string{"a.tfvars", filepath.Join(mod.Dir, "b.tfvars")}
	mod.Vars = map[string]any{"c": "vars"}
	p, _ := newTestProvisioner(t, mod)
	var log bytes.Buffer
	res, err := p.Apply(context.Background(), testEnv("feat-order", "sha1"), &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if got, want := res.Outputs["values"], "environment=feat-order a=file-a b=file-b c=vars count_of=3"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestNoURLOutput(t *testing.T) {
	t.Parallel()
	p, _ := newTestProvisioner(t, fixture("no-url"))
	_, err := p.Apply(context.Background(), testEnv("feat-nourl", "sha1"), nil)
	if preview.ErrorCode(err) != preview.EINVALID || !strings.Contains(preview.ErrorMessage(err), `"url"`) {
		t.Fatalf("got %v, want EINVALID naming the url output", err)
	}
}

func TestLockFileReadOnly(t *testing.T) {
	t.Parallel()
	p, _ := newTestProvisioner(t, fixture("locked"))
	var log bytes.Buffer
	if _, err := p.Apply(context.Background(), testEnv("feat-lock", "sha1"), &log); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "$ terraform init -no-color -input=false -reconfigure -lockfile=readonly\n") {
		t.Errorf("init did not get -lockfile=readonly:\n%s", log.String())
	}
}

func TestApplyFailure(t *testing.T) {
	t.Parallel()
	p, _ := newTestProvisioner(t, fixture("fail"))
	var log bytes.Buffer
	_, err := p.Apply(context.Background(), testEnv("feat-fail", "sha1"), &log)
	if err == nil {
		t.Fatal("apply succeeded")
	}
	for _, want := range []string{"apply feat-fail: terraform apply: exit status 1", "local-exec provisioner error", "exit status 3", "failed-on-purpose"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestApplyCancel(t *testing.T) {
	t.Parallel()
	p, _ := newTestProvisioner(t, fixture("slow"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := &waittest.Buffer{}
	done := make(chan error, 1)
	go func() {
		_, err := p.Apply(ctx, testEnv("feat-slow", "sha1"), log)
		done <- err
	}()
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(log.String(), "started-sleeping"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the provisioner never started:\n%s", log.String())
		}
	}
	cancelled := time.Now()
	cancel()
	select {
	case err := <-done:
		if took := time.Since(cancelled); took > 15*time.Second {
			t.Errorf("apply returned %s after cancel", took)
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("apply still running 30s after cancel:\n%s", log.String())
	}
	if err := p.Destroy(context.Background(), testEnv("feat-slow", "sha1"), log); err != nil {
		t.Errorf("destroy after cancel: %v\n%s", err, log.String())
	}
}

// TestConcurrentEnvironments applies two environments at once, sharing a
// plugin cache.
func TestConcurrentEnvironments(t *testing.T) {
	t.Parallel()
	p, dataDir := newTestProvisioner(t, fixture("basic"), func(c *Config) {
		c.PluginCacheDir = filepath.Join(t.TempDir(), "plugins")
	})
	names := []string{"feat-one", "feat-two"}
	results := make([]Result, len(names))
	errs := make([]error, len(names))
	logs := make([]bytes.Buffer, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() { results[i], errs[i] = p.Apply(context.Background(), testEnv(name, "sha-"+name), &logs[i]) })
	}
	wg.Wait()
	for i, name := range names {
		if errs[i] != nil {
			t.Fatalf("%s: %v\n%s", name, errs[i], logs[i].String())
		}
		if want := "http://" + name + ".preview.test/sha-" + name; results[i].URL != want {
			t.Errorf("%s: got URL %q, want %q", name, results[i].URL, want)
		}
		state, err := os.ReadFile(filepath.Join(dataDir, "envs", name, "terraform.tfstate"))
		if err != nil {
			t.Fatal(err)
		}
		other := names[1-i]
		if !strings.Contains(string(state), "sha-"+name) || strings.Contains(string(state), other) {
			t.Errorf("%s: state is not its own:\n%s", name, state)
		}
	}
	for i, name := range names {
		wg.Go(func() { errs[i] = p.Destroy(context.Background(), testEnv(name, "sha-"+name), &logs[i]) })
	}
	wg.Wait()
	for i, name := range names {
		if errs[i] != nil {
			t.Errorf("destroy %s: %v\n%s", name, errs[i], logs[i].String())
		}
	}
}

// copyModuleTree copies the regular files and directories under src into dst.
func copyModuleTree(t testing.TB, src, dst string) {
	t.Helper()
	entries, err := scanSource(src)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for rel, e := range entries {
		if e.mode.IsRegular() {
			b, err := os.ReadFile(filepath.Join(src, rel))
			if err != nil {
				t.Fatal(err)
			}
			files[rel] = string(b)
		}
	}
	writeTree(t, dst, files)
}

func TestEngineBanner(t *testing.T) {
	t.Parallel()
	p, _ := newTestProvisioner(t, fixture("basic"))
	got, err := p.EngineBanner(context.Background())
	if err != nil || !regexp.MustCompile(`^(Terraform|OpenTofu) v\d+\.\d+\.\d+`).MatchString(got) {
		t.Errorf("got %q, %v; want Terraform or OpenTofu and a version", got, err)
	}
}

// TestInitRunsOnlyWhenTheModuleChanged applies twice with the same module,
// then after a change of it: init runs the first and the third time only,
// and never with terraform-exec's version check before it.
func TestInitRunsOnlyWhenTheModuleChanged(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	copyModuleTree(t, filepath.Join("testdata", "basic"), src)
	mod := Module{Dir: src}
	p, _ := newTestProvisioner(t, mod)
	ctx := context.Background()
	apply := func(sha string) string {
		t.Helper()
		var log waittest.Buffer
		if _, err := p.Apply(ctx, testEnv("init-once", sha), &log); err != nil {
			t.Fatalf("%v\n%s", err, log.String())
		}
		return log.String()
	}
	if first := apply("sha1"); !strings.Contains(first, "$ terraform init") || strings.Contains(first, "$ terraform version") {
		t.Errorf("the first apply did not init, or ran terraform-exec's version check:\n%s", first)
	}
	second := apply("sha2")
	if strings.Contains(second, "$ terraform init") || strings.Contains(second, "$ terraform version") || !strings.Contains(second, "not running terraform init") {
		t.Errorf("the second apply of an unchanged module ran init or version:\n%s", second)
	}
	main := filepath.Join(src, "main.tf")
	b, _ := os.ReadFile(main)
	os.WriteFile(main, append(b, []byte("\n# changed\n")...), 0o644)
	if third := apply("sha3"); !strings.Contains(third, "$ terraform init") {
		t.Errorf("the apply after a module change did not init:\n%s", third)
	}
}

// TestEnvironmentsOfAModuleInitOnce applies two environments of one module:
// the second copies the first one's init instead of running terraform init
// (or terraform-exec's version check), and each keeps its own state. A kept
// init that turns out broken is dropped by the run it broke, and the next
// run inits for real.
func TestEnvironmentsOfAModuleInitOnce(t *testing.T) {
	t.Parallel()
	p, dataDir := newTestProvisioner(t, fixture("basic"))
	ctx := context.Background()
	apply := func(name string) (string, error) {
		t.Helper()
		var log waittest.Buffer
		_, err := p.Apply(ctx, testEnv(name, "sha-"+name), &log)
		return log.String(), err
	}
	if log, err := apply("first"); err != nil || !strings.Contains(log, "$ terraform init") {
		t.Fatalf("first environment: %v; want it to run init:\n%s", err, log)
	}
	log, err := apply("second")
	if err != nil {
		t.Fatalf("second environment: %v\n%s", err, log)
	}
	if strings.Contains(log, "$ terraform init") || strings.Contains(log, "$ terraform version") || !strings.Contains(log, "copied that init") {
		t.Errorf("the second environment of the module ran init or version:\n%s", log)
	}
	for _, name := range []string{"first", "second"} {
		state, err := os.ReadFile(filepath.Join(dataDir, "envs", name, "terraform.tfstate"))
		if err != nil || !strings.Contains(string(state), "runtime/"+name) || strings.Count(string(state), `"type": "terraform_data"`) != 1 {
			t.Errorf("%s's state holds something else than its own resource (%v):\n%s", name, err, state)
		}
	}

	// Break the kept init: its backend settings no longer match the
	// module's, so the next command that copies it fails.
	entries, _ := filepath.Glob(filepath.Join(dataDir, "init", "*", "data", "terraform.tfstate"))
	if len(entries) != 1 {
		t.Fatalf("kept inits: %v, want one", entries)
	}
	if err := os.WriteFile(entries[0], []byte(`{"version": 3, "backend": {"type": "local", "config": {"path": "elsewhere"}, "hash": 1}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if log, err := apply("third"); err == nil {
		t.Fatalf("an environment copying a broken init applied:\n%s", log)
	}
	if _, err := os.Stat(filepath.Dir(filepath.Dir(entries[0]))); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the broken kept init is still there: %v", err)
	}
	if log, err := apply("third"); err != nil || !strings.Contains(log, "$ terraform init") {
		t.Errorf("the run after a broken kept init: %v; want a real init:\n%s", err, log)
	}
	for _, name := range []string{"first", "second", "third"} {
		if err := p.Destroy(ctx, testEnv(name, "sha-"+name), nil); err != nil {
			t.Errorf("destroy %s: %v", name, err)
		}
	}
}
