package provisioner

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	preview "github.com/previewd/previewd"
)

func TestRunLogAndErrorsRedactSecrets(t *testing.T) {
	var b bytes.Buffer
	r := &run{secrets: preview.NewSecrets("hunter2")}
	l := &runLog{w: &b, secrets: r.secrets}
	l.Write([]byte("stderr: hunter2\n"))
	l.stdout().Write([]byte("stdout: hunter2\n"))
	if got, want := b.String(), "stderr: (sensitive)\nstdout: (sensitive)\n"; got != want {
		t.Errorf("log: got %q, want %q", got, want)
	}
	err := r.commandError(context.Background(), "apply", errors.New("exit status 1\nError: invalid value hunter2"))
	if strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "invalid value (sensitive)") {
		t.Errorf("error: got %q", err)
	}
}

func TestStateSecrets(t *testing.T) {
	ws := workspace{root: t.TempDir()}
	os.WriteFile(ws.statePath(), []byte(`{"version":4,"outputs":{
		"url":{"value":"http://x","type":"string"},
		"password":{"value":"hunter2","type":"string","sensitive":true},
		"creds":{"value":{"user":"admin","keys":["k-1111","k-2222"],"port":5432},"type":["object",{}],"sensitive":true}}}`), 0o600)
	got := stateSecrets(ws)
	slices.Sort(got)
	want := []string{"5432", "admin", "hunter2", "k-1111", "k-2222"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := stateSecrets(workspace{root: filepath.Join(t.TempDir(), "none")}); got != nil {
		t.Errorf("no state: got %v", got)
	}
}
