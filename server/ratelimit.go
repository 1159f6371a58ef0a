package server

import (
	"container/list"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// logLimiter lets a log line through a few times a second and counts the
// ones it holds back, so the next line can say how many there were.
type logLimiter struct {
	limiter    *rate.Limiter
	now        func() time.Time
	suppressed atomic.Int64
}

func newLogLimiter(perSecond float64, burst int, now func() time.Time) *logLimiter {
	return &logLimiter{limiter: rate.NewLimiter(rate.Limit(perSecond), burst), now: now}
}

// allow reports whether a line may be logged now and, if so, how many were
// held back since the last one.
func (l *logLimiter) allow() (suppressed int64, ok bool) {
	if !l.limiter.AllowN(l.now(), 1) {
		l.suppressed.Add(1)
		return 0, false
	}
	return l.suppressed.Swap(0), true
}

// credentialLimiter bounds the wrong credentials each client may present
// (the login form's token, HTTP Basic, bearer tokens, on every route that
// takes them): a few, then one a minute. A client is an IPv4 address, or
// an IPv6 /64, which one subscriber commonly holds whole.
//
// It remembers at most max clients (credentialMaxClients), the least
// recently seen forgotten first, in O(1) a call. A forgotten client has had
// all its tries back unless max others presented credentials since its
// last failure, within the few minutes its tries take to come back: then
// the clients are too many for a limit per client to hold anyway.
type credentialLimiter struct {
	mu      sync.Mutex
	clients map[string]*list.Element // of *clientTries
	recent  list.List                // most recently seen first
	max     int
	now     func() time.Time
}

// clientTries is a client's tries: left at at, one more back every
// credentialEvery up to credentialBurst.
type clientTries struct {
	client string
	left   float64
	at     time.Time
}

const (
	credentialBurst      = 5
	credentialEvery      = time.Minute
	credentialMaxClients = 10000
)

func newCredentialLimiter(max int, now func() time.Time) *credentialLimiter {
	return &credentialLimiter{clients: map[string]*list.Element{}, max: max, now: now}
}

// try spends one of client's tries and returns the function that gives it
// back, for a credential that proves right: only failures count, and
// concurrent guesses each spend one before any is checked. When client has
// no try left, try returns nil and how long until it has one.
func (l *credentialLimiter) try(client string) (giveBack func(), wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	c := l.client(client, now)
	if now.After(c.at) {
		c.left = min(credentialBurst, c.left+float64(now.Sub(c.at))/float64(credentialEvery))
		c.at = now
	}
	if c.left < 1 {
		return nil, time.Duration((1 - c.left) * float64(credentialEvery))
	}
	c.left--
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		c.left = min(credentialBurst, c.left+1)
	}, 0
}

// client returns client's tries, seen now: remembered, or new with every
// try, forgetting the client seen least recently when l holds max.
func (l *credentialLimiter) client(client string, now time.Time) *clientTries {
	if e := l.clients[client]; e != nil {
		l.recent.MoveToFront(e)
		return e.Value.(*clientTries)
	}
	if len(l.clients) >= l.max {
		oldest := l.recent.Back()
		l.recent.Remove(oldest)
		delete(l.clients, oldest.Value.(*clientTries).client)
	}
	c := &clientTries{client: client, left: credentialBurst, at: now}
	l.clients[client] = l.recent.PushFront(c)
	return c
}

// clientOf is whom r's credentials count against: the connection's
// address, never a header a client chooses; of an IPv6 address, its /64.
func clientOf(r *http.Request) string {
	host := clientAddr(r)
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is4() {
		return ip.String()
	}
	prefix, err := ip.Prefix(64)
	if err != nil {
		return host
	}
	return prefix.String()
}
