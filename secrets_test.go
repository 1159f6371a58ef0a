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

func TestHidden(t *testing.T) {
	secrets := []string{"hunter22", "5432", "ab"}
	tests := []struct {
		name      string
		v         any
		sensitive bool
		want      bool
	}{
		{"a sensitive variable's value", "anything", true, true},
		{"a sensitive variable without leaves", map[string]any{}, true, true},
		{"a secret", "hunter22", false, true},
		{"a short secret, whole", "ab", false, true},
		{"a secret inside a URL", "postgres://app:hunter22@db/shop", false, true},
		{"a map holding a secret", map[string]any{"user": "app", "password": "hunter22"}, false, true},
		{"a list holding a secret", []any{"first", "hunter22"}, false, true},
		{"an object holding a secret number", struct{ Port int }{5432}, false, true},
		{"a secret number", 5432, false, true},
		{"a plain string", "eu-west-1", false, false},
		{"a short secret inside a word", "tab", false, false},
		{"a plain map", map[string]any{"team": "shop", "replicas": 2}, false, false},
		{"a plain list", []any{"a1", "b2"}, false, false},
		{"nothing", nil, false, false},
	}
	for _, tt := range tests {
		if got := Hidden(tt.v, tt.sensitive, secrets); got != tt.want {
			t.Errorf("%s: Hidden(%v, %v) = %v, want %v", tt.name, tt.v, tt.sensitive, got, tt.want)
		}
	}
}
