package server_test

// Tests of what unauthenticated senders can make previewd spend: memory for
// bodies, disk for log lines, store keys and metric labels.

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/internal/waittest"
	"github.com/previewd/previewd/server"
	"github.com/previewd/previewd/store"
	"github.com/previewd/previewd/webhooks"
	"github.com/prometheus/client_golang/prometheus"
)

// hostileFixture is a server with its registry and log in reach.
// It serves on a real listener, with the server's own http.Server limits.
type hostileFixture struct {
	url string
	s   *server.Server
	db  *store.DB
	reg *prometheus.Registry
	log *waittest.Buffer
	now *fakeClock
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newHostileFixture(t *testing.T) *hostileFixture {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "previewd.db"), store.Options{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &hostileFixture{db: db, reg: prometheus.NewRegistry(), log: &waittest.Buffer{}, now: &fakeClock{t: time.Now()}}
	f.s = server.New(server.Config{
		AdminToken: token, TTL: time.Hour, Store: db, Deliveries: webhooks.NewIntake([]byte(secret), db, nil),
		Controller: &fakeController{ready: true}, Registry: f.reg, Now: f.now.Now,
		Logger:          slog.New(slog.NewTextHandler(f.log, nil)),
		BodyReadTimeout: time.Second,
		LogLinks:        server.NewLogLinks([]byte("key"), "http://previewd.test", time.Hour),
		Dashboard: func(w io.Writer, envs []preview.Environment, _ server.ListQuery) error {
			_, err := fmt.Fprintf(w, "<p>%d</p>", len(envs))
			return err
		},
		Environment: func(_ context.Context, w io.Writer, env preview.Environment, _ []preview.Run, _ server.PageState) error {
			_, err := fmt.Fprintf(w, "<p>%s</p>", env.Name)
			return err
		},
		Login: func(w io.Writer, failed bool) error {
			_, err := fmt.Fprintf(w, "<form>failed: %v</form>", failed)
			return err
		},
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- f.s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		f.s.Shutdown(ctx)
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	f.url = "http://" + l.Addr().String()
	return f
}

// gauge reads a gauge's value from the registry.
func (f *hostileFixture) gauge(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// waitReserved reads the bytes reserved for webhook bodies until done
// holds of them.
func (f *hostileFixture) waitReserved(t *testing.T, what string, done func(float64) bool) {
	t.Helper()
	waittest.For(t, what, func() float64 { return f.gauge(t, "previewd_webhook_body_bytes_reserved") }, done)
}

// readFlag is a body that records whether anyone read it.
type readFlag struct {
	io.Reader
	mu   sync.Mutex
	read bool
}

func (r *readFlag) Read(p []byte) (int, error) {
	r.mu.Lock()
	r.read = true
	r.mu.Unlock()
	return r.Reader.Read(p)
}

func TestWebhookRefusesBadHeadersBeforeReadingTheBody(t *testing.T) {
	f := newHostileFixture(t)
	body := prPayload("opened", 1, "feature/a", "aaa", time.Now())
	guid := "72d3162e-cc78-11e3-81ab-4c9367dc0958"
	tests := []struct {
		name, delivery, signature string
		want                      int
		read                      bool
	}{
		{"signed, a GUID", guid, sign(body), http.StatusAccepted, true},
		{"no signature", guid, "", http.StatusUnauthorized, false},
		{"not a sha256 signature", guid, "sha1=0123456789abcdef0123456789abcdef01234567", http.StatusUnauthorized, false},
		{"signature of the wrong length", guid, "sha256=abcd", http.StatusUnauthorized, false},
		{"no delivery ID", "", sign(body), http.StatusBadRequest, false},
		{"a delivery ID of 33 KB", strings.Repeat("a", 33<<10), sign(body), http.StatusBadRequest, false},
		{"a delivery ID with spaces", "a b", sign(body), http.StatusBadRequest, false},
		{"a delivery ID with a slash", "a/../b", sign(body), http.StatusBadRequest, false},
		{"a well-formed wrong signature", guid + "x", sign([]byte("other")), http.StatusUnauthorized, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &readFlag{Reader: bytes.NewReader(body)}
			req := httptest.NewRequest(http.MethodPost, "/webhooks/github", r)
			req.Header.Set("X-GitHub-Event", "pull_request")
			req.Header.Set("X-GitHub-Delivery", tt.delivery)
			if tt.signature != "" {
				req.Header.Set("X-Hub-Signature-256", tt.signature)
			}
			rec := httptest.NewRecorder()
			f.s.Handler().ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("status: got %d want %d (%s)", rec.Code, tt.want, rec.Body)
			}
			if r.read != tt.read {
				t.Errorf("body read: got %v want %v", r.read, tt.read)
			}
		})
	}
}

func TestWebhookRefusesHugeHeaders(t *testing.T) {
	f := newHostileFixture(t)
	body := prPayload("opened", 1, "feature/a", "aaa", time.Now())
	req, _ := http.NewRequest(http.MethodPost, f.url+"/webhooks/github", bytes.NewReader(body))
	req.Header.Set("X-GitHub-Event", strings.Repeat("e", 450<<10))
	req.Header.Set("X-GitHub-Delivery", "d-1")
	req.Header.Set("X-Hub-Signature-256", sign(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("450 KB header: got %d, want 431", resp.StatusCode)
	}
}

// slowBody is a request body that sends nothing until released.
type slowBody struct {
	release chan struct{}
	started chan struct{}
	once    sync.Once
}

func (s *slowBody) Read(p []byte) (int, error) {
	s.once.Do(func() { close(s.started) })
	<-s.release
	return 0, io.EOF
}

func TestWebhookFloodOfLargeBodiesLeavesRoomForSignedDeliveries(t *testing.T) {
	f := newHostileFixture(t)
	release := make(chan struct{})
	var wg sync.WaitGroup
	var once sync.Once
	endFlood := func() { once.Do(func() { close(release); wg.Wait() }) }
	defer endFlood()
	// Two unsigned 25 MiB bodies that never finish hold the large pool.
	for i := range 2 {
		body := &slowBody{release: release, started: make(chan struct{})}
		req, _ := http.NewRequest(http.MethodPost, f.url+"/webhooks/github", body)
		req.ContentLength = server.MaxWebhookBody
		req.Header.Set("X-GitHub-Event", "pull_request")
		req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("flood-%d", i))
		req.Header.Set("X-Hub-Signature-256", "sha256="+strings.Repeat("0", 64))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	f.waitReserved(t, "the two large bodies' bytes reserved", func(n float64) bool { return n >= 2*server.MaxWebhookBody })

	big := bytes.Repeat([]byte("x"), server.MaxWebhookBody)
	resp, out := deliverTo(t, f.url, "pull_request", "third", big, "sha256="+strings.Repeat("0", 64), -1)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("a third large body: got %d %v (Retry-After %q), want 503 with Retry-After", resp.StatusCode, out, resp.Header.Get("Retry-After"))
	}
	if resp, _ := deliverTo(t, f.url, "pull_request", "two-mib", big[:2<<20], "sha256="+strings.Repeat("0", 64), -1); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a 2 MiB body while two large ones are held: got %d, want 503 (a large body holds a whole large buffer)", resp.StatusCode)
	}
	chunked := bytes.Repeat([]byte(" "), 2<<20)
	if resp, _ := deliverTo(t, f.url, "pull_request", "chunked", chunked, "sha256="+strings.Repeat("0", 64), 0); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a 2 MiB body of unknown length: got %d, want 503", resp.StatusCode)
	}
	for i := range 20 {
		body := prPayload("opened", i+1, fmt.Sprintf("feature/%d", i), "abc", time.Now())
		if resp, out := deliverTo(t, f.url, "pull_request", fmt.Sprintf("ok-%d", i), body, sign(body), -1); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("a signed delivery during the flood: got %d %v, want 202", resp.StatusCode, out)
		}
	}
	if got := f.gauge(t, "previewd_webhook_body_bytes_reserved"); got < 2*server.MaxWebhookBody || got > 2*server.MaxWebhookBody+2 {
		t.Errorf("reserved after the normal deliveries: got %v, want only the two large bodies", got)
	}
	// A relay may forward a delivery chunked: while it stays small it
	// draws on the small pool.
	unknownLength := prPayload("opened", 99, "feature/chunked", "abc", time.Now())
	if resp, out := deliverTo(t, f.url, "pull_request", "chunked-1", unknownLength, sign(unknownLength), 0); resp.StatusCode != http.StatusAccepted {
		t.Errorf("a signed delivery of unknown length during the flood: got %d %v, want 202", resp.StatusCode, out)
	}
	endFlood()
	f.waitReserved(t, "nothing reserved once every delivery ended", func(n float64) bool { return n == 0 })
	if resp, out := deliverTo(t, f.url, "pull_request", "chunked-2", unknownLength, sign(unknownLength), 0); resp.StatusCode != http.StatusAccepted {
		t.Errorf("a signed delivery of unknown length after the flood: got %d %v, want 202", resp.StatusCode, out)
	}
}

