// Command migrate runs one SQL statement on a PostgreSQL database, as an
// application's migration does: migrate URL STATEMENT. A URL of "env" is
// read from PREVIEW_OUTPUT_DATABASE_URL, as a seed hook gets it.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: migrate URL STATEMENT")
		os.Exit(2)
	}
	ctx := context.Background()
	url := os.Args[1]
	if url == "env" {
		url = os.Getenv("PREVIEW_OUTPUT_DATABASE_URL")
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "migrate: connect failed")
		os.Exit(1)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "migrate:", err)
		os.Exit(1)
	}
}
