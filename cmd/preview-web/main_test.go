package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMain lets start re-execute the test binary as the server: start runs
// os.Executable() with "serve" first.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestHandler(t *testing.T) {
	inputs, err := decodeInputs(`{"instance_count":1,"external_api_url":"https://sandbox.example.com","feature_flags":{"new_checkout":true}}`)
	if err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	os.WriteFile(filepath.Join(dataDir, "users.jsonl"), []byte("{\"id\":1}\n{\"id\":2}\n"), 0o644)
	h := handler(info{Environment: "feat-login", Branch: "feat/login", Commit: "0123456789abcdef", PR: 7, Inputs: inputs}, dataDir, nil)
	tests := []struct {
		path     string
		wantCode int
		want     []string
	}{
		{"/", 200, []string{"feat-login", "feat/login", "0123456789abcdef", "#7", "https://sandbox.example.com", `{&#34;new_checkout&#34;:true}`, "users.jsonl</a></th><td>2 records"}},
		{"/data/users.jsonl", 200, []string{`{"id":2}`}},
		{"/info.json", 200, []string{`"commit":"0123456789abcdef"`, `{"name":"instance_count","value":"1"}`}},
		{"/healthz", 200, []string{"ok"}},
		{"/other", 404, nil},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", tt.path, nil))
		if rec.Code != tt.wantCode {
			t.Errorf("GET %s: got status %d, want %d", tt.path, rec.Code, tt.wantCode)
		}
		for _, w := range tt.want {
			if !strings.Contains(rec.Body.String(), w) {
				t.Errorf("GET %s: got body %q, want it to contain %q", tt.path, rec.Body.String(), w)
			}
		}
	}
}

func TestParseOptionsErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{}, "exactly one DIR"},
		{[]string{"-port=1", "a", "b"}, "exactly one DIR"},
		{[]string{"-inputs=[1]", "dir"}, "JSON object"},
		{[]string{"-nope", "dir"}, "not defined"},
	}
	for _, tt := range tests {
		_, err := parseOptions("start", tt.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseOptions(%q): got %v, want error containing %q", tt.args, err, tt.want)
		}
	}
}

// TestStartStop runs real processes: start detaches a server, a second start
// replaces it on the same port, stop ends it.
func TestStartStop(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "srv")
	port := freePort(t)
	t.Cleanup(func() { run([]string{"stop", dir}, io.Discard, io.Discard) })

	url := mustStart(t, "-port="+port, "-environment=feat-x", "-commit=aaaaaaa", dir)
	if want := "http://127.0.0.1:" + port + "/"; url != want {
		t.Errorf("got URL %q, want %q", url, want)
	}
	if got := getInfo(t, url).Commit; got != "aaaaaaa" {
		t.Errorf("got commit %q, want aaaaaaa", got)
	}

	url2 := mustStart(t, "-port="+port, "-environment=feat-x", "-commit=bbbbbbb", dir)
	if url2 != url {
		t.Errorf("restart: got URL %q, want the same port: %q", url2, url)
	}
	if got := getInfo(t, url).Commit; got != "bbbbbbb" {
		t.Errorf("restart: got commit %q, want bbbbbbb", got)
	}

	var out bytes.Buffer
	if code := run([]string{"stop", dir}, &out, &out); code != 0 {
		t.Fatalf("stop: exit %d: %s", code, out.String())
	}
	if _, err := net.DialTimeout("tcp", strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/"), time.Second); err == nil {
		t.Errorf("port still open after stop")
	}
	for _, f := range []string{"pid", "url"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s left after stop: %v", f, err)
		}
	}
	out.Reset()
	if code := run([]string{"stop", dir}, &out, &out); code != 0 {
		t.Errorf("second stop: exit %d: %s", code, out.String())
	}
}

// TestStartPortTaken checks the fallback to any free port.
func TestStartPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	t.Cleanup(func() { run([]string{"stop", dir}, io.Discard, io.Discard) })
	taken := ln.Addr().String()
	_, port, _ := net.SplitHostPort(taken)
	url := mustStart(t, "-port="+port, dir)
	if url == "http://"+taken+"/" || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Errorf("got URL %q, want another port than %s", url, taken)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "url")); strings.TrimSpace(string(b)) != url {
		t.Errorf("url file holds %q, want %q", b, url)
	}
}

func TestStopStalePid(t *testing.T) {
	dir := t.TempDir()
	// The test process is alive but is not a server of dir: it must survive.
	os.WriteFile(filepath.Join(dir, "pid"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
	var out bytes.Buffer
	if code := run([]string{"stop", dir}, &out, &out); code != 0 {
		t.Fatalf("stop: exit %d: %s", code, out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "pid")); !os.IsNotExist(err) {
		t.Errorf("stale pid file left: %v", err)
	}
}

func mustStart(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(append([]string{"start"}, args...), &out, &errOut); code != 0 {
		t.Fatalf("start %q: exit %d: %s", args, code, errOut.String())
	}
	return strings.TrimSpace(out.String())
}

func getInfo(t *testing.T, url string) info {
	t.Helper()
	resp, err := http.Get(url + "info.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var in info
	if err := json.NewDecoder(resp.Body).Decode(&in); err != nil {
		t.Fatal(err)
	}
	return in
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}