// heldBody is a request body of unknown length that sends head, then
// waits for release before it sends tail.
type heldBody struct {
	head, tail []byte
	release    <-chan struct{}
}

func (h *heldBody) Read(p []byte) (int, error) {
	if len(h.head) == 0 && h.release != nil {
		<-h.release
		h.release, h.head, h.tail = nil, h.tail, nil
	}
	if len(h.head) == 0 {
		return 0, io.EOF
	}
	n := copy(p, h.head)
	h.head = h.head[n:]
	return n, nil
}

// TestChunkedDeliveriesShareTheSmallPool sends 16 signed deliveries of
// unknown length at once, each held half sent until all are being read:
// they fit in the small pool together, and every one is accepted.
func TestChunkedDeliveriesShareTheSmallPool(t *testing.T) {
	f := newHostileFixture(t)
	const deliveries = 16
	release := make(chan struct{})
	var once sync.Once
	releaseAll := func() { once.Do(func() { close(release) }) }
	defer releaseAll()
	answers := make(chan string, deliveries)
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := range deliveries {
		body := prPayload("opened", i+1, fmt.Sprintf("feature/relayed-%d", i), "abc", time.Now())
		req, _ := http.NewRequest(http.MethodPost, f.url+"/webhooks/github", &heldBody{head: body[:len(body)/2], tail: body[len(body)/2:], release: release})
		req.Header.Set("X-GitHub-Event", "pull_request")
		req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("relayed-%d", i))
		req.Header.Set("X-Hub-Signature-256", sign(body))
		wg.Go(func() {
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				answers <- err.Error()
				return
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			answers <- fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(out))
		})
	}
	f.waitReserved(t, fmt.Sprintf("the %d deliveries read at once", deliveries), func(n float64) bool {
		select {
		case answer := <-answers:
			t.Fatalf("a delivery was answered before its body ended: %s", answer)
		default:
		}
		return n >= deliveries*server.UnknownStep
	})
	releaseAll()
	for range deliveries {
		if answer := <-answers; !strings.HasPrefix(answer, "202 ") {
			t.Errorf("a chunked signed delivery: got %s, want 202", answer)
		}
	}
	if got := f.gauge(t, "previewd_webhook_body_bytes_reserved"); got != 0 {
		t.Errorf("reserved once every delivery was answered: got %v, want 0", got)
	}
}

