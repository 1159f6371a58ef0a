package main

// What BenchmarkScaleOut does to and reads of its replicas: kills a
// replica with every Terraform it started, reads the run journal and the
// replicas' warnings, and says where a burst's time went.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	preview "github.com/previewd/previewd"
)

// killWithTerraform kills replica i, as its machine dying would, with
// every process group its Terraform leads (Terraform runs in a group of
// its own, which the module's commands and providers join: the kernel
// kills Terraform with previewd, not them). The replica is stopped first,
// so it starts no Terraform meanwhile. Its warnings go to logs. A replica
// already gone is left alone.
func (c *cluster) killWithTerraform(i int, logs *replicaLogs) {
	c.mu.Lock()
	p := c.nodes[i]
	c.nodes[i] = nil
	c.mu.Unlock()
	if p == nil {
		return
	}
	pid := p.cmd.Process.Pid
	syscall.Kill(-pid, syscall.SIGSTOP)
	for _, group := range childGroups(pid) {
		syscall.Kill(-group, syscall.SIGKILL)
	}
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		c.t.Errorf("kill replica %d: %v", i, err)
	}
	p.done <- <-p.done // waited for; left for startProcessAt's cleanup
	logs.add(p.out.String())
}

// stopAll kills every replica still running, with its Terraform.
func (c *cluster) stopAll(logs *replicaLogs) {
	for i := range c.nodes {
		c.killWithTerraform(i, logs)
	}
}

// childGroups returns the process groups led by children of pid other
// than pid's own.
func childGroups(pid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var groups []int
	for _, path := range stats {
		data, err := os.ReadFile(path)
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
		f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
		if len(f) < 3 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		pgrp, _ := strconv.Atoi(f[2])
		if ppid == pid && pgrp != pid && !slices.Contains(groups, pgrp) {
			groups = append(groups, pgrp)
		}
	}
	return groups
}

// childCPU is the CPU time of the processes this one started and waited
// for, with that of the processes they waited for (a replica's Terraform
// counts once the replica was killed and waited for).
func childCPU() time.Duration {
	var usage syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &usage)
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

// replicaKill is the replica a kill run killed.
type replicaKill struct {
	replica, pid, readyBefore int
	at                        time.Time     // when it was killed
	after                     time.Duration // since the burst began
	restart                   time.Duration // from the kill to its successor answering /readyz
}

// killBusiest kills the replica with the most runs in flight (see
// killWithTerraform) and starts it again at once, as its supervisor would.
func (c *cluster) killBusiest(b *testing.B, store *pgx.Conn, logs *replicaLogs, start time.Time, ready int) replicaKill {
	b.Helper()
	inFlight := map[int]int{}
	for _, r := range runJournal(b, store, "WHERE running") {
		inFlight[r.PID]++
	}
	c.mu.Lock()
	k := replicaKill{replica: -1, readyBefore: ready}
	for i, p := range c.nodes {
		if pid := p.cmd.Process.Pid; k.replica < 0 || inFlight[pid] > inFlight[k.pid] {
			k.replica, k.pid = i, pid
		}
	}
	c.mu.Unlock()
	k.at = time.Now()
	k.after = k.at.Sub(start)
	c.killWithTerraform(k.replica, logs)
	c.start(k.replica)
	k.restart = time.Since(k.at)
	return k
}

// note says what the kill cost: the runs it cut off, when other replicas
// took their environments over, and when those were ready.
func (k replicaKill) note(runs []preview.Run) string {
	var cut []string
	var takenOver, done []time.Duration
	for i, r := range runs {
		if r.PID != k.pid || r.State != preview.RunInterrupted {
			continue
		}
		cut = append(cut, fmt.Sprintf("%s %s", r.Environment, r.Phase))
		for _, next := range runs[i+1:] {
			if next.Environment == r.Environment && next.StartedAt.After(k.at) {
				takenOver = append(takenOver, next.StartedAt.Sub(k.at))
				done = append(done, next.FinishedAt.Sub(k.at))
				break
			}
		}
	}
	note := fmt.Sprintf("killed replica %d (pid %d) %.1f s into the burst, %d ready, with %d runs in flight (%s); started again, answering in %.1f s",
		k.replica, k.pid, k.after.Seconds(), k.readyBefore, len(cut), strings.Join(cut, ", "), k.restart.Seconds())
	if len(takenOver) > 0 {
		note += fmt.Sprintf("; their environments run again %s s after the kill (lease_ttl %s), ready %s s after it",
			secondsSpread(takenOver), scaleOutLeaseTTL, secondsSpread(done))
	}
	return note
}

// secondsSpread is the least and the greatest of ds, in seconds.
func secondsSpread(ds []time.Duration) string {
	return fmt.Sprintf("%.1f–%.1f", slices.Min(ds).Seconds(), slices.Max(ds).Seconds())
}

