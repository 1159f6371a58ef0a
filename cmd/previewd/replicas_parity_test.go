package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/internal/pgtest"
)

// TestReplicasCheckWhatTheyApplied opens 12 pull requests on three
// replicas, each delivery sent to a replica at random: every environment's
// parity is checked by the replica that applied it, from the plan it kept,
// with no plan made again, though every replica hears of every
// environment ready and sweeps for unchecked ones.
func TestReplicasCheckWhatTheyApplied(t *testing.T) {
	url, conn := pgtest.Database(t)
	module := slowModule(t, 1, false)
	config, _ := pgStateConfig(t)
	const prs = 12
	c := startCluster(t, 3, "PREVIEWD_DATABASE_URL="+url, "PREVIEWD_CONFIG="+config, "PREVIEWD_MODULE_DIR="+module,
		"PREVIEWD_LEASE_TTL=3s", "PREVIEWD_MAX_CONCURRENT_RUNS=2", "PREVIEWD_LOG_LEVEL=info")
	t0 := time.Now().Add(-time.Hour)
	branch := func(n int) string { return fmt.Sprintf("c-%d", n) }
	for n := 1; n <= prs; n++ {
		c.deliver(prEvent{"opened", branch(n), "a" + branch(n), n, t0}, fmt.Sprintf("open-%d", n))
	}
	p := c.any()
	for n := 1; n <= prs; n++ {
		p.waitFor(branch(n), "ready and checked", func(e apiEnvironment) bool {
			return readyAt("a"+branch(n))(e) && e.Parity.SHA == "a"+branch(n)
		})
	}
	replicas := map[string]bool{}
	for _, run := range runJournal(t, conn, "") {
		if run.Phase != preview.PhaseApply || run.State != preview.RunSucceeded {
			t.Errorf("%s: a %s run %s: every apply should succeed at once", run.Environment, run.Phase, run.State)
			continue
		}
		replicas[run.Replica] = true
		var log string
		if err := conn.QueryRow(context.Background(), "SELECT coalesce(string_agg(convert_from(chunk, 'UTF8'), '' ORDER BY seq), '') FROM run_logs WHERE run_id = $1", run.ID).Scan(&log); err != nil {
			t.Fatal(err)
		}
		if checks := strings.Count(log, "checking parity with production"); checks != 1 {
			t.Errorf("%s: %d parity checks in its run's log, want 1:\n%s", run.Environment, checks, log)
		}
		if !strings.Contains(log, "comparing the plan this environment's apply applied") {
			t.Errorf("%s (applied by %s): its check did not compare the plan its apply applied: another replica planned again:\n%s", run.Environment, run.Replica, log)
		}
	}
	if len(replicas) < 2 {
		t.Errorf("applies made by %d replica(s): the replicas did not share the work", len(replicas))
	}
}
