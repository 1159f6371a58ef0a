// Command preview-web is the web server of the example module
// (examples/preview-web-module): one page showing which environment, branch
// and commit it runs, and the inputs the module gave it. It never shows
// anything it was not given on its command line.
//
// Usage:
//
//	preview-web start [flags] DIR   start a server in the background
//	preview-web stop DIR            stop the server started in DIR
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
		fmt.Fprintln(stderr, "usage: preview-web start [flags] DIR | stop DIR")
		return 2
	}
	var err error
	switch args[0] {
	case "start":
		err = start(args[1:], stdout, stderr)
	case "stop":
		err = stop(args[1:], stdout)
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
