package server

import (
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

// loginLimiter bounds the failed logins each client address may make: a
// few, then one a minute. It forgets every address when it holds too many,
// so a flood of addresses costs bounded memory.
type loginLimiter struct {
	mu      sync.Mutex
	clients map[string]*rate.Limiter
	now     func() time.Time
}

const (
	loginBurst      = 5
	loginEvery      = time.Minute
	loginMaxClients = 10000
)

func newLoginLimiter(now func() time.Time) *loginLimiter {
	return &loginLimiter{clients: map[string]*rate.Limiter{}, now: now}
}

// try spends one of client's tries, or returns nil when it has none
// left. A login that succeeds gives its try back (Cancel on the
// reservation): only failures count, and concurrent guesses each spend
// one before any is checked.
func (l *loginLimiter) try(client string) *rate.Reservation {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.clients[client]
	if lim == nil {
		if len(l.clients) >= loginMaxClients {
			l.forgetRested()
		}
		lim = rate.NewLimiter(rate.Every(loginEvery), loginBurst)
		l.clients[client] = lim
	}
	now := l.now()
	r := lim.ReserveN(now, 1)
	if !r.OK() || r.DelayFrom(now) > 0 {
		r.CancelAt(now)
		return nil
	}
	return r
}

// forgetRested forgets the clients whose tries are all back: forgetting
// one that still has tries to recover would hand it new ones.
func (l *loginLimiter) forgetRested() {
	now := l.now()
	for client, lim := range l.clients {
		if lim.TokensAt(now) >= loginBurst {
			delete(l.clients, client)
		}
	}
}
