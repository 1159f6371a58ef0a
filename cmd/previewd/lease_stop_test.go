package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	neturl "net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/internal/pgtest"
	"github.com/previewd/previewd/internal/waittest"
)

// TestTerraformStopsBeforeItsLeaseCanPass blocks the database connection
// of the replica running an apply whose Terraform ignores its interrupt
// (testdata/stubborn): the replica cannot renew its lease, gives it up,
// and kills Terraform's whole process group before the lease can expire.
// The other replica then takes the environment over. At no moment may the
// second run have started while the first Terraform, or anything it
// started, still lives.
func TestTerraformStopsBeforeItsLeaseCanPass(t *testing.T) {
	url, conn := pgtest.Database(t)
	config, _ := pgStateConfig(t)
	pids := t.TempDir()
	src, _ := os.ReadFile("testdata/stubborn/main.tf")
	module := t.TempDir()
	os.WriteFile(filepath.Join(module, "main.tf"), []byte(strings.ReplaceAll(string(src), "PID_DIR", pids)), 0o644)
	const ttl = 3 * time.Second

	var proxies []*dbProxy
	var nodes []*process
	for range 2 {
		px := startDBProxy(t, url)
		proxies = append(proxies, px)
		nodes = append(nodes, startProcessAt(t, freeAddr(t), t.TempDir(), "PREVIEWD_DATABASE_URL="+px.url, "PREVIEWD_CONFIG="+config,
			"PREVIEWD_MODULE_DIR="+module, "PREVIEWD_LEASE_TTL="+ttl.String(), "PREVIEWD_RETRY_BASE=1s"))
	}
	t.Cleanup(func() { // the child outlives a Terraform that is not stopped
		for _, f := range []string{"terraform.pid", "child.pid"} {
			if pid := readPID(pids, f); pid > 0 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	nodes[0].send(prEvent{"opened", "stubborn", "sha1", 1, time.Now().Add(-time.Hour)})

	var terraform, child int
	waittest.Until(t, "the apply's local-exec to start", func() bool {
		terraform, child = readPID(pids, "terraform.pid"), readPID(pids, "child.pid")
		return terraform > 0 && child > 0
	})
	first := stubbornRuns(t, conn)[0]
	holder := -1
	for i, p := range nodes {
		if p.cmd.Process.Pid == first.PID {
			holder = i
		}
	}
	if holder < 0 {
		t.Fatalf("run %s by pid %d, not a replica's", first.ID, first.PID)
	}
	proxies[holder].block()
	blocked := time.Now()
	t.Cleanup(proxies[holder].unblock)

	var stopped time.Duration // when both processes were first seen gone
	for deadline := time.Now().Add(10 * ttl); ; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no second run within %s of blocking the holder's database (first Terraform alive: %v)", 10*ttl, alive(terraform) || alive(child))
		}
		runs := stubbornRuns(t, conn)
		if stopped == 0 && !alive(terraform) && !alive(child) {
			stopped = time.Since(blocked)
		}
		if len(runs) < 2 {
			continue
		}
		if alive(terraform) || alive(child) {
			t.Fatalf("run %s started on another replica while the first Terraform (pid %d: alive %v; its child %d: alive %v) still ran", runs[1].ID, terraform, alive(terraform), child, alive(child))
		}
		t.Logf("the holder's Terraform stopped %s after its database was cut off; the second run started %s after", stopped.Round(time.Millisecond), time.Since(blocked).Round(time.Millisecond))
		break
	}
	if stopped > ttl {
		t.Errorf("the first Terraform stopped %s after the last renewal could have been sent, want within lease_ttl (%s)", stopped, ttl)
	}
}

// stubbornRuns returns the runs of the environment "stubborn", oldest
// first, as the store holds them; it fails the test while there are none.
func stubbornRuns(t *testing.T, conn *pgx.Conn) []preview.Run {
	t.Helper()
	var runs []preview.Run
	waittest.Until(t, "a run of stubborn", func() bool {
		rows, err := conn.Query(context.Background(), "SELECT data FROM runs WHERE environment = 'stubborn' ORDER BY seq")
		if err != nil {
			t.Fatal(err)
		}
		data, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		runs = make([]preview.Run, len(data))
		for i, d := range data {
			json.Unmarshal([]byte(d), &runs[i])
		}
		return len(runs) > 0
	})
	return runs
}

// readPID reads the pid a module wrote into dir/name, or 0.
func readPID(dir, name string) int {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// alive reports whether process pid exists and is not a zombie.
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return syscall.Kill(pid, 0) == nil && !errors.Is(err, os.ErrNotExist)
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(rest, "Z")
}

// dbProxy forwards TCP connections to a PostgreSQL server, and can stop
// forwarding without closing anything: the replica behind it sees its
// queries hang, as behind a partitioned network.
type dbProxy struct {
	url     string
	blocked atomic.Bool
	mu      sync.Mutex
	resume  chan struct{} // closed when unblocked
}

func startDBProxy(t *testing.T, dbURL string) *dbProxy {
	t.Helper()
	parsed, err := neturl.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	upstream := parsed.Host
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dbProxy{url: strings.Replace(dbURL, upstream, l.Addr().String(), 1), resume: make(chan struct{})}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.serve(c, upstream)
		}
	}()
	return p
}

func (p *dbProxy) serve(c net.Conn, upstream string) {
	defer c.Close()
	u, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	defer u.Close()
	done := make(chan struct{}, 2)
	go func() { p.copy(u, c); done <- struct{}{} }()
	go func() { p.copy(c, u); done <- struct{}{} }()
	<-done
}

// copy forwards src to dst, holding every chunk while blocked.
func (p *dbProxy) copy(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if p.blocked.Load() {
				p.mu.Lock()
				resume := p.resume
				p.mu.Unlock()
				<-resume
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *dbProxy) block() { p.blocked.Store(true) }

func (p *dbProxy) unblock() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.blocked.Swap(false) {
		close(p.resume)
		p.resume = make(chan struct{})
	}
}