// deliverTo posts a delivery; length -1 sends Content-Length, 0 sends the
// body chunked, with no length.
func deliverTo(t *testing.T, base, event, delivery string, body []byte, signature string, length int) (*http.Response, string) {
	t.Helper()
	var r io.Reader = bytes.NewReader(body)
	if length == 0 {
		r = io.MultiReader(r) // hides the length from net/http
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/github", r)
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", signature)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, string(out)
}

func TestRefusalLogIsClippedAndRateLimited(t *testing.T) {
	f := newHostileFixture(t)
	body := []byte(`{"zen":"x"}`)
	for i := range 100 {
		delivery := fmt.Sprintf("%d-%s", i, strings.Repeat("d", 30<<10)) // a bad ID: refused with 400
		req := httptest.NewRequest(http.MethodPost, "/webhooks/github", bytes.NewReader(body))
		req.Header.Set("X-GitHub-Event", "x\nlevel=ERROR msg=forged\n"+strings.Repeat("e", 30<<10))
		req.Header.Set("X-GitHub-Delivery", delivery)
		req.Header.Set("X-Hub-Signature-256", sign(body))
		rec := httptest.NewRecorder()
		f.s.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest {
			t.Fatalf("request %d: got %d, want 400", i, rec.Code)
		}
	}
	logged := f.log.String()
	lines := strings.Split(strings.TrimSpace(logged), "\n")
	if len(lines) > 20 || len(logged) > 20*1024 {
		t.Errorf("100 refusals wrote %d lines, %d bytes; want at most 20 lines of under 1 KB", len(lines), len(logged))
	}
	if !strings.Contains(logged, "…(cut, 200 bytes shown)") {
		t.Errorf("the log does not say values were cut:\n%.500s", logged)
	}
	for _, line := range lines {
		if !strings.HasPrefix(line, "time=") || strings.HasPrefix(line, "level=ERROR") {
			t.Errorf("a header forged a log line: %.300s", line)
		}
	}
	if !strings.Contains(logged, `event="x\\nlevel=ERROR msg=forged\\neeee`) {
		t.Errorf("the event is not shown quoted in the log:\n%.500s", logged)
	}
	f.now.Add(time.Second)
	req := httptest.NewRequest(http.MethodPost, "/webhooks/github", bytes.NewReader(body))
	req.Header.Set("X-GitHub-Delivery", "ok")
	req.Header.Set("X-GitHub-Event", "ping")
	req.Header.Set("X-Hub-Signature-256", sign([]byte("other")))
	f.s.Handler().ServeHTTP(httptest.NewRecorder(), req)
	if after := strings.Split(strings.TrimSpace(f.log.String()), "\n"); len(after) != len(lines)+1 {
		t.Errorf("a refusal a second later was not logged")
	} else if last := after[len(after)-1]; !regexp.MustCompile(`suppressed_since_last=80\b`).MatchString(last) {
		t.Errorf("the next line does not count the 80 held back: %s", last)
	}
}

func TestEventLabelsAreAFixedSet(t *testing.T) {
	f := newHostileFixture(t)
	body := []byte(`{"zen":"x"}`)
	for i := range 50 {
		resp, out := deliverTo(t, f.url, "custom_event_"+strconv.Itoa(i), "e-"+strconv.Itoa(i), body, sign(body), -1)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("unknown event: got %d %s", resp.StatusCode, out)
		}
	}
	deliverTo(t, f.url, "ping", "p-1", body, sign(body), -1)
	var metrics bytes.Buffer
	resp, err := http.Get(f.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(&metrics, resp.Body)
	resp.Body.Close()
	if got := metrics.String(); strings.Contains(got, "custom_event") ||
		!strings.Contains(got, `previewd_webhook_deliveries_total{event="other",result="ignored"} 50`) ||
		!strings.Contains(got, `previewd_webhook_deliveries_total{event="ping",result="ignored"} 1`) {
		t.Errorf("metrics:\n%s", got)
	}
}

func TestPagesCannotBeFramedOrCached(t *testing.T) {
	f := newHostileFixture(t)
	body := prPayload("opened", 1, "headers", "abc", time.Now())
	deliverTo(t, f.url, "pull_request", "h-1", body, sign(body), -1)
	for _, path := range []string{"/api/v1/environments", "/api/v1/environments/headers", "/healthz", "/dashboard", "/logs/headers/1?expires=1&signature=00"} {
		req, _ := http.NewRequest(http.MethodGet, f.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if h.Get("X-Frame-Options") != "DENY" || h.Get("Cache-Control") != "no-store" ||
			!strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: got headers %v", path, h)
		}
	}
}

// TestSlowSendersLoseTheirReservation holds the whole pool of normal-sized
// bodies with slow unsigned senders: normal deliveries are refused while
// they hold it, and accepted again once the read deadline cuts them off.
func TestSlowSendersLoseTheirReservation(t *testing.T) {
	f := newHostileFixture(t)
	release := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { close(release); wg.Wait() }()
	const senders = 16 // each reserves 1 MiB: the whole small pool
	for i := range senders {
		body := &slowBody{release: release, started: make(chan struct{})}
		req, _ := http.NewRequest(http.MethodPost, f.url+"/webhooks/github", body)
		req.ContentLength = 1<<20 - 1
		req.Header.Set("X-GitHub-Event", "pull_request")
		req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("slow-%d", i))
		req.Header.Set("X-Hub-Signature-256", "sha256="+strings.Repeat("0", 64))
		wg.Go(func() {
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		})
	}
	f.waitReserved(t, "the slow senders holding the pool", func(n float64) bool { return n >= senders<<20 })
	body := prPayload("opened", 1, "feature/slow", "abc", time.Now())
	if resp, _ := deliverTo(t, f.url, "pull_request", "while-held", body, sign(body), -1); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("while slow senders hold the pool: got %d, want 503", resp.StatusCode)
	}
	f.waitReserved(t, "the read deadline freeing the pool", func(n float64) bool { return n == 0 })
	if resp, out := deliverTo(t, f.url, "pull_request", "after-deadline", body, sign(body), -1); resp.StatusCode != http.StatusAccepted {
		t.Errorf("after the deadline: got %d %s, want 202", resp.StatusCode, out)
	}
}

