// Package storetest is the contract every store backend keeps: the same
// tests run against bbolt (store) and any other backend, so the controller,
// the server and the intake can rely on one behaviour.
package storetest

import (
	"context"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
)

// Store is what the contract covers of a store backend.
type Store interface {
	RecordPullRequest(ctx context.Context, delivery string, pr preview.PullRequest) (preview.RecordResult, error)
	RecordCommand(ctx context.Context, delivery string, cmd preview.Command) (bool, error)
	FindCommands(ctx context.Context) ([]preview.Command, error)
	DeleteCommand(ctx context.Context, id string) error
	FindEnvironmentByName(ctx context.Context, name string) (preview.Environment, error)
	FindEnvironmentByPullRequest(ctx context.Context, repo string, number int) (preview.Environment, error)
	FindEnvironments(ctx context.Context, filter preview.EnvironmentFilter) ([]preview.Environment, error)
	ScanEnvironments(ctx context.Context, filter preview.EnvironmentFilter, fn func(name string, data []byte) error) (string, error)
	UpdateEnvironment(ctx context.Context, name string, fn func(*preview.Environment) error) (preview.Environment, error)
	PruneDeliveries(ctx context.Context, cutoff time.Time) (int, error)
	DeliveryRecorded(ctx context.Context, delivery string) (bool, error)
	CreateRun(ctx context.Context, run preview.Run) (preview.Run, error)
	UpdateRun(ctx context.Context, run preview.Run) error
	FindRunByID(ctx context.Context, id string) (preview.Run, error)
	FindRuns(ctx context.Context, filter preview.RunFilter) ([]preview.Run, error)
	InterruptRuns(ctx context.Context) ([]preview.Run, error)
	FindOrCreateKey(ctx context.Context, name string, fresh []byte) ([]byte, error)
	RecordProductionWatch(ctx context.Context, w preview.ProductionWatch) error
	FindProductionWatches(ctx context.Context, f preview.ProductionWatchFilter) ([]preview.ProductionWatch, error)
}

// T0 is the clock of every store the contract opens: open must return an
// empty store whose time is T0, with a TTL of an hour and its other
// settings at their defaults, closed when the test ends.
var T0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

var t0 = T0

// Run runs the contract against the stores open returns, one per test.
func Run(t *testing.T, open func(*testing.T) Store) {
	tests := []struct {
		name string
		test func(*testing.T, func(*testing.T) Store)
	}{
		{"RecordPullRequestLifecycle", testRecordPullRequestLifecycle},
		{"RecordPullRequestIgnoresUnknownClosed", testRecordPullRequestIgnoresUnknownClosed},
		{"NamesUniqueAndStable", testNamesUniqueAndStable},
		{"DestroyedEnvironmentFreesItsName", testDestroyedEnvironmentFreesItsName},
		{"ConcurrentDeliveriesAllStored", testConcurrentDeliveriesAllStored},
		{"RunJournal", testRunJournal},
		{"PruneDeliveries", testPruneDeliveries},
		{"ScanEnvironmentsMatchesDecodedList", testScanEnvironmentsMatchesDecodedList},
		{"FindEnvironmentsPages", testFindEnvironmentsPages},
		{"FindEnvironmentsMany", testFindEnvironmentsMany},
		{"TakenDownStaysDownUntilSomethingNewHappens", testTakenDownStaysDownUntilSomethingNewHappens},
		{"ForkPullRequestsWaitForApprovalOfTheirHead", testForkPullRequestsWaitForApprovalOfTheirHead},
		{"CommandsQueue", testCommandsQueue},
		{"FindRunsFiltersByIdentity", testFindRunsFiltersByIdentity},
		{"DeliveryRecorded", testDeliveryRecorded},
		{"StatusHistory", testStatusHistory},
		{"ConcurrentCreatesAndUpdatesNameApart", testConcurrentCreatesAndUpdatesNameApart},
		{"FindOrCreateKeyKeepsTheFirst", testFindOrCreateKeyKeepsTheFirst},
		{"ProductionWatchesRoundTrip", testProductionWatchesRoundTrip},
		{"ProductionWatchesOrderFilterLimit", testProductionWatchesOrderFilterLimit},
		{"ProductionWatchesReplaceTheSameAt", testProductionWatchesReplaceTheSameAt},
		{"ProductionWatchesKeepTheNewest100", testProductionWatchesKeepTheNewest100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.test(t, open) })
	}
}

func pr(number int, branch, sha string, open bool, updated time.Time) preview.PullRequest {
	return preview.PullRequest{Repo: "acme/shop", Number: number, Open: open, HeadSHA: sha, Branch: branch, UpdatedAt: updated, Author: "alice"}
}

func record(t *testing.T, db Store, delivery string, p preview.PullRequest) preview.RecordResult {
	t.Helper()
	res, err := db.RecordPullRequest(context.Background(), delivery, p)
	if err != nil {
		t.Fatalf("record %s: %v", delivery, err)
	}
	return res
}