// runJournal returns the runs the store recorded, where selects them, in
// the order they were recorded.
func runJournal(tb testing.TB, store *pgx.Conn, where string) []preview.Run {
	tb.Helper()
	rows, err := store.Query(context.Background(), "SELECT data FROM runs "+where+" ORDER BY seq")
	if err != nil {
		tb.Fatal(err)
	}
	runs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (preview.Run, error) {
		var data string
		var run preview.Run
		if err := row.Scan(&data); err != nil {
			return run, err
		}
		return run, json.Unmarshal([]byte(data), &run)
	})
	if err != nil {
		tb.Fatal(err)
	}
	return runs
}

// runSummary is where a burst's time went, as its run journal says.
type runSummary struct {
	phase                      preview.Phase
	runs, interrupted, failed  int
	median, p90                time.Duration // of a run, as recorded; these four leave interrupted runs out
	busy                       float64       // share of the slots' time in runs until all were done
	firstStarted, lastFinished time.Duration // since the burst began
	byReplica                  []int         // runs each process made, most first
	wall                       time.Duration
	slots                      int
}

// summarizeRuns summarizes the runs of phase, in a burst that began at start
// and took wall on slots run slots.
func summarizeRuns(runs []preview.Run, phase preview.Phase, slots int, start time.Time, wall time.Duration) runSummary {
	s := runSummary{phase: phase, slots: slots, wall: wall}
	var took []time.Duration
	var busy time.Duration
	byReplica := map[string]int{}
	for _, r := range runs {
		if r.Phase != phase || r.StartedAt.Before(start) || r.FinishedAt.IsZero() {
			continue
		}
		s.runs++
		switch r.State {
		case preview.RunInterrupted: // finished when taken over, not when its replica died
			s.interrupted++
			continue
		case preview.RunFailed:
			s.failed++
		}
		d := r.FinishedAt.Sub(r.StartedAt)
		took = append(took, d)
		busy += d
		byReplica[r.Replica+"/"+strconv.Itoa(r.PID)]++
		if len(took) == 1 || r.StartedAt.Sub(start) < s.firstStarted {
			s.firstStarted = r.StartedAt.Sub(start)
		}
		s.lastFinished = max(s.lastFinished, r.FinishedAt.Sub(start))
	}
	if len(took) == 0 {
		return s
	}
	s.median, s.p90 = percentile(took, 0.5), percentile(took, 0.9)
	s.busy = float64(busy) / float64(time.Duration(slots)*wall)
	s.byReplica = slices.Sorted(maps.Values(byReplica))
	slices.Reverse(s.byReplica)
	return s
}

func (s runSummary) String() string {
	if s.runs == 0 {
		return fmt.Sprintf("no %s run recorded", s.phase)
	}
	byReplica := make([]string, len(s.byReplica))
	for i, n := range s.byReplica {
		byReplica[i] = strconv.Itoa(n)
	}
	return fmt.Sprintf("%d %s runs (%d interrupted, %d failed), median %.2f s (%.2f s over the module's %d s wait), p90 %.2f s, "+
		"%d slots busy %.0f %% of the %.1f s, first run started at %.2f s, last finished at %.1f s, runs by process %s",
		s.runs, s.phase, s.interrupted, s.failed, s.median.Seconds(), s.median.Seconds()-scaleOutSleep, scaleOutSleep, s.p90.Seconds(),
		s.slots, 100*s.busy, s.wall.Seconds(), s.firstStarted.Seconds(), s.lastFinished.Seconds(), strings.Join(byReplica, "/"))
}

// replicaLogs counts the distinct warnings and errors replicas logged.
type replicaLogs struct {
	mu     sync.Mutex
	counts map[string]int // "WARN msg" → lines
}

var logLevelMsg = regexp.MustCompile(`level=(WARN|ERROR) msg=("(?:[^"\\]|\\.)*"|\S+)`)

// add counts the warnings and errors of a replica's output.
func (l *replicaLogs) add(out string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.counts == nil {
		l.counts = map[string]int{}
	}
	for _, m := range logLevelMsg.FindAllStringSubmatch(out, -1) {
		msg := m[2]
		if unquoted, err := strconv.Unquote(msg); err == nil {
			msg = unquoted
		}
		l.counts[m[1]+" "+msg]++
	}
}

// summary lists the distinct warnings and errors, most frequent first.
func (l *replicaLogs) summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.counts) == 0 {
		return "the replicas logged no warning or error"
	}
	msgs := slices.SortedFunc(maps.Keys(l.counts), func(a, b string) int { return l.counts[b] - l.counts[a] })
	var parts []string
	for _, m := range msgs[:min(len(msgs), 8)] {
		parts = append(parts, fmt.Sprintf("%d× %s", l.counts[m], m))
	}
	return "the replicas logged: " + strings.Join(parts, "; ")
}