// TestWrongCredentialsShareOneLimit guesses the admin token every way a
// client can present it: bearer on the API, Basic and bearer on the
// dashboard, the login form. Every wrong one counts against the client's
// five tries; then even the right token is answered 429 without being
// checked, until a try comes back a minute later.
func TestWrongCredentialsShareOneLimit(t *testing.T) {
	f := newHostileFixture(t)
	try := func(method, path, authorization string, form url.Values) *http.Response {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, f.url+path, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	basic := func(password string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+password))
	}
	guesses := []struct {
		name                        string
		method, path, authorization string
		form                        url.Values
	}{
		{"bearer on the API", "GET", "/api/v1/environments", "Bearer guess-1", nil},
		{"bearer on the API, again", "GET", "/api/v1/environments", "Bearer guess-2", nil},
		{"Basic on the dashboard", "GET", "/dashboard", basic("guess-3"), nil},
		{"bearer on the dashboard", "GET", "/dashboard", "Bearer guess-4", nil},
		{"the login form", "POST", "/login", "", url.Values{"token": {"guess-5"}}},
	}
	for _, g := range guesses {
		if resp := try(g.method, g.path, g.authorization, g.form); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: got %d, want 401", g.name, resp.StatusCode)
		}
	}
	for _, g := range []struct{ name, path, authorization string }{
		{"the right bearer token on the API", "/api/v1/environments", "Bearer " + token},
		{"the right token as Basic password", "/dashboard", basic(token)},
		{"a sixth guess", "/api/v1/environments", "Bearer guess-6"},
	} {
		resp := try("GET", g.path, g.authorization, nil)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "60" {
			t.Errorf("%s after five wrong credentials: got %d (Retry-After %q), want 429 (Retry-After 60)", g.name, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if resp := try("POST", "/login", "", url.Values{"token": {token}}); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the login form after five wrong credentials: got %d, want 429", resp.StatusCode)
	}

	f.now.Add(time.Minute) // one try back
	if resp := try("GET", "/api/v1/environments", "Bearer "+token, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("the right token a minute later: got %d, want 200", resp.StatusCode)
	}
	f.now.Add(time.Second)
	if resp := try("GET", "/dashboard", basic(token), nil); resp.StatusCode != http.StatusOK {
		t.Errorf("the right token a second later (it gave its try back): got %d, want 200", resp.StatusCode)
	}
	if resp := try("GET", "/api/v1/environments", "Bearer guess-7", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("one guess a minute later: got %d, want 401", resp.StatusCode)
	}
	if resp := try("GET", "/api/v1/environments", "Bearer guess-8", nil); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "59" {
		t.Errorf("a second guess within that minute: got %d (Retry-After %q), want 429 (Retry-After 59)", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp := try("GET", "/api/v1/environments", "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no credentials at all: got %d, want 401 (nothing was guessed)", resp.StatusCode)
	}
}

// TestWrongCredentialsCountPerClient: an IPv4 address is a client, and so
// is an IPv6 /64, whose addresses a guesser holds all of.
func TestWrongCredentialsCountPerClient(t *testing.T) {
	tests := []struct {
		name, guesser, other string
		shared               bool
	}{
		{"two IPv4 addresses", "192.0.2.1:1000", "192.0.2.2:1000", false},
		{"one IPv4 address, two ports", "192.0.2.1:1000", "192.0.2.1:2000", true},
		{"one IPv6 /64", "[2001:db8:1:2::1]:1000", "[2001:db8:1:2:ffff:ffff:ffff:ffff]:1000", true},
		{"two IPv6 /64s", "[2001:db8:1:2::1]:1000", "[2001:db8:1:3::1]:1000", false},
		{"an IPv4-mapped IPv6 address and its IPv4", "[::ffff:192.0.2.1]:1000", "192.0.2.1:1000", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newHostileFixture(t)
			get := func(remote, bearer string) int {
				req := httptest.NewRequest(http.MethodGet, "/api/v1/environments", nil)
				req.RemoteAddr = remote
				req.Header.Set("Authorization", "Bearer "+bearer)
				rec := httptest.NewRecorder()
				f.s.Handler().ServeHTTP(rec, req)
				return rec.Code
			}
			for i := range 5 {
				if code := get(tt.guesser, fmt.Sprintf("guess-%d", i)); code != http.StatusUnauthorized {
					t.Fatalf("guess %d: got %d, want 401", i, code)
				}
			}
			if code := get(tt.guesser, token); code != http.StatusTooManyRequests {
				t.Errorf("the guesser's sixth try: got %d, want 429", code)
			}
			want := http.StatusOK
			if tt.shared {
				want = http.StatusTooManyRequests
			}
			if code := get(tt.other, token); code != want {
				t.Errorf("the right token from %s: got %d, want %d", tt.other, code, want)
			}
		})
	}
}
