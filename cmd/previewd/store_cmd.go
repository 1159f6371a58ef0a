package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/previewd/previewd/store"
	"github.com/previewd/previewd/store/postgres"
)

// storeCommand runs `previewd store migrate --from DATA_DIR --to URL`:
// copies a stopped previewd's bbolt store (environments, their pull
// requests, deliveries, queued commands, the run journal) into PostgreSQL,
// idempotently, refusing a target that holds different data. Run logs
// stay files under DATA_DIR/logs.
func storeCommand(args []string, stdout, stderr io.Writer) int {
	line := usageOf("store migrate")
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		fmt.Fprintf(stdout, "Usage: %s\n\nCommands:\n  migrate  copy a stopped previewd's bbolt store into PostgreSQL (previewd store migrate --help)\n", line)
		return 0
	}
	if len(args) == 0 || args[0] != "migrate" {
		fmt.Fprintln(stderr, "usage:", line)
		return 2
	}
	fs := newFlags("store migrate",
		"Copies a stopped previewd's bbolt store into PostgreSQL: environments, pull requests,\ndeliveries, queued commands and the run journal, with the run logs.", stderr)
	from := fs.String("from", envOr("PREVIEWD_DATA_DIR", "./.previewd"), "data `directory` of a stopped previewd (its previewd.db)")
	to := fs.String("to", envOr("PREVIEWD_DATABASE_URL", ""), "PostgreSQL `URL` to copy into")
	if err := parseFlags(fs, args[1:], stdout); err != nil {
		return flagsExit(err)
	}
	if *to == "" {
		fmt.Fprintln(stderr, "previewd store migrate: --to (or PREVIEWD_DATABASE_URL) is required")
		return 2
	}
	res, err := postgres.ImportFile(context.Background(), filepath.Join(*from, "previewd.db"), *to)
	if err != nil {
		fmt.Fprintln(stderr, "previewd store migrate:", err)
		return 1
	}
	for _, k := range []struct {
		kind   store.RecordKind
		plural string
	}{{store.KindEnvironment, "environments"}, {store.KindPullRequest, "pull requests"}, {store.KindDelivery, "deliveries"},
		{store.KindCommand, "commands"}, {store.KindRun, "runs"}} {
		fmt.Fprintf(stdout, "%s: %d copied, %d already there\n", k.plural, res.Copied[k.kind], res.Present[k.kind])
	}
	fmt.Fprintf(stdout, "run logs: %d copied, with their runs\n", res.Logs)
	return 0
}
