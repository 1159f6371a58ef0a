package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/internal/pgtest"
	"github.com/previewd/previewd/internal/waittest"
)

// cluster is several previewd processes sharing one PostgreSQL database,
// each with its own address and data directory, as replicas on several
// machines would.
type cluster struct {
	t       testing.TB
	mu      sync.Mutex
	nodes   []*process
	addrs   []string
	dirs    []string
	env     []string
	started int
}

func startCluster(t testing.TB, n int, env ...string) *cluster {
	c := &cluster{t: t, env: env}
	for range n {
		c.addrs = append(c.addrs, freeAddr(t))
		c.dirs = append(c.dirs, t.TempDir())
		c.nodes = append(c.nodes, nil)
	}
	for i := range n {
		c.start(i)
	}
	return c
}

func (c *cluster) start(i int) {
	p := startProcessAt(c.t, c.addrs[i], c.dirs[i], c.env...)
	c.mu.Lock()
	c.nodes[i] = p
	c.started++
	c.mu.Unlock()
}

// kill kills replica i and the Terraform it runs, as its machine dying
// would, and starts it again after pause.
func (c *cluster) kill(i int, pause time.Duration) {
	c.mu.Lock()
	p := c.nodes[i]
	c.nodes[i] = nil
	c.mu.Unlock()
	p.killGroup()
	time.Sleep(pause)
	c.start(i)
}

// deliver sends a signed delivery to a replica picked at random, and to
// another one, with the same delivery ID, until one answers 2xx: GitHub
// redelivering what failed. It returns the delivery ID.
func (c *cluster) deliver(e prEvent, id string) {
	body := e.payload()
	mac := hmac.New(sha256.New, []byte(testSecret))
	mac.Write(body)
	sig := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		addr := c.addrs[rand.IntN(len(c.addrs))]
		req, _ := http.NewRequest("POST", "http://"+addr+"/webhooks/github", bytes.NewReader(body))
		req.Header.Set("X-GitHub-Event", "pull_request")
		req.Header.Set("X-GitHub-Delivery", id)
		req.Header.Set("X-Hub-Signature-256", sig)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Errorf("delivery %s: no replica acknowledged it in a minute", id)
}

// any returns a running replica.
func (c *cluster) any() *process {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.nodes {
		if p != nil {
			return p
		}
	}
	return nil
}

// leaders returns the replicas whose previewd_leader gauge is 1.
func (c *cluster) leaders() []int {
	var out []int
	for i, addr := range c.addrs {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if bytes.Contains(body, []byte("\npreviewd_leader 1\n")) {
			out = append(out, i)
		}
	}
	return out
}

