// Command preview-web is the web server of the example module
// (examples/preview-web-module): one page showing which environment, branch
// and commit it runs, and the inputs the module gave it. It never shows
// anything it was not given on its command line, and never a connection
// string.
//
// Usage:
//
//	preview-web start [flags] DIR   start a server in the background
//	preview-web stop DIR            stop the server started in DIR
//	preview-web db create -name NAME [-template orders_template] [-rows 4000000] [-stats-role ROLE]
//	preview-web db drop -name NAME
//
// start keeps the server's files in DIR: pid, url and log. It stops a server
// already running from DIR, starts a new one detached from the caller (own
// session, stdio to DIR/log, so Terraform's local-exec does not wait for it),
// waits until it answers, prints its URL and exits 0. The server listens on
// -port when that port is free and on any free port otherwise; DIR/url always
// holds the real URL.
//
// stop sends the server SIGTERM, then SIGKILL after 10s, and removes its pid
// and url files. It succeeds when the server is already gone.
//
// With DATABASE_URL in its environment, the server is an application with
// a PostgreSQL database: once it listens (start has returned, so the
// deploy goes on), it applies in the background, in name order, each
// $PREVIEW_WEB_RELEASES/<commit>/migrations/*.sql (the release CI
// published for -commit) that the database's schema_migrations does not
// hold, one instance at a time: in one transaction with its version's
// record, or, for a file that says CONCURRENTLY, on its own and then the
// record. The log and the page show each migration and how long it took.
//
// db works on the PostgreSQL server of DATABASE_ADMIN_URL (an
// administrator's connection string to its postgres database; never a
// flag, and never printed). create copies the template to NAME unless
// NAME exists, making the template first when it is missing, once per
// server however many creates run at once: an orders table of -rows rows,
// schema_migrations holding 001_create_orders, and fresh statistics.
// -stats-role makes a login role that may connect to NAME, read-only,
// with no table privileges: enough for catalog statistics (previewd's
// migrations.production_stats_url). drop drops NAME, ending its sessions
// (a template too).
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one subcommand and returns the process's exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: preview-web start [flags] DIR | stop DIR | db create|drop -name NAME …")
		return 2
	}
	var err error
	switch args[0] {
	case "start":
		err = start(args[1:], stdout, stderr)
	case "stop":
		err = stop(args[1:], stdout)
	case "db":
		err = db(args[1:], stdout, stderr)
	case "serve": // the detached server itself, started by start
		err = serve(args[1:])
	default:
		err = fmt.Errorf("unknown command %q", args[0])
	}
	if err != nil {
		fmt.Fprintln(stderr, "preview-web:", err)
		return 1
	}
	return 0
}
