package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/previewd/previewd/internal/benchtest"
	"github.com/previewd/previewd/internal/enginetest"
)

// reapplyModule is a module BenchmarkPushReapply pushes to: previewd's
// settings for it, the module, and what Terraform's environment needs
// besides (a CLI configuration installing providers from the mirror).
type reapplyModule struct {
	name     string
	env      map[string]string // previewd's settings
	module   string
	varFiles []string // production's, in the module, as previewd passes them
	tfEnv    []string
}

// pushes is how many pushes BenchmarkPushReapply times per module.
const pushes = 5

// BenchmarkPushReapply times a push's re-apply: a pull request is opened
// and ready, then each push (synchronize, a new head) is timed from the
// webhook until the environment is ready at the new head, previewd's init
// skipped as the module and its lock file did not change. The floor is the
// same change by hand, as a pipeline re-applies a push: `terraform init`
// then `terraform apply`, in a copy of the same module with the same
// variables (previewd's var files, the values it passed read back from its
// generated var file). Goal: previewd within 0.9 × the floor, which is what
// skipping init must earn. The apply alone is reported beside
// (vs-apply-alone-ratio): previewd plans, then applies that saved plan in a
// second process, keeping the plan for the parity check, so against a
// single `terraform apply` it pays one Terraform start more. Pushes
// alternate with the hand-run, so both see the same load; each is reported
// by its median. On the example module, and on a module with a real
// provider (hashicorp/time from the provider mirror).
//
// Each push waits for the previous head's parity check, which holds the
// environment (its saved plan) until it is done: what is timed is the
// push's own work. The run journal splits it: webhook to run start, the
// run (module sync, plan, apply, reading the state), run end to ready.
func BenchmarkPushReapply(b *testing.B) {
	binDir := b.TempDir()
	if out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, "preview-web"), "../preview-web").CombinedOutput(); err != nil {
		b.Fatalf("build preview-web: %v\n%s", err, out)
	}
	b.Setenv("PATH", binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	b.Run("module=example", func(b *testing.B) {
		benchmarkPushReapply(b, reapplyModule{name: "example", env: map[string]string{"PREVIEWD_CONFIG": "../../examples/previewd.yaml"},
			module: "../../examples/preview-web-module", varFiles: []string{"production.tfvars"}})
	})
	b.Run("module=time", func(b *testing.B) {
		mirror := enginetest.ProviderMirror(b, "../..")
		module := b.TempDir()
		copyTree(b, "../../provisioner/testdata/time", module)
		enginetest.LockProviders(b, terraformForTests(b), module, mirror) // production's lock file: init -lockfile=readonly
		cli := enginetest.MirrorConfig(b, mirror)
		config := filepath.Join(b.TempDir(), "previewd.yaml")
		body := fmt.Sprintf("terraform:\n  cli_config: %s\nrepos:\n  - name: acme/shop\n    module_dir: %s\n", cli, module)
		if err := os.WriteFile(config, []byte(body), 0o600); err != nil {
			b.Fatal(err)
		}
		benchmarkPushReapply(b, reapplyModule{name: "time provider", env: map[string]string{"PREVIEWD_CONFIG": config},
			module: module, tfEnv: []string{"TF_CLI_CONFIG_FILE=" + cli}})
	})
}

