package github

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v60/github"

	preview "github.com/previewd/previewd"
)

// The rules below follow GitHub's documentation of its REST rate limits
// ("Rate limits for the REST API" and "Best practices for using the REST
// API"): honour retry-after, wait for x-ratelimit-reset when
// x-ratelimit-remaining is 0, otherwise wait at least a minute and back off
// exponentially, and make mutating requests one at a time.
//
// They are applied around each go-github call rather than in an
// http.RoundTripper: a wait there would count against http.Client.Timeout,
// would resend a request signed with an installation token that may have
// expired during a long wait, and could not tell a request that creates
// something (never resent after GitHub may have acted on it) from one that
// is safe to repeat. go-github's own pre-emptive rate-limit check is turned
// off so that this is the only place that decides.

// Defaults of RetryPolicy.
const (
	DefaultMaxAttempts   = 5
	DefaultServerBackoff = time.Second
	DefaultMaxWait       = 15 * time.Minute
)

// SecondaryRateLimitBackoff is the first wait after a secondary rate limit
// that names no time to wait; it doubles on each further one. GitHub asks
// for at least a minute.
const SecondaryRateLimitBackoff = time.Minute

// maxServerBackoff caps the wait between retries of 5xx answers and network
// errors.
const maxServerBackoff = 30 * time.Second

// RetryPolicy says how a Client rides out rate limits, server errors and
// network errors. The zero value means the defaults.
type RetryPolicy struct {
	// MaxAttempts bounds the tries of one request, the first one included:
	// DefaultMaxAttempts when zero or negative.
	MaxAttempts int
	// ServerBackoff is the wait after a 5xx answer or a network error,
	// doubled on each further try (at most 30 s): DefaultServerBackoff when
	// zero.
	ServerBackoff time.Duration
	// MaxWait is the longest previewd waits at once for a rate limit to
	// lift: DefaultMaxWait when zero. When GitHub's reset is further away
	// the call fails at once with code preview.EUNAVAILABLE, and so does
	// every call to the same installation until then, without a request, so
	// a caller never holds a worker for the better part of an hour.
	MaxWait time.Duration
	// Now is the clock: time.Now when nil.
	Now func() time.Time
	// Sleep waits d, or less when ctx is done, and then returns ctx.Err():
	// a timer when nil. Tests inject both to check the waits chosen.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.ServerBackoff <= 0 {
		p.ServerBackoff = DefaultServerBackoff
	}
	if p.MaxWait <= 0 {
		p.MaxWait = DefaultMaxWait
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Sleep == nil {
		p.Sleep = sleep
	}
	return p
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// callKind says how a request may be retried and whether it is serialised.
type callKind int

const (
	// read is a GET: retried on rate limits, 5xx and network errors.
	read callKind = iota
	// write changes something and is safe to repeat (a status, a reaction,
	// an edit to the same body): serialised and retried like a read.
	write
	// create makes a new object (a comment, a deployment): serialised, and
	// after a 5xx answer or a network error retried only when the request
	// certainly never reached GitHub, so it is never created twice. Callers
	// find what a lost answer created on their next pass.
	create
)

// limiter applies GitHub's rate-limit rules to the requests of one
// installation (or of the one token in token mode).
type limiter struct {
	policy RetryPolicy
	writes chan struct{} // holds a token while a mutating call runs

	// onTokenRefused, when set, is called when GitHub refuses the
	// installation a token (401, 403 or 404): the App was uninstalled or
	// suspended.
	onTokenRefused func()

	mu    sync.Mutex
	until time.Time // no request is sent before until
}

func newLimiter(policy RetryPolicy) *limiter {
	return &limiter{policy: policy.withDefaults(), writes: make(chan struct{}, 1)}
}

// do runs fn, which makes one go-github call, until it succeeds, fails for
// good, or runs out of tries. Mutating kinds hold the installation's write
// lock throughout, waits included. It blocks for the waits GitHub asks for,
// each at most MaxWait, and returns early when ctx is done. A request
// refused for a rate limit, finally, returns a *rateLimitError.
func (l *limiter) do(ctx context.Context, kind callKind, fn func(context.Context) error) error {
	if kind != read {
		select {
		case l.writes <- struct{}{}:
			defer func() { <-l.writes }()
		case <-ctx.Done():
			return fmt.Errorf("wait for other writes to GitHub: %w", ctx.Err())
		}
	}
	secondary, server := 0, 0
	for attempt := 1; ; attempt++ {
		if err := l.waitOpen(ctx); err != nil {
			return err
		}
		err := fn(ctx)
		if err == nil || ctx.Err() != nil {
			return err
		}
		l.checkTokenRefused(err)
		v := l.judge(err)
		switch {
		case v.final:
			return err
		case v.rateLimited:
			if attempt >= l.policy.MaxAttempts {
				return &rateLimitError{attempts: attempt, err: err}
			}
			until := v.until
			if until.IsZero() {
				until = l.policy.Now().Add(backoff(SecondaryRateLimitBackoff, secondary, max(l.policy.MaxWait, SecondaryRateLimitBackoff)))
				secondary++
			}
			if until.Sub(l.policy.Now()) > l.policy.MaxWait {
				l.block(until)
				return &rateLimitError{attempts: attempt, until: until, err: err}
			}
			l.block(until)
		default: // a 5xx answer or a network error
			if attempt >= l.policy.MaxAttempts || kind == create && !neverSent(err) {
				return err
			}
			wait := backoff(l.policy.ServerBackoff, server, maxServerBackoff)
			server++
			if serr := l.policy.Sleep(ctx, wait); serr != nil {
				return fmt.Errorf("%w (retry abandoned: %w)", err, serr)
			}
		}
	}
}

// backoff returns base doubled n times, at most limit.
func backoff(base time.Duration, n int, limit time.Duration) time.Duration {
	d := base
	for range n {
		if d >= limit {
			break
		}
		d *= 2
	}
	return min(d, limit)
}

// checkTokenRefused calls onTokenRefused when err is GitHub refusing an
// installation token.
func (l *limiter) checkTokenRefused(err error) {
	var token *ghinstallation.HTTPError
	if l.onTokenRefused == nil || !errors.As(err, &token) || token.Response == nil {
		return
	}
	switch token.Response.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		l.onTokenRefused()
	}
}