// TestReplicasConvergeWhileKilled runs three replicas of the real binary
// on one PostgreSQL (the store and Terraform's pg state backend), opens,
// pushes to and closes 50 pull requests with every delivery sent to a
// replica at random, and kills a replica (with its Terraform) every few
// seconds, starting it again. At the end: every environment converged to
// its pull request's last state; every acknowledged delivery is recorded;
// the run journal shows no two overlapping runs of one environment; no
// run is left running, no lease on an environment and no Terraform state
// lock is left behind, and only the open pull requests' workspaces remain.
func TestReplicasConvergeWhileKilled(t *testing.T) {
	url, conn := pgtest.Database(t)
	module := slowModule(t, 1, false)
	config, state := pgStateConfig(t)
	const prs, ttl = 50, 3 * time.Second
	c := startCluster(t, 3, "PREVIEWD_DATABASE_URL="+url, "PREVIEWD_CONFIG="+config, "PREVIEWD_MODULE_DIR="+module,
		"PREVIEWD_LEASE_TTL="+ttl.String(), "PREVIEWD_MAX_CONCURRENT_RUNS=2", "PREVIEWD_RETRY_BASE=1s", "PREVIEWD_LOG_LEVEL=info")

	stopKiller := make(chan struct{})
	killerDone := make(chan int)
	go func() {
		kills := 0
		for {
			select {
			case <-stopKiller:
				killerDone <- kills
				return
			case <-time.After(time.Duration(1500+rand.IntN(1500)) * time.Millisecond):
			}
			c.kill(rand.IntN(3), 300*time.Millisecond)
			kills++
		}
	}()

	t0 := time.Now().Add(-time.Hour)
	closed := func(n int) bool { return n%2 == 1 }
	var acked []string
	var ackedMu sync.Mutex
	phase := func(what string, event func(n int) (prEvent, bool)) {
		var wg sync.WaitGroup
		work := make(chan int)
		for range 6 {
			wg.Go(func() {
				for n := range work {
					e, ok := event(n)
					if !ok {
						continue
					}
					id := fmt.Sprintf("%s-%d", what, n)
					c.deliver(e, id)
					ackedMu.Lock()
					acked = append(acked, id)
					ackedMu.Unlock()
					time.Sleep(time.Duration(rand.IntN(200)) * time.Millisecond)
				}
			})
		}
		for n := 1; n <= prs; n++ {
			work <- n
		}
		close(work)
		wg.Wait()
	}
	branch := func(n int) string { return fmt.Sprintf("r-%d", n) }
	phase("open", func(n int) (prEvent, bool) { return prEvent{"opened", branch(n), "a" + branch(n), n, t0}, true })
	time.Sleep(4 * time.Second) // some applies under way
	phase("push", func(n int) (prEvent, bool) {
		return prEvent{"synchronize", branch(n), "b" + branch(n), n, t0.Add(time.Minute)}, true
	})
	time.Sleep(3 * time.Second)
	phase("close", func(n int) (prEvent, bool) {
		return prEvent{"closed", branch(n), "b" + branch(n), n, t0.Add(2 * time.Minute)}, closed(n)
	})
	time.Sleep(5 * time.Second) // a kill or two while they converge
	close(stopKiller)
	kills := <-killerDone
	t.Logf("%d deliveries acknowledged, %d replicas killed and started again", len(acked), kills)

	// Every environment converges to its pull request's last state.
	p := c.any()
	deadline := time.Now().Add(4 * time.Minute)
	for n := 1; n <= prs; n++ {
		name := branch(n)
		for {
			var env apiEnvironment
			code := p.get("/api/v1/environments/"+name, &env)
			if code == 200 && (closed(n) && env.Status == "destroyed" || !closed(n) && env.Status == "ready" && env.AppliedSHA == "b"+name) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not converge: %d %+v", name, code, env)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	ctx := context.Background()
	var recorded int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM deliveries WHERE id = ANY($1)", acked).Scan(&recorded); err != nil {
		t.Fatal(err)
	}
	if recorded != len(acked) {
		t.Errorf("%d of %d acknowledged deliveries recorded", recorded, len(acked))
	}

	// No two runs of one environment overlap; none is left running.
	runs := runJournal(t, conn, "")
	byEnv := map[string][]preview.Run{}
	interrupted, processes := 0, map[int]bool{}
	for _, r := range runs {
		processes[r.PID] = true
		byEnv[r.Environment] = append(byEnv[r.Environment], r)
		if r.State == preview.RunRunning {
			t.Errorf("run %s still recorded as running", r.ID)
		}
		if r.State == preview.RunInterrupted {
			interrupted++
		}
	}
	for name, rs := range byEnv {
		for i := 1; i < len(rs); i++ {
			if prev := rs[i-1]; rs[i].StartedAt.Before(prev.FinishedAt) {
				t.Errorf("%s: run %s (%s, started %s) overlaps run %s (%s, finished %s)", name,
					rs[i].ID, rs[i].Phase, rs[i].StartedAt.Format(time.StampMicro), prev.ID, prev.Phase, prev.FinishedAt.Format(time.StampMicro))
			}
		}
	}
	t.Logf("%d runs by %d processes, %d interrupted by a kill and taken over", len(runs), len(processes), interrupted)
	if len(processes) < 3 {
		t.Errorf("runs made by %d processes: the replicas did not share the work", len(processes))
	}
	if interrupted == 0 && kills > 0 {
		t.Errorf("%d kills interrupted no run: the test did not kill a replica mid-run", kills)
	}

	// No lease on an environment, nor a Terraform lock, is left behind
	// (a dead replica's lease is pruned once it expires).
	var left []string
	for end := time.Now().Add(4 * ttl); ; {
		left = nil
		rows, _ := conn.Query(ctx, "SELECT name FROM leases WHERE name NOT LIKE 'previewd:%' ORDER BY name")
		left, _ = pgx.CollectRows(rows, pgx.RowTo[string])
		if len(left) == 0 || time.Now().After(end) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(left) > 0 {
		t.Errorf("leases left on environments: %v", left)
	}
	var locks int
	if err := state.QueryRow(ctx, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())").Scan(&locks); err != nil {
		t.Fatal(err)
	}
	if locks > 0 {
		t.Errorf("%d advisory locks (Terraform's state locks) left held", locks)
	}
	var want []string
	for n := 2; n <= prs; n += 2 {
		want = append(want, "previewd-"+branch(n))
	}
	slices.Sort(want)
	if got := pgtest.StateNames(t, state, pgtest.StateSchema); !slices.Equal(got, want) {
		t.Errorf("workspaces in PostgreSQL:\n got %v\nwant %v", got, want)
	}
	if t.Failed() {
		for i, n := range c.nodes {
			if n != nil {
				t.Logf("replica %d:\n%s", i, lastLines(n.out.String(), 80))
			}
		}
	}
}

// TestLeaderMovesWhenItsReplicaDies: exactly one of three replicas runs
// the loops that run once, and another takes them over within lease_ttl
// (and a check interval) of its death.
func TestLeaderMovesWhenItsReplicaDies(t *testing.T) {
	url, _ := pgtest.Database(t)
	config, _ := pgStateConfig(t)
	const ttl = 3 * time.Second
	c := startCluster(t, 3, "PREVIEWD_DATABASE_URL="+url, "PREVIEWD_CONFIG="+config, "PREVIEWD_LEASE_TTL="+ttl.String())
	waitLeader := func(not int) (int, time.Duration) {
		start := time.Now()
		for time.Since(start) < 4*ttl {
			if l := c.leaders(); len(l) == 1 && l[0] != not {
				return l[0], time.Since(start)
			} else if len(l) > 1 {
				t.Fatalf("two leaders at once: %v", l)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("no new leader within %s", 4*ttl)
		return 0, 0
	}
	first, _ := waitLeader(-1)
	c.mu.Lock()
	p := c.nodes[first]
	c.nodes[first] = nil
	c.mu.Unlock()
	p.killGroup()
	second, took := waitLeader(first)
	t.Logf("leader %d killed; replica %d leads %s later", first, second, took.Round(time.Millisecond))
	if took > ttl+ttl/3+time.Second {
		t.Errorf("the leader moved after %s, want within lease_ttl (%s) and one attempt interval", took, ttl)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestPausedReplicaIsFencedOff pauses (SIGSTOP) the replica running an
// apply, with its Terraform, for longer than lease_ttl: the other replica
// takes the environment over, and when the paused one wakes up it finds
// its lease gone, stops its Terraform, and none of its late writes lands:
// its run stays recorded as interrupted by the takeover, and the
// environment converges under the new holder.
func TestPausedReplicaIsFencedOff(t *testing.T) {
	url, conn := pgtest.Database(t)
	config, _ := pgStateConfig(t)
	const ttl = 3 * time.Second
	c := startCluster(t, 2, "PREVIEWD_DATABASE_URL="+url, "PREVIEWD_CONFIG="+config,
		"PREVIEWD_LEASE_TTL="+ttl.String(), "PREVIEWD_RETRY_BASE=1s", "PREVIEWD_LOG_LEVEL=info")
	t0 := time.Now().Add(-time.Hour)
	c.deliver(prEvent{"opened", "paused", "sha1", 1, t0}, "open-1")

	ctx := context.Background()
	var first preview.Run
	for deadline := time.Now().Add(time.Minute); first.ID == ""; {
		var data string
		err := conn.QueryRow(ctx, "SELECT data FROM runs WHERE environment = 'paused' AND running ORDER BY seq LIMIT 1").Scan(&data)
		if err == nil {
			json.Unmarshal([]byte(data), &first)
		} else if time.Now().After(deadline) {
			t.Fatal("no run started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	waittest.ForWithin(t, time.Minute, "its Terraform inside the apply", func() string { return c.any().runLog(first.ID).Body }, func(log string) bool {
		return strings.Contains(log, "(local-exec): Executing:")
	})
	var holder, other *process
	for _, p := range c.nodes {
		if p.cmd.Process.Pid == first.PID {
			holder = p
		} else {
			other = p
		}
	}
	if holder == nil {
		t.Fatalf("run %s by pid %d, not a replica's", first.ID, first.PID)
	}
	if err := syscall.Kill(-holder.cmd.Process.Pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// The other replica takes over once the lease expired; its apply waits
	// for the paused Terraform's state lock (retrying), so nothing is
	// applied twice at once.
	for deadline := time.Now().Add(ttl * 4); ; {
		var state string
		conn.QueryRow(ctx, "SELECT data::json->>'state' FROM runs WHERE id = $1", first.ID).Scan(&state)
		if state == string(preview.RunInterrupted) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the paused replica's run was not taken over: %s", state)
		}
		time.Sleep(50 * time.Millisecond)
	}
	waittest.For(t, "the new holder's run", func() int {
		var running int
		conn.QueryRow(ctx, "SELECT count(*) FROM runs WHERE environment = 'paused' AND running AND id <> $1", first.ID).Scan(&running)
		return running
	}, func(running int) bool { return running > 0 })
	if err := syscall.Kill(-holder.cmd.Process.Pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	// It wakes up, finds its lease gone, stops its Terraform, and its
	// writes are refused.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(holder.out.String(), "lease lost: another replica holds it now") {
		if time.Now().After(deadline) {
			t.Fatalf("the paused replica did not notice it lost the lease:\n%s", lastLines(holder.out.String(), 40))
		}
		time.Sleep(50 * time.Millisecond)
	}
	env := other.waitFor("paused", "ready under the new holder", readyAt("sha1"))
	if !strings.HasSuffix(env.URL, "/sha1") {
		t.Errorf("url %q", env.URL)
	}
	var data string
	if err := conn.QueryRow(ctx, "SELECT data FROM runs WHERE id = $1", first.ID).Scan(&data); err != nil {
		t.Fatal(err)
	}
	var run preview.Run
	json.Unmarshal([]byte(data), &run)
	if run.State != preview.RunInterrupted || !strings.Contains(run.Error, "stopped renewing its lease") {
		t.Errorf("the paused replica's run: %s %q, want it left interrupted by the takeover", run.State, run.Error)
	}
	if t.Failed() {
		t.Logf("the paused replica:\n%s", lastLines(holder.out.String(), 40))
	}
}
