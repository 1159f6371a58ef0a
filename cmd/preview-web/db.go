package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// adminURLVariable names the variable holding the administrator's
// connection string: never a flag, since a command line is visible in ps.
const adminURLVariable = "DATABASE_ADMIN_URL"

const dbUsage = "usage: preview-web db create -name NAME [-template orders_template] [-rows 4000000] [-stats-role ROLE] | db drop -name NAME"

// maxIdentifier is PostgreSQL's longest name in bytes; a longer one is cut
// short without an error, so two long names could become one.
const maxIdentifier = 63

// buildingSuffix names the database a template is built in before it is
// renamed: a half-made template never has the template's name.
const buildingSuffix = "_building"

// createOptions are db create's flags.
type createOptions struct {
	name, template, statsRole string
	rows                      int64
}

// db runs "db create" or "db drop" against the server of
// DATABASE_ADMIN_URL, which it never prints.
func db(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "create" && args[0] != "drop") {
		return errors.New(dbUsage)
	}
	fs := flag.NewFlagSet("db "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o createOptions
	fs.StringVar(&o.name, "name", "", "the database")
	if args[0] == "create" {
		fs.StringVar(&o.template, "template", "orders_template", "the template it is copied from, made first when missing")
		fs.Int64Var(&o.rows, "rows", 4_000_000, "orders in a template made now")
		fs.StringVar(&o.statsRole, "stats-role", "", "a login role that may read the database's catalog statistics and nothing else (made when missing)")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return errors.New(dbUsage)
	}
	if err := o.validate(args[0] == "create"); err != nil {
		return err
	}
	admin, err := adminConfig()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	conn, err := pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return fmt.Errorf("connect to the server of %s: %w", adminURLVariable, err)
	}
	defer conn.Close(context.Background())
	if args[0] == "drop" {
		return dropDatabase(ctx, conn, o.name, stdout)
	}
	return createDatabase(ctx, conn, admin, o, stdout)
}

// validate checks the names (create: all of them) and -rows.
func (o createOptions) validate(create bool) error {
	names := []struct{ flag, name string }{{"-name", o.name}}
	if create {
		names = append(names, struct{ flag, name string }{"-template", o.template})
		if o.statsRole != "" {
			names = append(names, struct{ flag, name string }{"-stats-role", o.statsRole})
		}
	}
	for _, n := range names {
		if n.name == "" {
			return fmt.Errorf("%s: is empty", n.flag)
		}
		if len(n.name) > maxIdentifier {
			return fmt.Errorf("%s: %q is longer than PostgreSQL's %d bytes", n.flag, n.name, maxIdentifier)
		}
	}
	switch {
	case !create:
		return nil
	case o.rows < 1:
		return errors.New("-rows: want at least 1")
	case len(o.template)+len(buildingSuffix) > maxIdentifier:
		return fmt.Errorf("-template: %q is too long: at most %d bytes", o.template, maxIdentifier-len(buildingSuffix))
	case o.template == o.name:
		return errors.New("-name: a database cannot be its own template")
	}
	return nil
}

// adminConfig parses DATABASE_ADMIN_URL. Its errors never quote it.
func adminConfig() (*pgx.ConnConfig, error) {
	s := os.Getenv(adminURLVariable)
	if s == "" {
		return nil, fmt.Errorf("%s is not set: give the administrator's connection string in it (never on the command line)", adminURLVariable)
	}
	cfg, err := pgx.ParseConfig(s)
	if err != nil {
		return nil, fmt.Errorf("%s does not parse as a PostgreSQL connection string", adminURLVariable)
	}
	cfg.RuntimeParams["application_name"] = "preview-web db"
	return cfg, nil
}

// createDatabase copies the template to o.name unless that exists,
// making the template first when it is missing, and lets o.statsRole read
// its statistics.
func createDatabase(ctx context.Context, conn *pgx.Conn, admin *pgx.ConnConfig, o createOptions, out io.Writer) error {
	exists, err := databaseExists(ctx, conn, o.name)
	if err != nil {
		return err
	}
	if exists {
		fmt.Fprintf(out, "database %s: exists\n", o.name)
	} else {
		if err := ensureTemplate(ctx, conn, admin, o.template, o.rows, out); err != nil {
			return fmt.Errorf("template %s: %w", o.template, err)
		}
		if err := copyTemplate(ctx, conn, o.name, o.template, out); err != nil {
			return fmt.Errorf("create database %s: %w", o.name, err)
		}
	}
	if o.statsRole == "" {
		return nil
	}
	if err := grantStatistics(ctx, conn, o.name, o.statsRole, out); err != nil {
		return fmt.Errorf("role %s: %w", o.statsRole, err)
	}
	return nil
}

