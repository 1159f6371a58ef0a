package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/previewd/previewd/internal/atomicfile"
	"github.com/previewd/previewd/server"
	"github.com/previewd/previewd/store"
)

// backupCommand writes a consistent copy of previewd's database to --out:
// from a running previewd through GET /api/v1/backup when --url is given
// (PREVIEWD_ADMIN_TOKEN authorises it), else from the data directory of a
// stopped one. The copy is written to a temporary file, fsynced and renamed,
// so --out is either the old file or a whole new backup.
func backupCommand(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("backup",
		"Copies previewd's database to FILE: from a running previewd through its admin API (--url),\nor from the data directory of a stopped one.", stderr)
	out := fs.String("out", "", "write the backup to this `file` (required)")
	url := fs.String("url", "", "base `URL` of a running previewd, e.g. http://127.0.0.1:8080 (authorised by $PREVIEWD_ADMIN_TOKEN)")
	dataDir := fs.String("data-dir", envOr("PREVIEWD_DATA_DIR", "./.previewd"), "data `directory` of a stopped previewd")
	if err := parseFlags(fs, args, stdout); err != nil {
		return flagsExit(err)
	}
	if *out == "" {
		fmt.Fprintln(stderr, "previewd backup: --out is required")
		return 2
	}
	var n int64
	err := atomicfile.Write(*out, 0o600, func(w io.Writer) (err error) {
		if *url != "" {
			n, err = server.FetchBackup(context.Background(), *url, os.Getenv("PREVIEWD_ADMIN_TOKEN"), w)
		} else {
			n, err = backupOffline(filepath.Join(*dataDir, "previewd.db"), w)
		}
		return err
	})
	if err != nil {
		fmt.Fprintln(stderr, "previewd backup:", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %d bytes to %s\n", n, *out)
	return 0
}

func backupOffline(path string, w io.Writer) (int64, error) {
	db, err := store.Open(path, store.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if errors.Is(err, store.ErrLocked) {
		return 0, fmt.Errorf("%w; back up a running previewd with --url", err)
	} else if err != nil {
		return 0, err
	}
	defer db.Close()
	return db.Backup(context.Background(), w)
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}
