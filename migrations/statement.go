package migrations

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// maxStatement is the most characters of a statement a report shows.
const maxStatement = 200

// token matches, leftmost first, what a statement's text can hide a
// literal's quote in: a quoted identifier ("it's", kept), a comment
// (dropped), a string literal (a quote doubled inside it is part of it;
// E-strings take backslash escapes; one cut off by the server's
// track_activity_query_size runs to the end of the text), or the tag
// opening a dollar-quoted string ($$…$$, $body$…$body$).
var token = regexp.MustCompile(`"(?:[^"]|"")*(?:"|\z)|--[^\n]*|/\*(?s:.*?)(?:\*/|\z)|` +
	`\b[eE]'(?:[^'\\]|\\.|'')*(?:'|\z)|'(?:[^']|'')*(?:'|\z)|\$(?:[A-Za-z_][A-Za-z_0-9]*)?\$`)

// statement is what a report shows of query, a statement as
// pg_stat_activity holds it: its first line that is not empty once
// comments are dropped, its string literals replaced by '…' (numbers are
// left alone), without a closing semicolon, at most 200 characters. pg_stat_activity never holds a bound
// parameter's value, only its $n.
func statement(query string) string {
	query = hideLiterals(query)
	for line := range strings.Lines(query) {
		line = strings.TrimSpace(strings.TrimRight(strings.TrimSpace(line), ";"))
		if line == "" {
			continue
		}
		if utf8.RuneCountInString(line) > maxStatement {
			r := []rune(line)
			line = string(r[:maxStatement-1]) + "…"
		}
		return line
	}
	return ""
}

// hideLiterals replaces the string literals of query, dollar-quoted
// ones included (function bodies, DO blocks), by '…', and drops its
// comments.
func hideLiterals(query string) string {
	var b strings.Builder
	for {
		loc := token.FindStringIndex(query)
		if loc == nil {
			b.WriteString(query)
			return b.String()
		}
		tok := query[loc[0]:loc[1]]
		switch {
		case tok[0] == '"':
			b.WriteString(query[:loc[1]])
		case tok[0] == '-':
			b.WriteString(query[:loc[0]])
		case tok[0] == '/':
			b.WriteString(query[:loc[0]])
			b.WriteString(" ")
		case tok[0] == '$' && loc[0] > 0 && isIdentChar(query[loc[0]-1]):
			// a$b$ is an identifier, not a dollar quote: go on after its first $.
			b.WriteString(query[:loc[0]+1])
			query = query[loc[0]+1:]
			continue
		case tok[0] == '$':
			b.WriteString(query[:loc[0]])
			b.WriteString("'…'")
			end := strings.Index(query[loc[1]:], tok)
			if end < 0 {
				return b.String()
			}
			query = query[loc[1]+end+len(tok):]
			continue
		default:
			b.WriteString(query[:loc[0]])
			b.WriteString("'…'")
		}
		query = query[loc[1]:]
	}
}

// isIdentChar is whether c continues an identifier.
func isIdentChar(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}
