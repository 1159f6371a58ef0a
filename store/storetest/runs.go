package storetest

import (
	"context"
	"slices"
	"testing"

	preview "github.com/previewd/previewd"
)

func testRunJournal(t *testing.T, open func(*testing.T) Store) {
	db := open(t)
	ctx := context.Background()
	r1, err := db.CreateRun(ctx, preview.Run{Environment: "a", Repo: "acme/shop", PR: 1, Phase: preview.PhaseApply, State: preview.RunRunning})
	if err != nil {
		t.Fatal(err)
	}
	r1.State = preview.RunSucceeded
	if err := db.UpdateRun(ctx, r1); err != nil {
		t.Fatal(err)
	}
	db.CreateRun(ctx, preview.Run{Environment: "a", Repo: "acme/shop", PR: 1, Phase: preview.PhaseDestroy, State: preview.RunRunning})
	db.CreateRun(ctx, preview.Run{Environment: "ab", Repo: "acme/shop", PR: 2, Phase: preview.PhaseApply, State: preview.RunRunning})
	runs, err := db.FindRuns(ctx, preview.RunFilter{Environment: "a", Repo: "acme/shop", PR: 1})
	if err != nil || len(runs) != 2 || runs[0].ID != r1.ID || runs[1].Phase != preview.PhaseDestroy {
		t.Fatalf("runs of a: got %+v (err %v), want the apply then the destroy", runs, err)
	}
	interrupted, err := db.InterruptRuns(ctx)
	if err != nil || len(interrupted) != 2 {
		t.Fatalf("interrupt: got %d runs (err %v), want 2", len(interrupted), err)
	}
	got, _ := db.FindRunByID(ctx, interrupted[0].ID)
	if got.State != preview.RunInterrupted {
		t.Errorf("state: got %s want interrupted", got.State)
	}
}

func testFindRunsFiltersByIdentity(t *testing.T, open func(*testing.T) Store) {
	db := open(t)
	ctx := context.Background()
	for _, run := range []preview.Run{
		{Environment: "fix", Repo: "acme/shop", PR: 1, Phase: preview.PhaseApply},
		{Environment: "fix", Repo: "acme/shop", PR: 1, Phase: preview.PhaseDestroy},
		{Environment: "fix", Repo: "acme/api", PR: 1, Phase: preview.PhaseApply},  // the name reused by another repository
		{Environment: "fix", Repo: "acme/shop", PR: 2, Phase: preview.PhaseApply}, // and by another pull request
		{Environment: "fix", Phase: preview.PhaseApply},                           // a run nobody could be told to own
		{Environment: "fixed", Repo: "acme/shop", PR: 1, Phase: preview.PhaseApply},
	} {
		if _, err := db.CreateRun(ctx, run); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		filter preview.RunFilter
		want   []string // "repo#pr phase" of each run found, in order
	}{
		{preview.RunFilter{Environment: "fix", Repo: "acme/shop", PR: 1}, []string{"acme/shop#1 apply", "acme/shop#1 destroy"}},
		{preview.RunFilter{Environment: "fix", Repo: "ACME/Shop", PR: 1}, []string{"acme/shop#1 apply", "acme/shop#1 destroy"}},
		{preview.RunFilter{Environment: "fix", Repo: "acme/api", PR: 1}, []string{"acme/api#1 apply"}},
		{preview.RunFilter{Environment: "fix", Repo: "acme/shop", PR: 2}, []string{"acme/shop#2 apply"}},
		{preview.RunFilter{Environment: "fix", Repo: "acme/shop", PR: 3}, nil},
		{preview.RunFilter{Environment: "fix"}, nil},
		{preview.RunFilter{Environment: "fixed", Repo: "acme/shop", PR: 1}, []string{"acme/shop#1 apply"}},
	}
	for _, tt := range tests {
		runs, err := db.FindRuns(ctx, tt.filter)
		if err != nil {
			t.Fatalf("filter %+v: %v", tt.filter, err)
		}
		var got []string
		for _, r := range runs {
			got = append(got, preview.PullRequestKey(r.Repo, r.PR)+" "+string(r.Phase))
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("filter %+v: got %q want %q", tt.filter, got, tt.want)
		}
	}
}