// waitOpen waits until the installation may be asked again, or returns a
// *rateLimitError at once when that is more than MaxWait away.
func (l *limiter) waitOpen(ctx context.Context) error {
	l.mu.Lock()
	until := l.until
	l.mu.Unlock()
	wait := until.Sub(l.policy.Now())
	if wait <= 0 {
		return nil
	}
	if wait > l.policy.MaxWait {
		return &rateLimitError{until: until}
	}
	if err := l.policy.Sleep(ctx, wait); err != nil {
		return &rateLimitError{until: until, err: err}
	}
	return nil
}

// block holds every request of the installation back until until.
func (l *limiter) block(until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if until.After(l.until) {
		l.until = until
	}
}

// verdict is what a failed call calls for.
type verdict struct {
	final       bool      // return the error as it is
	rateLimited bool      // wait until until (zero: back off) and try again
	until       time.Time // when GitHub said to come back
}

// judge reads GitHub's answer in err: a rate limit (and until when), a
// server or network error worth another try, or a final answer.
func (l *limiter) judge(err error) verdict {
	resp, message := responseOf(err)
	if resp == nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			return verdict{} // a network error: retry
		}
		return verdict{final: true}
	}
	status := resp.StatusCode
	switch {
	case status == http.StatusForbidden || status == http.StatusTooManyRequests:
		now := l.policy.Now()
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), now); ok {
			return verdict{rateLimited: true, until: now.Add(d)}
		}
		if resp.Header.Get("X-RateLimit-Remaining") == "0" {
			if reset, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil {
				until := time.Unix(reset, 0)
				if !until.After(now) {
					until = now.Add(time.Second) // the reset has passed (clock skew): a short pause
				}
				return verdict{rateLimited: true, until: until}
			}
		}
		if status == http.StatusTooManyRequests || strings.Contains(strings.ToLower(message), "rate limit") {
			return verdict{rateLimited: true} // a secondary rate limit that names no time
		}
		return verdict{final: true}
	case status >= 500:
		return verdict{}
	default:
		return verdict{final: true}
	}
}

// parseRetryAfter reads a Retry-After value: seconds, or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// responseOf returns GitHub's answer carried by err and its message, or nil
// when err carries none (a network error, a cancelled context). An answer to
// an installation-token request is read and closed here: ghinstallation
// leaves its body open for the caller.
func responseOf(err error) (*http.Response, string) {
	var (
		rate  *gh.RateLimitError
		abuse *gh.AbuseRateLimitError
		resp  *gh.ErrorResponse
		token *ghinstallation.HTTPError
	)
	switch {
	case errors.As(err, &rate):
		return rate.Response, rate.Message
	case errors.As(err, &abuse):
		return abuse.Response, abuse.Message
	case errors.As(err, &resp):
		return resp.Response, resp.Message
	case errors.As(err, &token) && token.Response != nil:
		return token.Response, readMessage(token.Response)
	}
	return nil, ""
}

// readMessage returns the "message" of a GitHub error body and leaves the
// body readable again, closed underneath.
func readMessage(resp *http.Response) string {
	if resp.Body == nil {
		return ""
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(data))
	var e struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(data, &e)
	return e.Message
}

// neverSent reports whether a failed request certainly never reached
// GitHub: its installation token could not be had, or no connection was
// made.
func neverSent(err error) bool {
	var token *ghinstallation.HTTPError
	if errors.As(err, &token) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// rateLimitError is returned when GitHub's rate limit outlasts the tries or
// the longest wait. Its code is preview.EUNAVAILABLE.
type rateLimitError struct {
	attempts int       // requests sent; 0 when none was
	until    time.Time // when GitHub said the limit lifts; zero if it did not
	err      error     // the last answer, or why the wait ended; may be nil
}

func (e *rateLimitError) Error() string {
	msg := "GitHub rate limit exceeded"
	switch {
	case e.attempts == 0 && !e.until.IsZero():
		msg += fmt.Sprintf(" until %s; request not sent", e.until.UTC().Format(time.RFC3339))
	case !e.until.IsZero():
		msg += fmt.Sprintf(" until %s, past the longest wait", e.until.UTC().Format(time.RFC3339))
	default:
		msg += fmt.Sprintf("; gave up after %d tries", e.attempts)
	}
	if e.err != nil {
		msg += ": " + e.err.Error()
	}
	return msg
}

func (e *rateLimitError) Unwrap() error { return e.err }

// code is the previewd error rateLimitError stands for.
func (e *rateLimitError) code() *preview.Error {
	if e.attempts > 0 && e.until.IsZero() {
		return preview.Errorf(preview.EUNAVAILABLE, "GitHub rate limit exceeded; gave up after %d tries", e.attempts)
	}
	return preview.Errorf(preview.EUNAVAILABLE, "GitHub rate limit exceeded until %s", e.until.UTC().Format(time.RFC3339))
}
