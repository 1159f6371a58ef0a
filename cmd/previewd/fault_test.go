package main

// Fault-injection tests that run the real previewd binary: kill -9 during
// apply and destroy, SIGTERM during apply. Each restart must converge every
// environment to its desired state with nothing lost.

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/previewd/previewd/internal/apitest"
	"github.com/previewd/previewd/internal/pgtest"
	"github.com/previewd/previewd/internal/waittest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// previewdBinary builds cmd/previewd once per test run.
func previewdBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "previewd-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "previewd")
		args := []string{"build", "-o", binPath, "."}
		if raceEnabled {
			args = append(args[:1], append([]string{"-race"}, args[1:]...)...)
		}
		out, err := exec.Command("go", args...).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// TestMain runs the tests and benchmarks with a temporary directory of
// their own, and fails the run when a process they started outlives them:
// an environment's server left running after its test, nothing able to
// stop it once its directory is gone.
func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "previewd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Setenv("TMPDIR", tmp) // every t.TempDir, data and working directory is under it
	// Every admin API answer any test gets keeps to the API's description.
	api := apitest.Install()
	code := api.Verdict(m.Run())
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	if left := processesUnder(tmp); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "processes started by the tests outlive them (killed now):\n%s\n", strings.Join(left, "\n"))
		code = 1
	}
	os.RemoveAll(tmp)
	os.Exit(code)
}

// processesUnder kills and lists the processes whose command line names a
// path under dir.
func processesUnder(dir string) []string {
	entries, _ := os.ReadDir("/proc")
	var left []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte(dir+string(filepath.Separator))) {
			continue
		}
		left = append(left, fmt.Sprintf("  pid %d: %.300s", pid, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
		syscall.Kill(pid, syscall.SIGKILL)
	}
	return left
}

type process struct {
	*previewd
	cmd  *exec.Cmd
	out  *waittest.Buffer
	done chan error
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startProcess runs the previewd binary on dataDir with the slow module.
func startProcess(t testing.TB, dataDir string, extra ...string) *process {
	t.Helper()
	return startProcessAt(t, freeAddr(t), dataDir, extra...)
}

// startProcessAt runs the previewd binary listening on addr, in a process
// group of its own (with the Terraform it starts: see killGroup).
func startProcessAt(t testing.TB, addr, dataDir string, extra ...string) *process {
	t.Helper()
	module, _ := filepath.Abs("testdata/slow")
	cmd := exec.Command(previewdBinary(t), "serve")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Env = append(os.Environ(),
		"PREVIEWD_WEBHOOK_SECRET="+testSecret,
		"PREVIEWD_ADMIN_TOKEN="+testToken,
		"PREVIEWD_DATA_DIR="+dataDir,
		"PREVIEWD_TERRAFORM_BIN="+terraformForTests(t),
		"PREVIEWD_MODULE_DIR="+module,
		"PREVIEWD_LISTEN_ADDR="+addr,
	)
	cmd.Env = append(cmd.Env, extra...)
	out := &waittest.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{previewd: &previewd{t: t, base: "http://" + addr, dataDir: dataDir, logs: out}, cmd: cmd, out: out, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		if t.Failed() {
			t.Logf("previewd output:\n%s", out.String())
		}
	})
	p.waitReady()
	return p
}

// newestRun is the newest run of an environment as the admin API shows
// it, with its log so far.
type newestRun struct {
	ID, Phase, State string
	Log              string
}

// waitRunning waits until the environment's newest run is a run of phase
// whose Terraform is inside it: its log shows the slow module's
// local-exec provisioner running, with the state locked and the resource
// half made.
func (p *process) waitRunning(name, phase string) {
	p.t.Helper()
	read := func() newestRun {
		var runs []newestRun
		if p.get("/api/v1/environments/"+name+"/runs", &runs) != 200 || len(runs) == 0 {
			return newestRun{}
		}
		last := runs[len(runs)-1]
		last.Log = p.runLog(last.ID).Body
		return last
	}
	waittest.ForWithin(p.t, time.Minute, fmt.Sprintf("%s: Terraform inside a %s", name, phase), read, func(r newestRun) bool {
		return r.Phase == phase && r.State == "running" && strings.Contains(r.Log, "(local-exec): Executing:")
	})
}

// waitRunsDrained waits until no environment waits for a run worker
// (previewd_run_queue_depth is 0) and no run of name is running: what
// the deliveries so far asked of the run loop has been served.
func (p *process) waitRunsDrained(name string) {
	p.t.Helper()
	type drained struct {
		Depth string
		Runs  []string
	}
	read := func() drained {
		depth := "unknown"
		if resp, err := http.Get(p.base + "/metrics"); err == nil {
			metrics, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for line := range strings.Lines(string(metrics)) {
				if v, ok := strings.CutPrefix(line, "previewd_run_queue_depth "); ok {
					depth = strings.TrimSpace(v)
				}
			}
		}
		return drained{depth, runStates(p.previewd, name)}
	}
	waittest.For(p.t, "the run queue drained", read, func(d drained) bool {
		return d.Depth == "0" && !slices.ContainsFunc(d.Runs, func(r string) bool { return strings.HasSuffix(r, ":running") })
	})
}

