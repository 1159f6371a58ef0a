// Package benchtest reports the figures of `make bench`: each beside its
// floor measured in the same run (hand-run Terraform, a program doing only
// the essential work), as a ratio, and collects them for the summary
// table `make bench` prints at its end (scripts/benchsummary).
package benchtest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode"
)

// FiguresVar names the file each figure is appended to, one JSON object a
// line; unset, figures are only reported to the benchmark.
const FiguresVar = "PREVIEWD_BENCH_FIGURES"

// Figure is one figure beside its floor. Lower is better unless
// HigherBetter: Goal is the ratio (Value/Floor) not to pass (or, higher
// better, to reach); Limit, when set, an absolute bound on Value in Unit
// (p99 under 100 ms).
type Figure struct {
	Name         string  `json:"name"` // "ack p50, bbolt"
	Unit         string  `json:"unit"` // "ms", "s", "MB", "1/s"
	Value        float64 `json:"value"`
	Floor        float64 `json:"floor"`           // 0: no floor (Limit alone)
	FloorName    string  `json:"floor_name"`      // what the floor is
	Goal         float64 `json:"goal,omitempty"`  // the ratio to keep within
	Limit        float64 `json:"limit,omitempty"` // the absolute bound
	HigherBetter bool    `json:"higher_better,omitempty"`
}

// Ratio is Value/Floor; 0 without a floor.
func (f Figure) Ratio() float64 {
	if f.Floor == 0 {
		return 0
	}
	return f.Value / f.Floor
}

// Met reports whether f meets its goal and its limit.
func (f Figure) Met() bool {
	ok := true
	if f.Goal > 0 && f.Floor > 0 {
		if f.HigherBetter {
			ok = f.Ratio() >= f.Goal
		} else {
			ok = f.Ratio() <= f.Goal
		}
	}
	if f.Limit > 0 {
		if f.HigherBetter {
			ok = ok && f.Value >= f.Limit
		} else {
			ok = ok && f.Value <= f.Limit
		}
	}
	return ok
}

var mu sync.Mutex

// Report reports f to b (the value, its floor and their ratio, as metrics
// named after the figure: "ack-p50-bbolt-ms", "ack-p50-bbolt-floor-ms",
// "ack-p50-bbolt-ratio") and appends it to the figures file.
func Report(b *testing.B, f Figure) {
	b.Helper()
	name := metricName(f.Name)
	b.ReportMetric(f.Value, name+"-"+f.Unit)
	if f.Floor > 0 {
		b.ReportMetric(f.Floor, name+"-floor-"+f.Unit)
		b.ReportMetric(f.Ratio(), name+"-ratio")
	}
	path := os.Getenv(FiguresVar)
	if path == "" {
		return
	}
	mu.Lock()
	defer mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
	file, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	defer file.Close()
	if err := json.NewEncoder(file).Encode(f); err != nil {
		b.Fatal(err)
	}
}

// metricName is a figure's name as a benchmark metric's: lower case, words
// joined by "-" ("ack p50, bbolt" is "ack-p50-bbolt").
func metricName(name string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(name), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}), "-")
}
