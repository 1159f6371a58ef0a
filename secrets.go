package preview

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"strings"
)

// Redacted is shown in place of a secret.
const Redacted = "(sensitive)"

// minSecret is the shortest value redacted: shorter ones ("1", "on") would
// blank out ordinary words and carry no secret worth the name.
const minSecret = 4

// Secrets replaces known secret values (the values of a module's sensitive
// variables, its sensitive outputs) with Redacted in text previewd shows:
// run logs, hooks' output, errors. The zero Secrets redacts nothing.
type Secrets struct{ r *strings.Replacer }

// NewSecrets returns Secrets redacting each value, and each line of a
// multi-line one, of at least four bytes.
func NewSecrets(values ...string) Secrets {
	var parts []string
	for _, s := range values {
		for _, line := range strings.Split(s, "\n") {
			if line = strings.TrimSpace(line); len(line) >= minSecret {
				parts = append(parts, line)
			}
		}
	}
	if len(parts) == 0 {
		return Secrets{}
	}
	slices.SortFunc(parts, func(a, b string) int { return len(b) - len(a) }) // longest first
	parts = slices.Compact(parts)
	pairs := make([]string, 0, 2*len(parts))
	for _, p := range parts {
		pairs = append(pairs, p, Redacted)
	}
	return Secrets{r: strings.NewReplacer(pairs...)}
}

// Redact returns text with every secret replaced by Redacted.
func (s Secrets) Redact(text string) string {
	if s.r == nil {
		return text
	}
	return s.r.Replace(text)
}

// RedactError returns err with its text redacted; errors.Is and errors.As
// still see err.
func (s Secrets) RedactError(err error) error {
	if err == nil || s.r == nil {
		return err
	}
	return &redactedError{msg: s.Redact(err.Error()), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// maxPending bounds the unfinished line a RedactingWriter holds back.
const maxPending = 64 << 10

// Writer returns a writer that redacts what passes through it to w, line
// by line, so a secret split between two writes of one line is still
// found. Close writes out the last, unfinished line; it does not close w.
// A line longer than 64 KiB is written in parts, where a secret spanning
// a part's end could escape.
func (s Secrets) Writer(w io.Writer) *RedactingWriter {
	return &RedactingWriter{secrets: s, w: w}
}

// RedactingWriter is Secrets.Writer's writer. It is not safe for
// concurrent use.
type RedactingWriter struct {
	secrets Secrets
	w       io.Writer
	pending []byte
}

// Write writes the complete lines of what it has been given, redacted.
func (r *RedactingWriter) Write(p []byte) (int, error) {
	r.pending = append(r.pending, p...)
	end := bytes.LastIndexByte(r.pending, '\n') + 1
	if end == 0 && len(r.pending) > maxPending {
		end = len(r.pending)
	}
	if end == 0 {
		return len(p), nil
	}
	_, err := io.WriteString(r.w, r.secrets.Redact(string(r.pending[:end])))
	r.pending = append(r.pending[:0], r.pending[end:]...)
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close writes what is left, redacted.
func (r *RedactingWriter) Close() error {
	if len(r.pending) == 0 {
		return nil
	}
	_, err := io.WriteString(r.w, r.secrets.Redact(string(r.pending)))
	r.pending = nil
	return err
}

// Leaves returns the scalar values inside v as text, descending into maps
// and slices: strings as they are, numbers and booleans as JSON spells
// them. The values of a sensitive variable or output are its leaves.
func Leaves(v any) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return []string{x}
	case map[string]any:
		var out []string
		for _, e := range x {
			out = append(out, Leaves(e)...)
		}
		return out
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, Leaves(e)...)
		}
		return out
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return nil
		}
		var back any
		if json.Unmarshal(b, &back) == nil {
			switch back.(type) {
			case map[string]any, []any:
				return Leaves(back)
			}
		}
		return []string{strings.Trim(string(b), `"`)}
	}
}

// Hidden reports whether a variable's value v is shown as Redacted rather
// than in clear: when the module declares the variable sensitive, or when
// v, whatever its type (string, number, map, list, object), holds one of
// secrets: a leaf (see Leaves) that is one of them, or that Redact would
// change (a URL carrying a password).
func Hidden(v any, sensitive bool, secrets []string) bool {
	if sensitive {
		return true
	}
	redact := NewSecrets(secrets...)
	for _, leaf := range Leaves(v) {
		if slices.Contains(secrets, leaf) || redact.Redact(leaf) != leaf {
			return true
		}
	}
	return false
}