func benchmarkPushReapply(b *testing.B, m reapplyModule) {
	env := map[string]string{"PREVIEWD_LOG_LEVEL": "warn"}
	for k, v := range m.env {
		env[k] = v
	}
	p := startPreviewd(b, env)
	const name, branch, pr = "push-reapply", "push/reapply", 7
	t0 := time.Now().Add(-time.Hour)
	head := 0 // the pull request's head: its SHA, and its minutes after t0
	sha := func() string { return fmt.Sprintf("%040x", head+1) }
	p.send(prEvent{"opened", branch, sha(), pr, t0})
	p.waitFor(name, "ready and checked", func(e apiEnvironment) bool { return readyAt(sha())(e) && e.Parity.SHA == sha() })
	hand := newHandApply(b, m, filepath.Join(p.dataDir, "envs", name))
	hand.apply(sha()) // what previewd applied at the opening, as the pushes' starting point

	var viaPreviewd, byHand, inits []time.Duration
	var phases []pushPhases
	for b.Loop() {
		for range pushes {
			head++
			sent := time.Now()
			p.send(prEvent{"synchronize", branch, sha(), pr, t0.Add(time.Duration(head) * time.Minute)})
			ready := p.pollReady(name, sha())
			viaPreviewd = append(viaPreviewd, ready.Sub(sent))
			phases = append(phases, p.pushPhases(name, sha(), sent, ready))
			p.waitFor(name, "checked", func(e apiEnvironment) bool { return e.Parity.SHA == sha() })
			inits = append(inits, hand.init())
			byHand = append(byHand, hand.apply(sha()))
		}
	}
	// Tear previewd's environment down: its servers must not outlive the
	// benchmark (the hand-run's are destroyed as it ends: newHandApply).
	p.send(prEvent{"closed", branch, sha(), pr, t0.Add(time.Duration(head+1) * time.Minute)})
	p.waitFor(name, "destroyed", func(e apiEnvironment) bool { return e.Status == "destroyed" })

	initAndApply := make([]time.Duration, len(byHand))
	for i := range byHand {
		initAndApply[i] = inits[i] + byHand[i]
	}
	benchtest.Report(b, benchtest.Figure{Name: "push re-apply, " + m.name, Unit: "ms",
		Value: ms(median(viaPreviewd)), Floor: ms(median(initAndApply)), FloorName: "terraform init + apply by hand", Goal: 0.9})
	b.ReportMetric(ms(median(inits)), "by-hand-init-ms")
	b.ReportMetric(ms(median(byHand)), "by-hand-apply-ms")
	b.ReportMetric(ms(median(viaPreviewd))/ms(median(byHand)), "vs-apply-alone-ratio")
	b.ReportMetric(ms(median(durations(phases, func(ph pushPhases) time.Duration { return ph.toRun }))), "webhook-to-run-ms")
	b.ReportMetric(ms(median(durations(phases, func(ph pushPhases) time.Duration { return ph.run }))), "run-ms")
	b.ReportMetric(ms(median(durations(phases, func(ph pushPhases) time.Duration { return ph.toReady }))), "run-to-ready-ms")
	for i, ph := range phases {
		b.Logf("push %d: %v to ready (%v to the run, %v run, %v to ready); by hand %v init + %v apply", i+1,
			viaPreviewd[i].Round(time.Millisecond), ph.toRun.Round(time.Millisecond), ph.run.Round(time.Millisecond),
			ph.toReady.Round(time.Millisecond), inits[i].Round(time.Millisecond), byHand[i].Round(time.Millisecond))
	}
}

