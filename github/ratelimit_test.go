package github

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
)

// fakeClock is an injected clock: Sleep records the wait and moves the
// clock on at once.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) recorded() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

func (c *fakeClock) policy() RetryPolicy { return RetryPolicy{Now: c.Now, Sleep: c.Sleep} }

// epoch is t as x-ratelimit-reset carries it.
func epoch(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

const secondaryMessage = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."

func TestRateLimitRules(t *testing.T) {
	now := newFakeClock().Now()
	secondary := fakeResponse{Status: 403, Message: secondaryMessage}
	repeat := func(r fakeResponse, n int) []fakeResponse { return slices.Repeat([]fakeResponse{r}, n) }
	tests := []struct {
		name      string
		policy    func(p RetryPolicy) RetryPolicy
		answers   []fakeResponse
		wantWaits []time.Duration
		wantCode  string // "" for success
		wantText  string
		wantSent  int
	}{
		{"403 with retry-after waits that many seconds",
			nil, []fakeResponse{{Status: 403, Message: secondaryMessage, Header: map[string]string{"Retry-After": "30"}}},
			[]time.Duration{30 * time.Second}, "", "", 2},
		{"429 with retry-after waits that many seconds",
			nil, []fakeResponse{{Status: 429, Header: map[string]string{"Retry-After": "7"}}},
			[]time.Duration{7 * time.Second}, "", "", 2},
		{"retry-after wins over x-ratelimit-reset",
			nil, []fakeResponse{{Status: 403, Header: map[string]string{"Retry-After": "5", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": epoch(now.Add(time.Minute))}}},
			[]time.Duration{5 * time.Second}, "", "", 2},
		{"403 with x-ratelimit-remaining 0 waits until x-ratelimit-reset",
			nil, []fakeResponse{{Status: 403, Message: "API rate limit exceeded for installation ID 1.", Header: map[string]string{
				"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": epoch(now.Add(90 * time.Second))}}},
			[]time.Duration{90 * time.Second}, "", "", 2},
		{"429 with x-ratelimit-remaining 0 waits until x-ratelimit-reset",
			nil, []fakeResponse{{Status: 429, Header: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": epoch(now.Add(2 * time.Minute))}}},
			[]time.Duration{2 * time.Minute}, "", "", 2},
		{"a reset already past waits a second",
			nil, []fakeResponse{{Status: 403, Header: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": epoch(now.Add(-time.Minute))}}},
			[]time.Duration{time.Second}, "", "", 2},
		{"secondary limit without headers backs off from a minute, doubling",
			nil, repeat(secondary, 3),
			[]time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute}, "", "", 4},
		{"429 without headers is a secondary limit",
			nil, []fakeResponse{{Status: 429, Message: "Too Many Requests"}},
			[]time.Duration{time.Minute}, "", "", 2},
		{"secondary back-off is capped at MaxWait",
			func(p RetryPolicy) RetryPolicy { p.MaxWait = 3 * time.Minute; return p }, repeat(secondary, 3),
			[]time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute}, "", "", 4},
		{"gives up after MaxAttempts tries",
			nil, repeat(secondary, 5),
			[]time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute}, preview.EUNAVAILABLE, "gave up after 5 tries", 5},
		{"MaxAttempts is configurable",
			func(p RetryPolicy) RetryPolicy { p.MaxAttempts = 2; return p }, repeat(secondary, 5),
			[]time.Duration{time.Minute}, preview.EUNAVAILABLE, "gave up after 2 tries", 2},
		{"a reset past MaxWait gives up at once",
			nil, []fakeResponse{{Status: 403, Message: "API rate limit exceeded", Header: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": epoch(now.Add(time.Hour))}}},
			nil, preview.EUNAVAILABLE, "until 2025-03-01T13:00:00Z", 1},
		{"a plain 403 is final",
			nil, []fakeResponse{{Status: 403, Message: "Resource not accessible by integration"}},
			nil, preview.EUNAUTHORIZED, "Resource not accessible by integration", 1},
		{"5xx answers back off from a second",
			nil, []fakeResponse{{Status: 502}, {Status: 503}},
			[]time.Duration{time.Second, 2 * time.Second}, "", "", 3},
		{"5xx answers give up after MaxAttempts tries",
			nil, repeat(fakeResponse{Status: 500}, 5),
			[]time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}, preview.EUNAVAILABLE, "500", 5},
		{"server back-off is configurable",
			func(p RetryPolicy) RetryPolicy { p.ServerBackoff = 10 * time.Second; return p }, repeat(fakeResponse{Status: 504}, 3),
			[]time.Duration{10 * time.Second, 20 * time.Second, 30 * time.Second}, "", "", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeGitHub(t, "")
			f.addPull(2, "open", "feature/a", "aaa111", "alice", "acme/shop", "acme/shop")
			f.respond("GET", "/repos/acme/shop/pulls/2", tt.answers...)
			clock := newFakeClock()
			policy := clock.policy()
			if tt.policy != nil {
				policy = tt.policy(policy)
			}
			c, err := NewClient(Config{BaseURL: f.URL(), Token: testToken, Render: render, Retry: policy})
			if err != nil {
				t.Fatal(err)
			}

			_, err = c.GetPullRequest(context.Background(), "acme/shop", 2)
			if got := preview.ErrorCode(err); got != tt.wantCode {
				t.Fatalf("ErrorCode = %q, want %q (err: %v)", got, tt.wantCode, err)
			}
			if err != nil && !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error = %q, want it to contain %q", err, tt.wantText)
			}
			if tt.wantCode == preview.EUNAVAILABLE && strings.Contains(tt.name, "gives up") && !strings.Contains(preview.ErrorMessage(err), "rate limit") {
				t.Errorf("ErrorMessage = %q, want it to say it was rate limited", preview.ErrorMessage(err))
			}
			if got := clock.recorded(); !slices.Equal(got, tt.wantWaits) {
				t.Errorf("waits = %v, want %v", got, tt.wantWaits)
			}
			if got := len(f.recorded()); got != tt.wantSent {
				t.Errorf("sent %d requests, want %d", got, tt.wantSent)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		base  time.Duration
		n     int
		limit time.Duration
		want  time.Duration
	}{
		{time.Minute, 0, time.Hour, time.Minute},
		{time.Minute, 3, time.Hour, 8 * time.Minute},
		{time.Minute, 10, 15 * time.Minute, 15 * time.Minute},
		{time.Second, 1000, 30 * time.Second, 30 * time.Second}, // no overflow
	}
	for _, tt := range tests {
		if got := backoff(tt.base, tt.n, tt.limit); got != tt.want {
			t.Errorf("backoff(%v, %d, %v) = %v, want %v", tt.base, tt.n, tt.limit, got, tt.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"30", 30 * time.Second, true},
		{" 0 ", 0, true},
		{"Sat, 01 Mar 2025 12:02:00 GMT", 2 * time.Minute, true},
		{"Sat, 01 Mar 2025 11:00:00 GMT", 0, true},
		{"", 0, false},
		{"-5", 0, false},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

// TestRateLimitHoldsTheInstallation checks that a limit past MaxWait stops
// every request until its reset without asking GitHub, and that a limit
// within MaxWait delays the next call.
func TestRateLimitHoldsTheInstallation(t *testing.T) {
	f := newFakeGitHub(t, "")
	f.addPull(2, "open", "feature/a", "aaa111", "alice", "acme/shop", "acme/shop")
	clock := newFakeClock()
	reset := clock.Now().Add(40 * time.Minute)
	f.respond("GET", "/repos/acme/shop/pulls/2", fakeResponse{Status: 403, Message: "API rate limit exceeded",
		Header: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": epoch(reset)}})
	c, err := NewClient(Config{BaseURL: f.URL(), Token: testToken, Render: render, Retry: clock.policy()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.GetPullRequest(ctx, "acme/shop", 2); preview.ErrorCode(err) != preview.EUNAVAILABLE {
		t.Fatalf("first call: err = %v, want code unavailable", err)
	}
	// Other calls on the same credentials are refused without a request.
	err = c.Reply(ctx, "acme/shop", 2, "hello")
	if preview.ErrorCode(err) != preview.EUNAVAILABLE || !strings.Contains(err.Error(), "request not sent") {
		t.Errorf("second call: err = %v, want unavailable, not sent", err)
	}
	wantRequests(t, f, "GET /repos/acme/shop/pulls/2")

	// 30 minutes on, the reset is 10 minutes away: within MaxWait, so the
	// next call waits for it and goes through.
	clock.advance(30 * time.Minute)
	if _, err := c.GetPullRequest(ctx, "acme/shop", 2); err != nil {
		t.Fatalf("after waiting: %v", err)
	}
	if got, want := clock.recorded(), []time.Duration{10 * time.Minute}; !slices.Equal(got, want) {
		t.Errorf("waits = %v, want %v", got, want)
	}
	wantRequests(t, f, "GET /repos/acme/shop/pulls/2", "GET /repos/acme/shop/pulls/2")
}

func TestRateLimitWaitEndsWithContext(t *testing.T) {
	f := newFakeGitHub(t, "")
	f.respond("GET", "/repos/acme/shop/pulls/2", fakeResponse{Status: 429, Header: map[string]string{"Retry-After": "30"}})
	c, err := NewClient(Config{BaseURL: f.URL(), Token: testToken, Render: render}) // the real clock
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.GetPullRequest(ctx, "acme/shop", 2)
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("returned after %v, want soon after the context ended", elapsed)
	}
	if !errors.Is(err, context.DeadlineExceeded) || preview.ErrorCode(err) != preview.EUNAVAILABLE {
		t.Errorf("err = %v, want context.DeadlineExceeded with code unavailable", err)
	}
}

// flakyTransport fails the requests for which fail returns an error.
type flakyTransport struct {
	n    atomic.Int32
	fail func(n int, r *http.Request) error
}

func (t *flakyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	n := int(t.n.Add(1))
	if err := t.fail(n, r); err != nil {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, err
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestNetworkErrors(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}
	tests := []struct {
		name      string
		err       error
		failures  int
		call      func(c *Client) error
		wantErr   bool
		wantWaits []time.Duration
	}{
		{"a read is retried after any network error", reset, 2,
			func(c *Client) error { _, err := c.GetPullRequest(context.Background(), "acme/shop", 2); return err },
			false, []time.Duration{time.Second, 2 * time.Second}},
		{"a create is retried when no connection was made", dial, 2,
			func(c *Client) error { return c.Reply(context.Background(), "acme/shop", 2, "hi") },
			false, []time.Duration{time.Second, 2 * time.Second}},
		{"a create is not resent after the connection broke", reset, 1,
			func(c *Client) error { return c.Reply(context.Background(), "acme/shop", 2, "hi") },
			true, nil},
		{"a read gives up after MaxAttempts", dial, 10,
			func(c *Client) error { _, err := c.GetPullRequest(context.Background(), "acme/shop", 2); return err },
			true, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeGitHub(t, "")
			f.addPull(2, "open", "feature/a", "aaa111", "alice", "acme/shop", "acme/shop")
			flaky := &flakyTransport{fail: func(n int, _ *http.Request) error {
				if n <= tt.failures {
					return tt.err
				}
				return nil
			}}
			clock := newFakeClock()
			c, err := NewClient(Config{BaseURL: f.URL(), Token: testToken, Render: render, Retry: clock.policy(),
				HTTPClient: &http.Client{Transport: flaky}})
			if err != nil {
				t.Fatal(err)
			}
			err = tt.call(c)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want an error: %v", err, tt.wantErr)
			}
			if err != nil && preview.ErrorCode(err) != preview.EUNAVAILABLE {
				t.Errorf("ErrorCode = %q, want unavailable (err: %v)", preview.ErrorCode(err), err)
			}
			if got := clock.recorded(); !slices.Equal(got, tt.wantWaits) {
				t.Errorf("waits = %v, want %v", got, tt.wantWaits)
			}
		})
	}
}

func TestCreateRetriedAfterRateLimit(t *testing.T) {
	f := newFakeGitHub(t, "")
	f.respond("POST", "/repos/acme/shop/issues/2/comments", fakeResponse{Status: 403, Message: secondaryMessage})
	clock := newFakeClock()
	c, err := NewClient(Config{BaseURL: f.URL(), Token: testToken, Render: render, Retry: clock.policy()})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Reply(context.Background(), "acme/shop", 2, "hello"); err != nil {
		t.Fatalf("Reply: %v", err)
	}
	wantRequests(t, f, "POST /repos/acme/shop/issues/2/comments", "POST /repos/acme/shop/issues/2/comments")
	if n := len(f.issueComments(2)); n != 1 {
		t.Errorf("comments = %d, want 1", n)
	}
	if got, want := clock.recorded(), []time.Duration{time.Minute}; !slices.Equal(got, want) {
		t.Errorf("waits = %v, want %v", got, want)
	}
}

// TestWritesAreSerialised checks that mutating calls on one set of
// credentials never overlap, while reads do not wait for them.
func TestWritesAreSerialised(t *testing.T) {
	var inFlight, most atomic.Int32
	release := make(chan struct{})
	slow := &flakyTransport{fail: func(_ int, r *http.Request) error {
		if r.Method == http.MethodPost {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			select {
			case <-release:
			case <-time.After(20 * time.Millisecond):
			}
		}
		return nil
	}}
	f := newFakeGitHub(t, "")
	f.addPull(2, "open", "feature/a", "aaa111", "alice", "acme/shop", "acme/shop")
	c, err := NewClient(Config{BaseURL: f.URL(), Token: testToken, Render: render, HTTPClient: &http.Client{Transport: slow}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := range 6 {
		wg.Go(func() {
			if i%2 == 0 {
				errs <- c.React(context.Background(), "acme/shop", 7, "+1")
			} else {
				errs <- c.Reply(context.Background(), "acme/shop", 2, "reply "+strconv.Itoa(i))
			}
		})
	}
	wg.Go(func() {
		_, err := c.GetPullRequest(context.Background(), "acme/shop", 2)
		errs <- err
	})
	wg.Wait()
	close(release)
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("call: %v", err)
		}
	}
	if got := most.Load(); got != 1 {
		t.Errorf("at most %d mutating requests were in flight at once, want 1", got)
	}
}

func TestLimiterWriteLockHonoursContext(t *testing.T) {
	l := newLimiter(RetryPolicy{})
	l.writes <- struct{}{} // another write holds the lock
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	err := l.do(ctx, write, func(context.Context) error { called = true; return nil })
	if !errors.Is(err, context.Canceled) || called {
		t.Errorf("do = %v (called %v), want context.Canceled without calling", err, called)
	}
}

func TestReadMessageLeavesBodyReadable(t *testing.T) {
	resp := &http.Response{StatusCode: 403, Body: io.NopCloser(strings.NewReader(`{"message":"secondary rate limit"}`))}
	if got := readMessage(resp); got != "secondary rate limit" {
		t.Errorf("readMessage = %q", got)
	}
	if data, _ := io.ReadAll(resp.Body); !strings.Contains(string(data), "secondary") {
		t.Errorf("body after readMessage = %q, want it intact", data)
	}
}
