// Package apitest checks the admin API's answers against its OpenAPI
// description (server.OpenAPI) with kin-openapi, so the description
// cannot drift from the code: every test that calls the API passes what it
// sent and what it got through Check.
package apitest

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/previewd/previewd/server"
)

var (
	once   sync.Once
	router routers.Router
	err    error
)

// Router returns the router of the admin API's description, loaded and
// validated once.
func Router(t testing.TB) routers.Router {
	t.Helper()
	once.Do(func() {
		loader := openapi3.NewLoader()
		var doc *openapi3.T
		if doc, err = loader.LoadFromData(server.OpenAPI()); err != nil {
			return
		}
		if err = doc.Validate(loader.Context); err != nil {
			return
		}
		router, err = legacy.NewRouter(doc)
	})
	if err != nil {
		t.Fatalf("the admin API's OpenAPI description: %v", err)
	}
	return router
}

// Check fails the test when the answer (status, header, body) to req, an
// /api/v1 request, is not one the description allows: an undocumented
// path, method or status, or a body not of its schema (whose objects
// allow no undocumented property).
func Check(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	if !strings.HasPrefix(req.URL.Path, "/api/v1/") {
		return
	}
	rt := Router(t)
	if rt == nil {
		return
	}
	r := req.Clone(context.Background())
	r.Body = http.NoBody
	route, params, err := rt.FindRoute(r)
	if err != nil {
		t.Errorf("%s %s: not in the admin API's OpenAPI description: %v", req.Method, req.URL.Path, err)
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: status, Header: header,
		Body:    io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s %s: the %d answer does not keep to the OpenAPI description: %v\n%.2000s", req.Method, req.URL, status, err, body)
	}
}

// Transport checks every /api/v1 answer that passes through it against
// the description, as Check does, and keeps what did not keep to it; a
// test binary installs it as http.DefaultTransport in TestMain and fails
// when Violations is not empty at the end.
type Transport struct {
	Base http.RoundTripper

	mu         sync.Mutex
	violations []string
	checked    int
}

// RoundTrip sends req through Base and checks the answer.
func (tr *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := tr.Base.RoundTrip(req)
	if err != nil || !strings.HasPrefix(req.URL.Path, "/api/v1/") {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return resp, nil // the caller sees the short body
	}
	rec := &recorder{}
	Check(rec, req, resp.StatusCode, resp.Header, body)
	tr.mu.Lock()
	tr.checked++
	tr.violations = append(tr.violations, rec.errs...)
	tr.mu.Unlock()
	return resp, nil
}

// Violations returns the answers that did not keep to the description,
// and how many answers were checked.
func (tr *Transport) Violations() ([]string, int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.violations...), tr.checked
}

// recorder is the testing.TB Check reports to from a Transport.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// Install makes every request of the test binary (through
// http.DefaultTransport) a checked one; call Verdict with m.Run's code.
func Install() *Transport {
	tr := &Transport{Base: http.DefaultTransport}
	http.DefaultTransport = tr
	return tr
}

// Verdict says on stderr which answers did not keep to the description,
// and returns code, or 1 when some did not or, in a run of every test, none
// was checked (the transport was bypassed).
func (tr *Transport) Verdict(code int) int {
	violations, checked := tr.Violations()
	all := flag.Lookup("test.run").Value.String() == "" && flag.Lookup("test.bench").Value.String() == ""
	switch {
	case len(violations) > 0:
		fmt.Fprintf(os.Stderr, "%d of %d admin API answers do not keep to its OpenAPI description:\n%s\n", len(violations), checked, strings.Join(violations, "\n"))
		return 1
	case checked == 0 && code == 0 && all:
		fmt.Fprintln(os.Stderr, "no admin API answer was checked against its OpenAPI description")
		return 1
	}
	return code
}
