package preview

import (
	"cmp"
	"fmt"
	"sort"
	"strings"
	"time"
)

// DatabaseReport is what a preview's database held while the environment
// came up (its apply, seed hook and the migrations it runs as it starts):
// the locks that blocked writes or reads, per relation, and the verdict
// on them.
type DatabaseReport struct {
	// Watched is false when the database could not be watched; Why says
	// why (no such output yet, the database did not answer, …).
	Watched bool   `json:"watched"`
	Why     string `json:"why,omitempty"`
	// SHA and Generation are the applied commit and generation watched.
	SHA        string    `json:"sha,omitempty"`
	Generation int64     `json:"generation,omitempty"`
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	Samples    int       `json:"samples"`
	// Holds are the relations a lock that blocks writes or reads was held
	// on, longest first.
	Holds []LockHold `json:"holds"`
	// DeclaredData are the repository's declared differences with the
	// reason "data" (variable names only), shown beside the sizes.
	DeclaredData []string        `json:"declared_data,omitempty"`
	Verdict      DatabaseVerdict `json:"verdict"`
}

// LockHold is one relation's locks while the database was watched.
type LockHold struct {
	Relation string `json:"relation"`
	// Statement is the first line of the statement running when the
	// longest lock was first seen, its literals hidden ('…'): never its
	// parameters. A change to the table no sample caught (a lock held
	// under one interval) says so instead.
	Statement string `json:"statement"`
	// Mode is the strongest lock mode held (AccessExclusiveLock, …).
	Mode string `json:"mode"`
	// BlockedWrites and BlockedReads are how long a lock that blocks
	// writes (reads) was held; LongestWait the longest another session
	// waited on this relation.
	BlockedWrites time.Duration `json:"blocked_writes"`
	BlockedReads  time.Duration `json:"blocked_reads"`
	LongestWait   time.Duration `json:"longest_wait"`
	// ReadStatement is the statement of the lock that blocked reads
	// longest, when one did.
	ReadStatement string `json:"read_statement,omitempty"`
	// HeldBeforeWatch: the longest lock that blocked writes was already
	// held when the watch began, so it is counted from its transaction's
	// start: when the lock was taken or earlier.
	HeldBeforeWatch bool `json:"held_before_watch,omitempty"`
	// Rows is the relation's row estimate in the preview
	// (pg_class.reltuples); ProductionRows production's, when known.
	Rows           float64  `json:"rows"`
	ProductionRows *float64 `json:"production_rows,omitempty"`
}

// The verdicts on a database.
const (
	DatabaseOK           = "ok"           // nothing held longer than the limits, at a size that means something
	DatabaseFailure      = "failure"      // a lock held longer than a limit
	DatabaseInconclusive = "inconclusive" // under the limits, but on too few rows to mean much
	DatabaseUnwatched    = "unwatched"    // not watched (DatabaseReport.Why)
)

// DatabaseVerdict is the verdict on a DatabaseReport and why.
type DatabaseVerdict struct {
	Status  string   `json:"status"`
	Reasons []string `json:"reasons,omitempty"`
}

// MigrationLimits are how long a preview's migrations may block writes
// and reads, and the least share of production's rows (MinShare, 0.1 for
// 10%) a locked relation must hold for the measurement to mean something.
type MigrationLimits struct {
	MaxWriteBlock, MaxReadBlock time.Duration
	MinShare                    float64
}

// Judge is the verdict on r under limits: failure when a lock blocked
// writes or reads longer than allowed, naming the statement; inconclusive
// when nothing did but a locked relation holds less than MinShare of
// production's rows (or production's size is unknown: said as a reason,
// not inconclusive); ok otherwise; unwatched when r was not watched.
func (r DatabaseReport) Judge(limits MigrationLimits) DatabaseVerdict {
	if !r.Watched {
		return DatabaseVerdict{Status: DatabaseUnwatched, Reasons: []string{r.Why}}
	}
	v := DatabaseVerdict{Status: DatabaseOK}
	holds := append([]LockHold(nil), r.Holds...)
	sort.SliceStable(holds, func(i, j int) bool { return holds[i].BlockedWrites > holds[j].BlockedWrites })
	for _, h := range holds {
		if limits.MaxWriteBlock > 0 && h.BlockedWrites > limits.MaxWriteBlock {
			v.Status = DatabaseFailure
			v.Reasons = append(v.Reasons, fmt.Sprintf("`%s` blocked writes on `%s` for %s (limit %s)%s", h.Statement, h.Relation, Seconds(h.BlockedWrites), Seconds(limits.MaxWriteBlock), h.before()))
		}
		if limits.MaxReadBlock > 0 && h.BlockedReads > limits.MaxReadBlock {
			v.Status = DatabaseFailure
			v.Reasons = append(v.Reasons, fmt.Sprintf("`%s` blocked reads on `%s` for %s (limit %s)", cmp.Or(h.ReadStatement, h.Statement), h.Relation, Seconds(h.BlockedReads), Seconds(limits.MaxReadBlock)))
		}
	}
	sized := len(holds) > 0
	for _, h := range holds {
		switch {
		case h.ProductionRows == nil:
			v.Reasons = append(v.Reasons, fmt.Sprintf("%s: %s rows here; production's size could not be compared", h.Relation, Count(h.Rows)))
		case *h.ProductionRows > 0 && h.Rows < limits.MinShare**h.ProductionRows:
			if v.Status == DatabaseOK {
				v.Status = DatabaseInconclusive
			}
			v.Reasons = append(v.Reasons, fmt.Sprintf("%s: %s rows here, %s in production (under %s%%): what it held here says little of production",
				h.Relation, Count(h.Rows), Count(*h.ProductionRows), strings.TrimSuffix(fmt.Sprintf("%.1f", limits.MinShare*100), ".0")))
		default:
			v.Reasons = append(v.Reasons, fmt.Sprintf("%s: %s rows here, %s in production", h.Relation, Count(h.Rows), Count(*h.ProductionRows)))
		}
	}
	if sized && len(r.DeclaredData) > 0 {
		v.Reasons = append(v.Reasons, "previews' data differs from production's, as declared: `"+strings.Join(r.DeclaredData, "`, `")+"` (data)")
	}
	return v
}

// before says, after a reason, that h's lock was counted from its
// transaction's start.
func (h LockHold) before() string {
	if !h.HeldBeforeWatch {
		return ""
	}
	return "; it was already held when the watch began, so it is counted from its transaction's start"
}

// Seconds shows d in seconds to a tenth ("6.2 s").
func Seconds(d time.Duration) string {
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// Count shows a row count as people say it: 200, 14.2k, 1.4M.
func Count(n float64) string {
	switch {
	case n >= 1e9:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", n/1e9), ".0") + "G"
	case n >= 1e6:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", n/1e6), ".0") + "M"
	case n >= 1e4:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", n/1e3), ".0") + "k"
	case n < 0:
		return "unknown" // reltuples is -1 for a table never analysed
	}
	return fmt.Sprintf("%.0f", n)
}
