package migrations

import (
	"strings"
	"testing"
)

func TestStatement(t *testing.T) {
	for _, c := range []struct{ query, want string }{
		{"CREATE INDEX orders_created_at ON orders (created_at)", "CREATE INDEX orders_created_at ON orders (created_at)"},
		{"\n\n  ALTER TABLE orders ADD COLUMN note text DEFAULT 'none'\n  , ADD COLUMN n int", "ALTER TABLE orders ADD COLUMN note text DEFAULT '…'"},
		{"UPDATE users SET password = 'hunter2', note = 'it''s', n = 42 WHERE id = $1", "UPDATE users SET password = '…', note = '…', n = 42 WHERE id = $1"},
		{"SELECT 'a''' || '' || 'b'", "SELECT '…' || '…' || '…'"},
		{`SELECT E'it\'s a \\ secret', e'x', 'plain\'`, `SELECT '…', '…', '…'`},
		{"SELECT 'first line\nsecret second' AS x", "SELECT '…' AS x"},
		{"-- migration 0042: add the 'orders' index\nCREATE INDEX ON orders (id) -- don't wait", "CREATE INDEX ON orders (id)"},
		{"/* one\n 'two' */ CREATE INDEX ON orders (id)", "CREATE INDEX ON orders (id)"},
		{`SELECT "it's" FROM t WHERE x = 'secret'`, `SELECT "it's" FROM t WHERE x = '…'`},
		{"DO $$BEGIN PERFORM 'secret'; END$$; SELECT 1", "DO '…'; SELECT 1"},
		{"CREATE FUNCTION f() RETURNS int AS $body$ SELECT $$x$$ $body$ LANGUAGE sql", "CREATE FUNCTION f() RETURNS int AS '…' LANGUAGE sql"},
		{"SELECT a$1$ FROM t WHERE b = 'secret'", "SELECT a$1$ FROM t WHERE b = '…'"},
		{"INSERT INTO t VALUES ('cut off by track_activity_query_size", "INSERT INTO t VALUES ('…'"},
		{"DO $f$ never closed", "DO '…'"},
		{"CREATE INDEX orders_created_at ON orders (created_at);\n", "CREATE INDEX orders_created_at ON orders (created_at)"},
		{";\nALTER TABLE orders ADD c int ;", "ALTER TABLE orders ADD c int"},
		{"", ""},
		{"   \n-- only a comment\n", ""},
	} {
		got := statement(c.query)
		if got != c.want {
			t.Errorf("statement(%q)\n = %q\nwant %q", c.query, got, c.want)
		}
		if n := len([]rune(got)); n > maxStatement {
			t.Errorf("statement(%q) is %d characters", c.query, n)
		}
		if strings.Contains(got, "secret") || strings.Contains(got, "hunter2") {
			t.Errorf("statement(%q) = %q shows a literal", c.query, got)
		}
	}
}

func TestStatementLong(t *testing.T) {
	got := statement("UPDATE orders SET note = 'x' WHERE id IN (" + strings.Repeat("1, ", 100) + "1)")
	if r := []rune(got); len(r) != maxStatement || r[len(r)-1] != '…' || !strings.HasPrefix(got, "UPDATE orders SET note = '…' WHERE id IN (1, 1, ") {
		t.Errorf("statement = %q (%d characters), want its first 199 and …", got, len(r))
	}
}