// ensureTemplate makes the template once per server: production-like
// volume, built under another name and renamed when complete. Concurrent
// callers wait on an advisory lock, and find it made.
func ensureTemplate(ctx context.Context, conn *pgx.Conn, admin *pgx.ConnConfig, template string, rows int64, out io.Writer) error {
	if ok, err := databaseExists(ctx, conn, template); err != nil || ok {
		return err
	}
	key := lockKey("preview-web template " + template)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return fmt.Errorf("wait for the template lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key)
	if ok, err := databaseExists(ctx, conn, template); err != nil || ok {
		return err // made while this waited
	}
	fmt.Fprintf(out, "template %s: missing, making it with %d orders (once per server)\n", template, rows)
	start := time.Now()
	building := template + buildingSuffix
	// One left by a run that stopped half way is never used: start again.
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(building)+" WITH (FORCE)"); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident(building)); err != nil {
		return err
	}
	cfg := admin.Copy()
	cfg.Database = building
	if err := fillTemplate(ctx, cfg, rows); err != nil {
		return err
	}
	// A template no one connects to can always be copied (CREATE DATABASE
	// refuses a template with sessions), and DROP DATABASE refuses it.
	for _, stmt := range []string{
		"ALTER DATABASE " + ident(building) + " WITH IS_TEMPLATE true ALLOW_CONNECTIONS false",
		"ALTER DATABASE " + ident(building) + " RENAME TO " + ident(template),
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "template %s: made in %s\n", template, seconds(time.Since(start)))
	return nil
}

// fillStatements fill a template: the orders table (random customers,
// totals and dates, so an index on them has sorting to do), the
// migration the application's releases start from, and the statistics
// (pg_class.reltuples) and visibility a production table has.
var fillStatements = []string{
	`CREATE TABLE orders (id bigint, customer_id int, total_cents int, created_at timestamptz)`,
	`INSERT INTO orders SELECT g, 1 + (random() * 99999)::int, (random() * 50000)::int,
		timestamptz '2020-01-01 00:00:00+00' + random() * interval '1500 days'
	FROM generate_series(1, $1::bigint) g`,
	`ALTER TABLE orders ADD PRIMARY KEY (id)`, // after the rows: one sort, not 4 million inserts into an index
	`CREATE TABLE schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
	`INSERT INTO schema_migrations (version) VALUES ('001_create_orders')`,
	`VACUUM ANALYZE`,
}

func fillTemplate(ctx context.Context, cfg *pgx.ConnConfig, rows int64) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, stmt := range fillStatements {
		var args []any
		if stmt == fillStatements[1] {
			args = append(args, rows)
		}
		if _, err := conn.Exec(ctx, stmt, args...); err != nil {
			return err
		}
	}
	return nil
}

// copyTemplate creates database name from template; one made meanwhile
// by another create is taken as it is.
func copyTemplate(ctx context.Context, conn *pgx.Conn, name, template string, out io.Writer) error {
	var version int
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		return err
	}
	stmt := "CREATE DATABASE " + ident(name) + " TEMPLATE " + ident(template)
	if version >= 150000 {
		// PostgreSQL 15 copies block by block through the WAL by default:
		// minutes for a large template. Copying the files takes seconds.
		stmt += " STRATEGY = FILE_COPY"
	}
	start := time.Now()
	if _, err := conn.Exec(ctx, stmt); pgCode(err) == "42P04" { // duplicate_database: a concurrent create
		fmt.Fprintf(out, "database %s: exists\n", name)
		return nil
	} else if err != nil {
		return err
	}
	fmt.Fprintf(out, "database %s: copied from %s in %s\n", name, template, seconds(time.Since(start)))
	return nil
}

// grantStatistics makes role, a login role (when missing) that may
// connect to database name, read-only in every transaction: what
// previewd's migrations.production_stats_url reads row estimates with.
// It grants no table: catalog statistics need none.
func grantStatistics(ctx context.Context, conn *pgx.Conn, name, role string, out io.Writer) error {
	_, err := conn.Exec(ctx, "CREATE ROLE "+ident(role)+" LOGIN")
	switch pgCode(err) {
	case "":
		fmt.Fprintf(out, "role %s: created\n", role)
	case "42710": // duplicate_object
	default:
		return err
	}
	for _, stmt := range []string{
		"ALTER ROLE " + ident(role) + " SET default_transaction_read_only = on",
		"GRANT CONNECT ON DATABASE " + ident(name) + " TO " + ident(role),
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "role %s: may connect to %s, read-only, no table privileges\n", role, name)
	return nil
}

// dropDatabase drops database name and ends its sessions. A template
// (PostgreSQL refuses to drop one) is made an ordinary database first.
func dropDatabase(ctx context.Context, conn *pgx.Conn, name string, out io.Writer) error {
	var template bool
	err := conn.QueryRow(ctx, "SELECT datistemplate FROM pg_database WHERE datname = $1", name).Scan(&template)
	if errors.Is(err, pgx.ErrNoRows) {
		fmt.Fprintf(out, "database %s: does not exist\n", name)
		return nil
	} else if err != nil {
		return err
	}
	if template {
		if _, err := conn.Exec(ctx, "ALTER DATABASE "+ident(name)+" WITH IS_TEMPLATE false"); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
	}
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	fmt.Fprintf(out, "database %s: dropped\n", name)
	return nil
}

func databaseExists(ctx context.Context, conn *pgx.Conn, name string) (bool, error) {
	var ok bool
	err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", name).Scan(&ok)
	return ok, err
}

// lockKey is an advisory lock's key for a name.
func lockKey(name string) int64 {
	h := fnv.New64a()
	io.WriteString(h, name)
	return int64(h.Sum64())
}

// ident quotes a name for SQL.
func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// pgCode is err's SQLSTATE, "" for nil or an error not from the server.
func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	if err != nil {
		return "?"
	}
	return ""
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }
