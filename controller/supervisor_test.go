package controller

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
)

// orderService records, when stopped, which services were still running.
type orderService struct {
	name    string
	mu      *sync.Mutex
	running map[string]bool
	stopped *[]string
	started *sync.WaitGroup
}

func (s orderService) run(ctx context.Context) {
	s.mu.Lock()
	s.running[s.name] = true
	s.mu.Unlock()
	s.started.Done()
	<-ctx.Done()
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.running, s.name)
	var others []string
	for name := range s.running {
		others = append(others, name)
	}
	sort.Strings(others)
	*s.stopped = append(*s.stopped, s.name+" stopped; running: "+strings.Join(others, ","))
}

// TestSupervisorStopsInReverseOrderWaitingForEach: each service is stopped
// only once the one started after it has returned, and not by the
// cancellation of the context it was started with.
func TestSupervisorStopsInReverseOrderWaitingForEach(t *testing.T) {
	var mu sync.Mutex
	var started sync.WaitGroup
	running := map[string]bool{}
	var stopped []string
	sup := &supervisor{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	for _, name := range []string{"a", "b", "c"} {
		started.Add(1)
		sup.start(ctx, namedService{name: name, on: true, svc: orderService{name, &mu, running, &stopped, &started}})
	}
	started.Wait()
	cancel() // Run's context: the services stop only when told to, in order
	sup.stop()
	want := []string{"c stopped; running: a,b", "b stopped; running: a", "a stopped; running: "}
	if !slices.Equal(stopped, want) {
		t.Errorf("stopped:\ngot  %q\nwant %q", stopped, want)
	}
}

// TestServicesStartOnlyWhenConfigured: a service whose dependency is not
// configured is not started; the run loop, the writes to pull requests and
// expiry always are.
func TestServicesStartOnlyWhenConfigured(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"nothing configured", Config{}, []string{"github", "runs", "expiry"}},
		{"everything configured", Config{
			Leases:     fakeLeases{},
			Budgets:    fakeBudgets{},
			Checks:     ChecksConfig{Required: fakeRequired{}},
			Commands:   fakeCommander{},
			Parity:     ParityConfig{Checker: fakeChecker{}},
			Resync:     ResyncConfig{PullRequests: fakePullRequests{}},
			Redelivery: RedeliveryConfig{Deliveries: fakeDeliveries{}},
			Modules:    ModulesConfig{Versions: fakeVersions{}},
		}, []string{"elector", "github", "runs", "parity", "budgets", "checks", "commands", "expiry", "drift", "resync", "redelivery", "modules"}},
	}
	for _, tt := range tests {
		c := New(nil, nil, nil, tt.cfg)
		var got []string
		for _, s := range c.services {
			if s.on {
				got = append(got, s.name)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: started %v, want %v", tt.name, got, tt.want)
		}
	}
}

// The fakes below only stand for a configured dependency; calling one
// fails the test through a nil interface's panic.
type (
	fakeLeases       struct{ Leases }
	fakeBudgets      struct{ Budgets }
	fakeRequired     struct{ RequiredChecks }
	fakeCommander    struct{ Commander }
	fakeChecker      struct{ Checker }
	fakePullRequests struct{ PullRequests }
	fakeDeliveries   struct{ Redeliveries }
	fakeVersions     struct{ ModuleVersions }
)
