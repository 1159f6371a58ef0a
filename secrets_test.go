package preview

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestSecretsRedact(t *testing.T) {
	s := NewSecrets("hunter2", "abc", "line one\nline two", "hunter2-extended", "")
	tests := []struct{ in, want string }{
		{`password = "hunter2"`, `password = "(sensitive)"`},
		{"hunter2-extended and hunter2", "(sensitive) and (sensitive)"},
		{"abc stays: too short to be a secret", "abc stays: too short to be a secret"},
		{"line one\nthen line two", "(sensitive)\nthen (sensitive)"},
	}
	for _, tt := range tests {
		if got := s.Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := (Secrets{}).Redact("hunter2"); got != "hunter2" {
		t.Errorf("the zero Secrets changed %q", got)
	}
	if got := NewSecrets("", "ab").Redact("ab"); got != "ab" {
		t.Errorf("nothing worth redacting: got %q", got)
	}
}

func TestSecretsWriterFindsASecretSplitBetweenWrites(t *testing.T) {
	var b bytes.Buffer
	w := NewSecrets("hunter2").Writer(&b)
	for _, part := range []string{"connecting with hun", "ter2\nok\nlast hunt", "er2 line"} {
		fmt.Fprint(w, part)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "connecting with (sensitive)\nok\nlast (sensitive) line"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestSecretsRedactErrorUnwraps(t *testing.T) {
	err := NewSecrets("hunter2").RedactError(fmt.Errorf("seed with hunter2: %w", context.Canceled))
	if err.Error() != "seed with (sensitive): context canceled" || !errors.Is(err, context.Canceled) {
		t.Errorf("got %q (is canceled: %v)", err, errors.Is(err, context.Canceled))
	}
}
