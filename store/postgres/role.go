package postgres

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// LooksLikeConnString reports whether s is written as a PostgreSQL
// connection string: a postgres:// URL or libpq's key=value form naming a
// host, user or database.
func LooksLikeConnString(s string) bool {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		return true
	}
	for _, key := range []string{"host=", "user=", "dbname="} {
		if strings.Contains(s, key) {
			return true
		}
	}
	return false
}

// SameRole reports whether the connection strings a and b log in as the
// same user to the same database, as libpq would resolve them (the
// environment's PGUSER and PGDATABASE, the operating system's user, and a
// database named after the user when none is given). Hosts are not
// compared: one server has many names.
func SameRole(a, b string) (bool, error) {
	ua, da, err := role(a)
	if err != nil {
		return false, err
	}
	ub, db, err := role(b)
	if err != nil {
		return false, err
	}
	return ua == ub && da == db, nil
}

func role(conn string) (user, database string, err error) {
	cfg, err := pgconn.ParseConfig(conn)
	if err != nil {
		// pgconn's error quotes the string, password and all.
		return "", "", fmt.Errorf("not a PostgreSQL connection string")
	}
	database = cfg.Database
	if database == "" {
		database = cfg.User
	}
	return cfg.User, database, nil
}
