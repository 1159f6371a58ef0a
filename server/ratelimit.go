package server

import (
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
