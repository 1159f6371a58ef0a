package templates

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// inert returns s as one line of at most limit characters (any number when
// limit is negative): each run of white space, line breaks and Unicode line
// and paragraph separators included, becomes one space, none at either end;
// control characters, marks that reorder text and invalid UTF-8 become
// U+FFFD; a cut ends in "…". It reads no more of s than it keeps, apart
// from white space.
func inert(s string, limit int) string {
	var out []rune
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			space = len(out) > 0
			continue
		}
		if unicode.IsControl(r) || reordering(r) {
			r = utf8.RuneError
		}
		if space {
			out = append(out, ' ')
			space = false
		}
		out = append(out, r)
		if limit >= 0 && len(out) > limit {
			out = append([]rune(strings.TrimRight(string(out[:max(0, limit-1)]), " ")), '…')
			break
		}
	}
	return string(out)
}

// reordering reports whether r is a bidirectional control, which makes text
// display in another order than it reads.
func reordering(r rune) bool {
	return r == '\u061c' || r == '\u200e' || r == '\u200f' ||
		'\u202a' <= r && r <= '\u202e' || '\u2066' <= r && r <= '\u2069'
}

// inlineCode shows s, made inert, as a code span whose delimiter no backtick
// run in s can close early.
func inlineCode(s string) string {
	s = inert(s, -1)
	if s == "" {
		return "`?`"
	}
	tick := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return tick + " " + s + " " + tick
	}
	return tick + s + tick
}

// code shows a value as code of at most maxValueLength characters.
func code(s string) string { return inlineCode(inert(s, maxValueLength)) }

// note shows a message as code of at most maxNoteLength characters.
func note(s string) string { return inlineCode(inert(s, maxNoteLength)) }

// tableCell shows s as code inside a Markdown table cell: pipes escaped,
// newlines flattened, at most maxCellLength characters.
func tableCell(s string) string {
	s = inert(s, maxCellLength)
	if s == "" {
		return "—"
	}
	return strings.ReplaceAll(inlineCode(s), "|", "\\|")
}

// subjectCell shows a finding's subject as a table cell. One too long for
// a cell loses its middle, not its end: the end names the key that
// differs (….input.settings.feature_flags.new_checkout).
// Like inert, it reads little more of s than it keeps.
func subjectCell(s string) string {
	if inert(s, maxCellLength) == inert(s, maxCellLength+1) {
		return tableCell(s) // not cut: it fits
	}
	head := inert(s, maxCellLength/3) // ends in "…"
	start := max(0, len(s)-4*maxCellLength)
	for start < len(s) && !utf8.RuneStart(s[start]) {
		start++
	}
	tail := []rune(inert(s[start:], -1))
	tail = tail[max(0, len(tail)-(maxCellLength-utf8.RuneCountInString(head))):]
	return tableCell(head + string(tail))
}

var plainWord = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,39}$`)

// word shows s in a table as plain text when it is a lower-case identifier
// such as a finding's kind (variable, config_key), and as a cell otherwise.
// A leading letter keeps underscores from starting emphasis.
func word(s string) string {
	if plainWord.MatchString(s) {
		return s
	}
	return tableCell(s)
}

func longestRun(s string, c byte) int {
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}
