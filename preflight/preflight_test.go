package preflight

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

type modulesFunc func(ctx context.Context, m ModuleSource) error

func (f modulesFunc) ResolveModule(ctx context.Context, m ModuleSource) error { return f(ctx, m) }

type storeFunc func(ctx context.Context) error

func (f storeFunc) Ping(ctx context.Context) error { return f(ctx) }

// TestRunBoundsEachCheck runs a check that hangs until its deadline beside
// ones that answer: the hanging one fails with its setting, the others
// keep their results and order, and a failed store is Down.
func TestRunBoundsEachCheck(t *testing.T) {
	c := Checks{
		Modules: modulesFunc(func(ctx context.Context, m ModuleSource) error {
			if m.Repo == "acme/slow" {
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		}),
		Sources: []ModuleSource{{Repo: "acme/slow", Source: "git::file:///slow.git", Setting: "repos[acme/slow].module_source"},
			{Repo: "acme/shop", Source: "git::file:///shop.git", Setting: "module_source"}},
		Store:        storeFunc(func(context.Context) error { return errors.New("connection refused") }),
		StoreSetting: "store.url",
		Timeout:      50 * time.Millisecond,
	}
	got := c.Run(context.Background())
	if len(got) != 3 {
		t.Fatalf("got %d results, want 3: %+v", len(got), got)
	}
	if got[0].Status != Fail || got[0].Setting != "repos[acme/slow].module_source" || !strings.Contains(got[0].Detail, "deadline") {
		t.Errorf("slow module: got %+v, want failed at its deadline naming its setting", got[0])
	}
	if got[1].Status != OK || got[1].Check != "module acme/shop" {
		t.Errorf("second module: got %+v, want ok", got[1])
	}
	if got[2].Check != "store" || got[2].Status != Fail || !strings.Contains(got[2].Fix, "store.url") {
		t.Errorf("store: got %+v, want failed naming store.url", got[2])
	}
	if !Failed(got) || !Down(got) {
		t.Errorf("Failed %v, Down %v; want both", Failed(got), Down(got))
	}
}

func TestInstallationResultNamesWhatLacks(t *testing.T) {
	r := installationResult(Installation{Account: "acme", Lacks: []Lack{{Name: "checks: read", Setting: "wait_for_checks", Why: "the check runs of a head"}}})
	want := "the installation on acme lacks checks: read, which wait_for_checks needs"
	if r.Status != Fail || r.Setting != "wait_for_checks" || !strings.HasPrefix(r.Detail, want) ||
		!strings.Contains(r.Fix, "grant it in the App's settings → Permissions") {
		t.Errorf("got %+v, want a failure starting %q", r, want)
	}
}
