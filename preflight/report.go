package preflight

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// Print prints one line per check and a summary, or JSON.
func Print(w io.Writer, results []Result, asJSON bool) {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(map[string]any{"checks": results, "failed": Failed(results)})
		return
	}
	n := map[Status]int{}
	for _, r := range results {
		n[r.Status]++
		fmt.Fprintf(w, "%-4s  %s: %s\n", r.Status, r.Check, strings.Join(strings.Fields(r.Detail), " "))
		if r.Fix != "" {
			fmt.Fprintf(w, "      fix (%s): %s\n", r.Setting, r.Fix)
		}
	}
	fmt.Fprintf(w, "%d checks: %d ok, %d warnings, %d failed\n", len(results), n[OK], n[Warn], n[Fail])
}

// Startup is the checks as serve runs them once at start-up: each failure
// is logged with its setting and fix, and the results are kept for
// /readyz (Results).
type Startup struct {
	mu      sync.Mutex
	results []Result
	ran     bool
}

// Run runs checks and keeps their results.
func (c *Startup) Run(ctx context.Context, checks Checks, logger *slog.Logger) {
	results := checks.Run(ctx)
	failed := 0
	for _, r := range results {
		switch r.Status {
		case Fail:
			failed++
			logger.Error("preflight check failed", "check", r.Check, "setting", r.Setting, "detail", r.Detail, "fix", r.Fix)
		case Warn:
			logger.Warn("preflight check warns", "check", r.Check, "setting", r.Setting, "detail", r.Detail, "fix", r.Fix)
		}
	}
	logger.Info("preflight checks done", "checks", len(results), "failed", failed)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.results, c.ran = results, true
}

// Results are the checks' results; ran is false until they have finished.
func (c *Startup) Results() (results []Result, ran bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.results, c.ran
}
