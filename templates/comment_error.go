package templates

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// errorBlock puts the last limit bytes of msg, as blockText, in a fenced
// block that nothing in msg can close. A cut says where the rest is when
// logURL is set.
func errorBlock(msg, logURL string, limit int) string {
	msg = strings.TrimRight(msg, "\r\n")
	cut := 0
	if len(msg) > limit {
		cut = len(msg) - limit
		for cut < len(msg) && !utf8.RuneStart(msg[cut]) {
			cut++
		}
		if nl := strings.IndexByte(msg[cut:], '\n'); nl >= 0 && nl < 200 {
			cut += nl + 1
		}
	}
	text := blockText(msg[cut:])
	if cut > 0 {
		where := ""
		if logURL != "" {
			where = "; the run log has them"
		}
		text = fmt.Sprintf("… (%d earlier bytes cut%s)\n%s", cut, where, text)
	}
	fence := strings.Repeat("`", max(3, longestRun(text, '`')+1))
	return fence + "text\n" + text + "\n" + fence
}

var ansiEscape = regexp.MustCompile("\x1b\\[[0-?]*[ -/]*[@-~]")

// blockText makes msg plain text for a fenced block: CR LF, CR, NEL and the
// Unicode line and paragraph separators become LF, terminal colour codes are
// dropped, and other control characters but tabs, marks that reorder text
// and invalid UTF-8 become U+FFFD.
func blockText(msg string) string {
	msg = strings.ReplaceAll(ansiEscape.ReplaceAllString(msg, ""), "\r\n", "\n")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r == '\r' || r == '\u0085' || r == '\u2028' || r == '\u2029':
			return '\n'
		case unicode.IsControl(r) || reordering(r):
			return utf8.RuneError
		}
		return r
	}, msg)
}
