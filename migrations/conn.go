package migrations

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// connectTimeout bounds a connection attempt: a database that does not
// answer within it is not watched.
var connectTimeout = 5 * time.Second

// The application names the watcher's and Rows' connections show in
// pg_stat_activity.
const (
	watchApplication = "previewd-migrations-watch"
	rowsApplication  = "previewd-migrations-rows"
)

// connect opens one connection to connString that refuses writes
// (default_transaction_read_only), gives up on its own statements after
// timeout, and never opens a second connection to cancel one (a context
// that ends sets a deadline on the socket instead). Its errors never hold
// connString or any part of it.
func connect(ctx context.Context, connString string, timeout time.Duration, application string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(connString)
	if err != nil {
		return nil, &failure{msg: "migrations: the connection string does not parse"}
	}
	if cfg.ConnectTimeout <= 0 || cfg.ConnectTimeout > connectTimeout {
		cfg.ConnectTimeout = connectTimeout
	}
	ms := strconv.FormatInt(timeout.Milliseconds(), 10)
	cfg.RuntimeParams["default_transaction_read_only"] = "on"
	cfg.RuntimeParams["statement_timeout"] = ms
	cfg.RuntimeParams["lock_timeout"] = ms
	cfg.RuntimeParams["idle_in_transaction_session_timeout"] = ms
	cfg.RuntimeParams["application_name"] = application
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}
	}
	ctx, cancel := context.WithTimeout(ctx, connectTimeout) // over all of its hosts and addresses
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fail("could not connect to the database", err)
	}
	return conn, nil
}

// closeConn closes conn, waiting at most a second for the server.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	conn.Close(ctx)
}

// Rows reads the row estimates (pg_class.reltuples) of relations
// (schema-qualified or not, as Holds name them) through a connection that
// runs only catalog queries (read-only, short statement_timeout): for
// production's statistics. A relation that does not exist, or was never
// vacuumed or analysed (reltuples -1), is absent from the map.
func Rows(ctx context.Context, connString string, relations []string) (map[string]float64, error) {
	if len(relations) == 0 {
		return map[string]float64{}, nil
	}
	conn, err := connect(ctx, connString, defaultStatementTimeout, rowsApplication)
	if err != nil {
		return nil, err
	}
	defer closeConn(conn)
	ctx, cancel := context.WithTimeout(ctx, defaultStatementTimeout+time.Second)
	defer cancel()
	rows, err := conn.Query(ctx, rowsByNameQuery, relations)
	if err != nil {
		return nil, fail("could not read row estimates", err)
	}
	estimates := map[string]float64{}
	var name string
	var n float64
	_, err = pgx.ForEachRow(rows, []any{&name, &n}, func() error {
		estimates[name] = n
		return nil
	})
	if err != nil {
		return nil, fail("could not read row estimates", err)
	}
	return estimates, nil
}

// rowsByNameQuery resolves names as ::regclass does (to_regclass takes no
// lock and answers NULL for a relation that does not exist).
const rowsByNameQuery = `SELECT r.name, c.reltuples::float8
FROM unnest($1::text[]) AS r(name)
JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.to_regclass(r.name)
WHERE c.reltuples >= 0`

// rowsByOIDQuery reads the estimates of the relations a watch saw held.
const rowsByOIDQuery = `SELECT c.oid, c.reltuples::float8
FROM pg_catalog.pg_class c WHERE c.oid = ANY($1::oid[])`

// fail is an error saying what failed and why, in words that never
// quote the connection string or what the driver said of it (its user,
// host, database or password). It wraps the context's error when that
// is why, and nothing else.
func fail(what string, err error) error {
	f := &failure{msg: "migrations: " + what + ": " + describe(err)}
	switch {
	case errors.Is(err, context.Canceled):
		f.cause = context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		f.cause = context.DeadlineExceeded
	}
	return f
}

// failure is an error of this package: its text, and the context's
// error that caused it, if any.
type failure struct {
	msg   string
	cause error
}

func (f *failure) Error() string { return f.msg }
func (f *failure) Unwrap() error { return f.cause }

// serverErrors are the SQLSTATEs a watch meets, in words; a server's
// own message can name the user or the database, so it is never quoted.
var serverErrors = map[string]string{
	"28P01": "password authentication failed",
	"28000": "the server refused the login",
	"3D000": "the database does not exist",
	"42501": "permission denied",
	"53300": "the server has too many connections",
	"57P01": "the server terminated the connection",
	"57P02": "the server crashed",
	"57P03": "the server is not accepting connections",
	"57014": "a query was cancelled, by its statement timeout or an administrator",
	"55P03": "a catalog lock took longer than the lock timeout",
	"25006": "the connection is read-only",
}

// describe says why err happened without quoting it.
func describe(err error) string {
	var pgErr *pgconn.PgError
	var dnsErr *net.DNSError
	var netErr net.Error
	var certErr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &pgErr):
		if why, ok := serverErrors[pgErr.Code]; ok {
			return why + " (SQLSTATE " + pgErr.Code + ")"
		}
		return "the server answered with an error (SQLSTATE " + pgErr.Code + ")"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) || errors.As(err, &netErr) && netErr.Timeout():
		return "no answer in time"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &dnsErr):
		return "the host name does not resolve"
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		return "the host is unreachable"
	case errors.As(err, &certErr):
		return "the server's TLS certificate does not verify"
	case strings.Contains(err.Error(), "server refused TLS connection"):
		return "the server refused TLS"
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, pgconn.ErrConnClosed):
		return "the connection was closed"
	}
	return fmt.Sprintf("an error of type %T", innermost(err)) // its text can quote the connection string
}

// innermost is the error err wraps deepest (the first, when it joins
// several).
func innermost(err error) error {
	for {
		switch e := err.(type) {
		case interface{ Unwrap() error }:
			if next := e.Unwrap(); next != nil {
				err = next
				continue
			}
		case interface{ Unwrap() []error }:
			if next := e.Unwrap(); len(next) > 0 && next[0] != nil {
				err = next[0]
				continue
			}
		}
		return err
	}
}
