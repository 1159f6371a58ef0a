package preview

import (
	"strings"
	"testing"
	"time"
)

// TestJudgeADatabase: a lock over a limit fails, naming the statement,
// relation and both durations; under the limits on a tenth of production's
// rows or more is ok; on fewer rows it is inconclusive, never ok; without
// production's size it says so; unwatched says why.
func TestJudgeADatabase(t *testing.T) {
	prod := func(n float64) *float64 { return &n }
	index := LockHold{Relation: "orders", Statement: "CREATE INDEX orders_created_at ON orders (created_at)", Mode: "ShareLock",
		BlockedWrites: 6200 * time.Millisecond, Rows: 1.4e6, ProductionRows: prod(1.4e6)}
	limits := MigrationLimits{MaxWriteBlock: 5 * time.Second, MaxReadBlock: time.Second, MinShare: 0.1}
	tests := []struct {
		name   string
		report DatabaseReport
		status string
		reason string
	}{
		{"over the limit", DatabaseReport{Watched: true, Holds: []LockHold{index}}, DatabaseFailure,
			"`CREATE INDEX orders_created_at ON orders (created_at)` blocked writes on `orders` for 6.2 s (limit 5.0 s)"},
		{"under the limit at size", DatabaseReport{Watched: true, Holds: []LockHold{{Relation: "orders", BlockedWrites: time.Second, Rows: 2e5, ProductionRows: prod(1.4e6)}}},
			DatabaseOK, "orders: 200k rows here, 1.4M in production"},
		{"200 rows", DatabaseReport{Watched: true, Holds: []LockHold{{Relation: "orders", BlockedWrites: 10 * time.Millisecond, Rows: 200, ProductionRows: prod(1.4e6)}}},
			DatabaseInconclusive, "orders: 200 rows here, 1.4M in production (under 10%)"},
		{"reads blocked", DatabaseReport{Watched: true, Holds: []LockHold{{Relation: "orders", Statement: "LOCK TABLE orders", BlockedReads: 1500 * time.Millisecond, Rows: 2e6, ProductionRows: prod(2e6)}}},
			DatabaseFailure, "blocked reads on `orders` for 1.5 s (limit 1.0 s)"},
		{"production unknown", DatabaseReport{Watched: true, Holds: []LockHold{{Relation: "orders", Rows: 200}}}, DatabaseOK,
			"orders: 200 rows here; production's size could not be compared"},
		{"nothing held", DatabaseReport{Watched: true}, DatabaseOK, ""},
		{"reads blocked by another statement", DatabaseReport{Watched: true, Holds: []LockHold{{Relation: "orders", Statement: "CREATE INDEX i ON orders (x)",
			ReadStatement: "ALTER TABLE orders ADD c int", BlockedWrites: time.Second, BlockedReads: 1500 * time.Millisecond, Rows: 2e6, ProductionRows: prod(2e6)}}},
			DatabaseFailure, "`ALTER TABLE orders ADD c int` blocked reads on `orders` for 1.5 s"},
		{"held before the watch", DatabaseReport{Watched: true, Holds: []LockHold{{Relation: "orders", Statement: "CREATE INDEX i ON orders (x)",
			BlockedWrites: 7 * time.Second, HeldBeforeWatch: true, Rows: 2e6, ProductionRows: prod(2e6)}}},
			DatabaseFailure, "for 7.0 s (limit 5.0 s); it was already held when the watch began, so it is counted from its transaction's start"},
		{"declared data", DatabaseReport{Watched: true, DeclaredData: []string{"database_template"}, Holds: []LockHold{{Relation: "orders", Rows: 200, ProductionRows: prod(1.4e6)}}},
			DatabaseInconclusive, "previews' data differs from production's, as declared: `database_template` (data)"},
		{"declared data, nothing held", DatabaseReport{Watched: true, DeclaredData: []string{"database_template"}}, DatabaseOK, ""},
		{"unwatched", DatabaseReport{Why: "the database did not answer"}, DatabaseUnwatched, "the database did not answer"},
	}
	for _, tt := range tests {
		v := tt.report.Judge(limits)
		if v.Status != tt.status || (tt.reason != "" && !strings.Contains(strings.Join(v.Reasons, "\n"), tt.reason)) {
			t.Errorf("%s: %+v, want %s saying %q", tt.name, v, tt.status, tt.reason)
		}
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[float64]string{200: "200", 9999: "9999", 14200: "14.2k", 1.4e6: "1.4M", 2e6: "2M", -1: "unknown"} {
		if got := Count(n); got != want {
			t.Errorf("Count(%v) = %q, want %q", n, got, want)
		}
	}
}