// killGroup kills previewd and every Terraform it runs at once, as a
// machine dying would.
func (p *process) killGroup() {
	p.t.Helper()
	if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		p.t.Fatal(err)
	}
	<-p.done
	p.done <- nil // for Cleanup
}

func (p *process) kill9() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		p.t.Fatal(err)
	}
	<-p.done
	p.done <- nil // for Cleanup
}

func runStates(p *previewd, name string) []string {
	var runs []struct{ Phase, State string }
	p.get("/api/v1/environments/"+name+"/runs", &runs)
	var out []string
	for _, r := range runs {
		out = append(out, r.Phase+":"+r.State)
	}
	return out
}

func TestKill9DuringApplyRecovers(t *testing.T) {
	dataDir := t.TempDir()
	p := startProcess(t, dataDir)
	t0 := time.Now().Add(-time.Hour)
	p.send(prEvent{"opened", "crash", "sha1", 1, t0})
	p.waitRunning("crash", "apply")
	p.kill9()

	p2 := startProcess(t, dataDir)
	env := p2.waitFor("crash", "ready after restart", readyAt("sha1"))
	if !strings.HasSuffix(env.URL, "/sha1") {
		t.Errorf("url: got %q", env.URL)
	}
	if got := runStates(p2.previewd, "crash"); strings.Join(got, ",") != "apply:interrupted,apply:succeeded" {
		t.Errorf("journal: got %v, want the killed apply interrupted, then a successful one", got)
	}
}

func TestKill9DuringDestroyRecovers(t *testing.T) {
	dataDir := t.TempDir()
	p := startProcess(t, dataDir)
	t0 := time.Now().Add(-time.Hour)
	p.send(prEvent{"opened", "gone", "sha1", 2, t0})
	p.waitFor("gone", "ready", readyAt("sha1"))
	p.send(prEvent{"closed", "gone", "sha1", 2, t0.Add(time.Minute)})
	p.waitRunning("gone", "destroy")
	p.kill9()

	p2 := startProcess(t, dataDir)
	p2.waitFor("gone", "destroyed after restart", func(e apiEnvironment) bool { return e.Status == "destroyed" })
	got := runStates(p2.previewd, "gone")
	if len(got) != 3 || got[1] != "destroy:interrupted" || got[2] != "destroy:succeeded" {
		t.Errorf("journal: got %v", got)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "envs", "gone")); !os.IsNotExist(err) {
		t.Errorf("working directory left after destroy: %v", err)
	}
}

func TestSIGTERMDuringApplyStopsCleanlyAndResumes(t *testing.T) {
	dataDir := t.TempDir()
	p := startProcess(t, dataDir)
	t0 := time.Now().Add(-time.Hour)
	p.send(prEvent{"opened", "term", "sha1", 3, t0})
	p.waitRunning("term", "apply")
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- nil
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v, want status 0", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("previewd did not stop within 60s of SIGTERM")
	}
	t.Logf("stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(p.out.String(), "stopped cleanly") {
		t.Errorf("no clean-stop message in the log")
	}

	p2 := startProcess(t, dataDir)
	p2.waitFor("term", "ready after restart", readyAt("sha1"))
	if got := runStates(p2.previewd, "term"); len(got) != 2 || got[0] != "apply:interrupted" {
		t.Errorf("journal: got %v", got)
	}
}

// TestTenPushesInASecond sends ten pushes while an apply runs: previewd ends
// at the newest head with at most one extra apply.
func TestTenPushesInASecond(t *testing.T) {
	p := startProcess(t, t.TempDir(), "PREVIEWD_MAX_CONCURRENT_RUNS=2")
	t0 := time.Now().Add(-time.Hour)
	p.send(prEvent{"opened", "burst", "sha0", 4, t0})
	p.waitRunning("burst", "apply")
	for i := 1; i <= 10; i++ {
		if code, out := p.send(prEvent{"synchronize", "burst", fmt.Sprintf("sha%d", i), 4, t0.Add(time.Duration(i) * time.Second)}); code != 202 {
			t.Fatalf("push %d: %d %v", i, code, out)
		}
		time.Sleep(80 * time.Millisecond)
	}
	p.waitFor("burst", "ready at the newest head", readyAt("sha10"))
	if got := runStates(p.previewd, "burst"); len(got) != 2 {
		t.Errorf("applies for 11 heads: got %v, want 2", got)
	}
}