// pollReady polls the named environment every 5 ms until it is ready at
// sha, and returns when it saw it so: the admin API's waits (waitFor) poll
// up to every 50 ms, too coarse for a figure of a few hundred. It polls on
// a client of its own: the tests' default one checks every answer against
// the OpenAPI description, CPU taken from the push on a small machine.
func (p *previewd) pollReady(name, sha string) time.Time {
	p.t.Helper()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(2 * time.Minute)
	var env apiEnvironment
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest("GET", p.base+"/api/v1/environments/"+name, nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := client.Do(req)
		if err != nil {
			p.t.Fatal(err)
		}
		env = apiEnvironment{}
		err = json.NewDecoder(resp.Body).Decode(&env)
		drain(resp)
		if err == nil && resp.StatusCode == http.StatusOK && readyAt(sha)(env) {
			return time.Now()
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.t.Fatalf("%s: not ready at %s within 2m; last saw %+v", name, sha, env)
	return time.Time{}
}

// pushPhases splits a push's time to ready by the run journal: from the
// webhook to the apply's start, the apply, and from its end to ready.
type pushPhases struct {
	toRun, run, toReady time.Duration
}

// pushPhases reads the named environment's apply at sha from its run
// journal.
func (p *previewd) pushPhases(name, sha string, sent, ready time.Time) pushPhases {
	p.t.Helper()
	var runs []struct {
		Phase      string    `json:"phase"`
		HeadSHA    string    `json:"head_sha"`
		State      string    `json:"state"`
		StartedAt  time.Time `json:"started_at"`
		FinishedAt time.Time `json:"finished_at"`
	}
	if code := p.get("/api/v1/environments/"+name+"/runs", &runs); code != 200 {
		p.t.Fatalf("runs of %s: %d", name, code)
	}
	for _, r := range slices.Backward(runs) {
		if r.Phase == "apply" && r.HeadSHA == sha && r.State == "succeeded" {
			return pushPhases{toRun: r.StartedAt.Sub(sent), run: r.FinishedAt.Sub(r.StartedAt), toReady: ready.Sub(r.FinishedAt)}
		}
	}
	p.t.Fatalf("runs of %s: no succeeded apply at %s in %+v", name, sha, runs)
	return pushPhases{}
}

// handApply is BenchmarkPushReapply's floor: a copy of the module,
// initialised once, applied by hand with the variables previewd passed.
type handApply struct {
	b        *testing.B
	tf       string
	dir      string
	env      []string
	varFiles []string
	vars     map[string]any // previewd's, the environment's name made the hand-run's own
	applied  string         // the head last applied; "" before the first apply
}

// newHandApply copies m's module and runs `terraform init` in it, taking
// the variables previewd passed from envDir's generated var file. What it
// applies is destroyed when the benchmark ends.
func newHandApply(b *testing.B, m reapplyModule, envDir string) *handApply {
	b.Helper()
	raw, err := os.ReadFile(filepath.Join(envDir, "previewd.tfvars.json"))
	if err != nil {
		b.Fatal(err)
	}
	h := &handApply{b: b, tf: terraformForTests(b), dir: b.TempDir(), env: append(append(os.Environ(), "CHECKPOINT_DISABLE=1"), m.tfEnv...),
		varFiles: m.varFiles}
	if err := json.Unmarshal(raw, &h.vars); err != nil {
		b.Fatal(err)
	}
	h.vars["environment"] = "hand-" + h.vars["environment"].(string) // its servers and ports are its own
	copyTree(b, m.module, h.dir)
	h.init()
	b.Cleanup(func() {
		if h.applied != "" {
			h.run(append([]string{"destroy", "-auto-approve", "-input=false"}, h.varFileArgs(h.applied)...)...)
		}
	})
	return h
}

// init runs `terraform init` and returns how long it took: what a push
// would cost by hand when its script inits every time, reported beside.
func (h *handApply) init() time.Duration {
	h.b.Helper()
	start := time.Now()
	h.run("init", "-input=false")
	return time.Since(start)
}

// apply runs `terraform apply` at sha and returns how long it took.
func (h *handApply) apply(sha string) time.Duration {
	h.b.Helper()
	args := append([]string{"apply", "-auto-approve", "-input=false"}, h.varFileArgs(sha)...)
	start := time.Now()
	h.run(args...)
	h.applied = sha
	return time.Since(start)
}

// varFileArgs writes the variables at sha and returns the -var-file flags
// previewd would pass: production's var files, then its own.
func (h *handApply) varFileArgs(sha string) []string {
	h.b.Helper()
	h.vars["head_sha"] = sha
	data, err := json.Marshal(h.vars)
	if err != nil {
		h.b.Fatal(err)
	}
	path := filepath.Join(h.dir, "hand.tfvars.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		h.b.Fatal(err)
	}
	var args []string
	for _, f := range append(slices.Clone(h.varFiles), path) {
		args = append(args, "-var-file="+f)
	}
	return args
}

func (h *handApply) run(args ...string) {
	h.b.Helper()
	cmd := exec.Command(h.tf, args...)
	cmd.Dir = h.dir
	cmd.Env = h.env
	if out, err := cmd.CombinedOutput(); err != nil {
		h.b.Fatalf("terraform %s: %v\n%s", args[0], err, out)
	}
}

// median is the middle of ds (the upper one of an even count).
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func durations(phases []pushPhases, of func(pushPhases) time.Duration) []time.Duration {
	out := make([]time.Duration, len(phases))
	for i, ph := range phases {
		out[i] = of(ph)
	}
	return out
}
