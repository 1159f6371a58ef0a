package postgres

import (
	"strings"
	"testing"
)

func TestSameRole(t *testing.T) {
	t.Setenv("PGUSER", "")
	t.Setenv("PGDATABASE", "")
	const store = "postgres://previewd:secret@db.internal:5432/previewd?sslmode=require"
	tests := []struct {
		other string
		same  bool
	}{
		{"postgres://previewd:other@db.internal/previewd", true},
		{"postgresql://previewd@10.0.0.7:6432/previewd?sslmode=disable", true}, // another name of the server
		{"host=db.internal user=previewd dbname=previewd password=x", true},
		{"postgres://previewd@db.internal/", true}, // the database named after the user
		{"postgres://previewd_state@db.internal/previewd", false},
		{"postgres://previewd@db.internal/terraform", false},
		{"host=db.internal user=state dbname=previewd", false},
	}
	for _, tt := range tests {
		got, err := SameRole(store, tt.other)
		if err != nil || got != tt.same {
			t.Errorf("SameRole(store, %q) = %v, %v; want %v", tt.other, got, err, tt.same)
		}
	}
	if _, err := SameRole(store, "postgres://u:hunter2@[bad"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("a malformed string: got %v, want an error that does not quote it", err)
	}
}

func TestLooksLikeConnString(t *testing.T) {
	for s, want := range map[string]bool{
		"postgres://u@h/db": true, "postgresql://h": true, "host=h dbname=d": true,
		"https://example.com": false, "us-east-1": false, "": false,
	} {
		if got := LooksLikeConnString(s); got != want {
			t.Errorf("LooksLikeConnString(%q) = %v, want %v", s, got, want)
		}
	}
}
