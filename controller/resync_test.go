package controller_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/controller"
	"github.com/previewd/previewd/store"
)

// fakePullRequests is GitHub's pull-request list as a table.
type fakePullRequests struct {
	mu      sync.Mutex
	prs     map[int]preview.PullRequest
	listErr error
	lists   int
}

func (f *fakePullRequests) ListOpenPullRequests(ctx context.Context, repo string) ([]preview.PullRequest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	if f.listErr != nil {
		return nil, f.listErr
	}
	var out []preview.PullRequest
	for _, pr := range f.prs {
		if pr.Open {
			out = append(out, pr)
		}
	}
	return out, nil
}

func (f *fakePullRequests) GetPullRequest(ctx context.Context, repo string, number int) (preview.PullRequest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	pr, ok := f.prs[number]
	if !ok {
		return pr, preview.Errorf(preview.ENOTFOUND, "no pull request %d", number)
	}
	return pr, nil
}

func (f *fakePullRequests) listCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lists
}

func ghPR(number int, sha string, open bool, at time.Time) preview.PullRequest {
	return preview.PullRequest{Repo: "acme/shop", Number: number, Open: open, HeadSHA: sha, Branch: "b" + sha, UpdatedAt: at}
}

// startResync runs a controller whose resync reads gh, on a store that
// already holds what previewd knew before it went down.
func startResync(t *testing.T, gh *fakePullRequests, known ...preview.PullRequest) (*store.DB, func(string) preview.Environment) {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "previewd.db"), store.Options{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	names := map[int]string{}
	for _, pr := range known {
		res, err := db.RecordPullRequest(context.Background(), "", pr)
		if err != nil {
			t.Fatal(err)
		}
		names[pr.Number] = res.Environment.Name
	}
	prov := &fakeProvisioner{apply: func(ctx context.Context, env preview.Environment) (string, error) { return "http://x/", nil }}
	ctrl := controller.New(db, prov, &fakeGitHub{}, controller.Config{
		Runs: controller.RunsConfig{LogDir: t.TempDir()},
		Resync: controller.ResyncConfig{PullRequests: gh, Interval: 30 * time.Millisecond, MaxDestroys: 2,
			Repos: func(context.Context) ([]string, error) { return []string{"acme/shop"}, nil }},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ctrl.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	get := func(name string) preview.Environment {
		env, _ := db.FindEnvironmentByName(context.Background(), name)
		return env
	}
	return db, get
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitUntil(t, what, cond)
}

func TestResyncHealsMissedEvents(t *testing.T) {
	t0 := time.Now().Add(-time.Hour)
	gh := &fakePullRequests{prs: map[int]preview.PullRequest{
		1: ghPR(1, "a", false, t0.Add(time.Minute)), // closed while previewd was down
		2: ghPR(2, "b", true, t0),                   // opened during the outage
	}}
	db, get := startResync(t, gh, ghPR(1, "a", true, t0))
	eventually(t, "pull request 1 torn down", func() bool { return get("ba").Status == preview.StatusDestroyed })
	eventually(t, "pull request 2 built", func() bool { return get("bb").Status == preview.StatusReady })
	runs, _ := db.FindRuns(context.Background(), preview.RunsOf(get("ba")))
	if len(runs) == 0 || runs[len(runs)-1].Phase != preview.PhaseDestroy || runs[len(runs)-1].State != preview.RunSucceeded {
		t.Errorf("pull request 1: got runs %+v, want a successful destroy last", runs)
	}
}

func TestResyncNeverDestroysOnAnErrorOrWithoutConfirmation(t *testing.T) {
	t0 := time.Now().Add(-time.Hour)
	gh := &fakePullRequests{prs: map[int]preview.PullRequest{}, listErr: errors.New("502 Bad Gateway")}
	_, get := startResync(t, gh, ghPR(1, "a", true, t0), ghPR(2, "b", true, t0))
	eventually(t, "both ready", func() bool { return get("ba").Status == preview.StatusReady && get("bb").Status == preview.StatusReady })
	for gh.listCalls() < 3 {
		time.Sleep(10 * time.Millisecond)
	}
	// An empty list, but GitHub still says each pull request is open.
	gh.mu.Lock()
	gh.listErr = nil
	gh.prs[1], gh.prs[2] = ghPR(1, "a", true, t0), ghPR(2, "b", true, t0)
	gh.mu.Unlock()
	for n := gh.listCalls(); gh.listCalls() < n+3; {
		time.Sleep(10 * time.Millisecond)
	}
	if get("ba").Status != preview.StatusReady || get("bb").Status != preview.StatusReady {
		t.Errorf("an environment was destroyed without GitHub confirming its pull request closed")
	}
}

func TestResyncCapsDestroysPerPass(t *testing.T) {
	t0 := time.Now().Add(-time.Hour)
	gh := &fakePullRequests{prs: map[int]preview.PullRequest{}}
	var known []preview.PullRequest
	for i := 1; i <= 5; i++ {
		known = append(known, ghPR(i, string(rune('a'+i)), true, t0))
		gh.prs[i] = ghPR(i, string(rune('a'+i)), false, t0.Add(time.Minute))
	}
	db, _ := startResync(t, gh, known...)
	// After the first pass at most two are on their way down.
	time.Sleep(10 * time.Millisecond)
	envs, _ := db.FindEnvironments(context.Background(), preview.EnvironmentFilter{})
	down := 0
	for _, e := range envs {
		if !e.Desired.Present {
			down++
		}
	}
	if down > 2 {
		t.Errorf("first pass: %d environments taken down, want at most 2", down)
	}
	eventually(t, "all torn down over several passes", func() bool {
		envs, _ := db.FindEnvironments(context.Background(), preview.EnvironmentFilter{LiveOnly: true})
		return len(envs) == 0
	})
}

func TestResyncSkipsRepositoriesOutsideTheAllowlist(t *testing.T) {
	t0 := time.Now().Add(-time.Hour)
	gh := &fakePullRequests{prs: map[int]preview.PullRequest{7: ghPR(7, "x", true, t0)}}
	db, err := store.Open(filepath.Join(t.TempDir(), "previewd.db"), store.Options{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	prov := &fakeProvisioner{apply: func(ctx context.Context, env preview.Environment) (string, error) { return "http://x/", nil }}
	ctrl := controller.New(db, prov, &fakeGitHub{}, controller.Config{
		Runs: controller.RunsConfig{LogDir: t.TempDir()},
		Resync: controller.ResyncConfig{PullRequests: gh, Interval: 20 * time.Millisecond,
			Repos:   func(context.Context) ([]string, error) { return []string{"acme/shop"}, nil },
			Allowed: func(repo string) bool { return repo == "acme/other" }},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ctrl.Run(ctx); close(done) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	<-done
	if envs, _ := db.FindEnvironments(context.Background(), preview.EnvironmentFilter{}); len(envs) != 0 || gh.listCalls() != 0 {
		t.Errorf("a repository outside allowed_repos was resynced: %d environments, %d list calls", len(envs), gh.listCalls())
	}
}