func TestDestroyThatFailsTwiceThenSucceeds(t *testing.T) {
	module, _ := filepath.Abs("testdata/flaky-destroy")
	p := startProcess(t, t.TempDir(), "PREVIEWD_MODULE_DIR="+module, "PREVIEWD_RETRY_BASE=200ms")
	t0 := time.Now().Add(-time.Hour)
	p.send(prEvent{"opened", "flaky", "s1", 5, t0})
	p.waitFor("flaky", "ready", readyAt("s1"))
	p.send(prEvent{"closed", "flaky", "s1", 5, t0.Add(time.Minute)})
	env := p.waitFor("flaky", "destroyed after retries", func(e apiEnvironment) bool { return e.Status == "destroyed" })
	if env.LastError != "" {
		t.Errorf("last_error after the successful retry: %q", env.LastError)
	}
	got := runStates(p.previewd, "flaky")
	if strings.Join(got, ",") != "apply:succeeded,destroy:failed,destroy:failed,destroy:succeeded" {
		t.Errorf("journal: got %v", got)
	}
}

func TestOlderDeliveryAfterANewerOneNeverWins(t *testing.T) {
	module, _ := filepath.Abs("testdata/module")
	p := startProcess(t, t.TempDir(), "PREVIEWD_MODULE_DIR="+module)
	t0 := time.Now().Add(-time.Hour)
	p.send(prEvent{"opened", "order", "s1", 6, t0})
	p.send(prEvent{"synchronize", "order", "s3", 6, t0.Add(2 * time.Minute)})
	if code, out := p.send(prEvent{"synchronize", "order", "s2", 6, t0.Add(time.Minute)}); code != 202 || out["result"] != "stale" {
		t.Errorf("older delivery: got %d %v, want 202 stale", code, out)
	}
	p.waitFor("order", "ready at the newest head", readyAt("s3"))
	p.waitRunsDrained("order") // a run the older delivery caused would have started
	var env apiEnvironment
	p.get("/api/v1/environments/order", &env)
	if env.HeadSHA != "s3" || env.AppliedSHA != "s3" {
		t.Errorf("got head %s applied %s, want s3", env.HeadSHA, env.AppliedSHA)
	}
}

// TestRestartWithAPullRequestClosedBehindPreviewdsBack stops previewd, closes
// the pull request on GitHub with no webhook, and restarts: the start-up
// resync confirms the close and tears the environment down.
func TestRestartWithAPullRequestClosedBehindPreviewdsBack(t *testing.T) {
	gh := &fakeGitHub{comments: map[int64]string{}, pulls: map[int]fakePull{1: {"open", "behind", "s1"}, 2: {"open", "still-open", "s2"}}}
	srv := httptest.NewServer(gh.handler())
	defer srv.Close()
	module, _ := filepath.Abs("testdata/module")
	configFile := filepath.Join(t.TempDir(), "previewd.yaml")
	os.WriteFile(configFile, fmt.Appendf(nil, "repos:\n  - name: acme/shop\n    module_dir: %s\n", module), 0o600)
	dataDir := t.TempDir()
	extra := []string{"PREVIEWD_CONFIG=" + configFile, "PREVIEWD_MODULE_DIR=", "PREVIEWD_GITHUB_TOKEN=ghs_fault", "PREVIEWD_GITHUB_API_URL=" + srv.URL + "/"}
	p := startProcess(t, dataDir, extra...)
	t0 := time.Now().Add(-time.Hour)
	p.send(prEvent{"opened", "behind", "s1", 1, t0})
	p.send(prEvent{"opened", "still-open", "s2", 2, t0})
	p.waitFor("behind", "ready", readyAt("s1"))
	p.waitFor("still-open", "ready", readyAt("s2"))
	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
	p.done <- nil

	gh.setPull(1, "closed")
	p2 := startProcess(t, dataDir, extra...)
	p2.waitFor("behind", "destroyed by the start-up resync", func(e apiEnvironment) bool { return e.Status == "destroyed" })
	var other apiEnvironment
	p2.get("/api/v1/environments/still-open", &other)
	if other.Status != "ready" {
		t.Errorf("the other environment: got %s, want it left ready", other.Status)
	}
}

// slowModule writes a copy of testdata/slow whose apply and destroy sleep
// seconds; with everyApply, every apply replaces the resource (a redeploy
// at the same head runs as long as a first apply). It returns its
// directory.
func slowModule(t testing.TB, seconds int, everyApply bool) string {
	t.Helper()
	src, err := os.ReadFile("testdata/slow/main.tf")
	if err != nil {
		t.Fatal(err)
	}
	src = bytes.Replace(src, []byte("default = 3"), fmt.Appendf(nil, "default = %d", seconds), 1)
	if everyApply {
		src = bytes.Replace(src, []byte("resource \"terraform_data\" \"app\" {\n"), []byte("resource \"terraform_data\" \"app\" {\n  triggers_replace = timestamp()\n"), 1)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// pgStateConfig writes a configuration file keeping every environment's
// state in a PostgreSQL database of its own (Terraform's pg backend), with
// a role of its own, never the store's; it returns the file's path and an
// administrator's connection to the state database.
func pgStateConfig(t testing.TB) (string, *pgx.Conn) {
	t.Helper()
	configFile := filepath.Join(t.TempDir(), "previewd.yaml")
	state, conn := pgtest.StateDatabase(t)
	if err := os.WriteFile(configFile, []byte("state:\n  backend: pg\n  config:\n    conn_str: "+state+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return configFile, conn
}
