package server

import (
	"errors"
	"io"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/semaphore"
)

// errBusy is returned when reading a body would pass the budget of webhook
// bytes in flight.
var errBusy = errors.New("too many webhook bytes in flight")

// The budget of webhook body bytes held at once, before signatures are
// checked. GitHub's deliveries are a few tens of kilobytes and always say
// their length; a body saying it has at most smallBodyLimit bytes draws on
// the small pool, a larger one, or one of unknown length, on the large
// pool, which holds two of the largest bodies GitHub sends. A flood of
// large bodies thus exhausts only the large pool, and normal deliveries go
// on being accepted beside it.
const (
	smallBodyLimit = 1 << 20
	smallBudget    = 16 << 20
	largeBudget    = 2 * (MaxWebhookBody + 1)
)

// bodyBudget bounds the memory unauthenticated senders can hold.
type bodyBudget struct {
	small, large *semaphore.Weighted
	reserved     prometheus.Gauge
}

func newBodyBudget(reserved prometheus.Gauge) *bodyBudget {
	return &bodyBudget{small: semaphore.NewWeighted(smallBudget), large: semaphore.NewWeighted(largeBudget), reserved: reserved}
}

// read reads req's body, at most MaxWebhookBody bytes, reserving its bytes
// from the budget before reading: as many as the request says it has, or a
// whole large buffer when it says more than smallBodyLimit or nothing. It
// never waits for the budget: when the bytes are not free it returns
// errBusy. The returned
// function gives the bytes back; it may be called more than once, and must
// be called even after an error.
func (b *bodyBudget) read(req *http.Request, w http.ResponseWriter) ([]byte, func(), error) {
	r := &reservation{budget: b}
	body, err := r.readAll(http.MaxBytesReader(w, req.Body, MaxWebhookBody), req.ContentLength)
	return body, r.release, err
}

// reservation is the bytes one body holds, from one pool.
type reservation struct {
	budget *bodyBudget
	pool   *semaphore.Weighted
	n      int64
	large  *[]byte // a buffer from largeBuffers, given back on release
}

// largeBuffers recycles the buffers of large bodies, each big enough for
// any body: a flood of large bodies reuses the few the large pool admits
// at once instead of leaving garbage behind each.
var largeBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, MaxWebhookBody+1)
	return &b
}}

// readAll reserves room for body, then reads it. length is the declared
// length, or -1. Room is one byte more than the body may have, so a body
// longer than it said (which net/http already prevents) or longer than
// MaxWebhookBody (which MaxBytesReader reports) is seen.
func (r *reservation) readAll(body io.Reader, length int64) ([]byte, error) {
	var buf []byte
	switch {
	case length >= 0 && length+1 <= smallBodyLimit:
		if !r.reserve(r.budget.small, length+1) {
			return nil, errBusy
		}
		buf = make([]byte, 0, length+1)
	default: // a large body, or one of unknown length: a whole large buffer
		if !r.reserve(r.budget.large, MaxWebhookBody+1) {
			return nil, errBusy
		}
		r.large = largeBuffers.Get().(*[]byte)
		buf = (*r.large)[:0]
	}
	for len(buf) < cap(buf) {
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		} else if err != nil {
			return nil, err
		}
	}
	return nil, &http.MaxBytesError{Limit: MaxWebhookBody}
}

// reserve takes n bytes of pool, if free.
func (r *reservation) reserve(pool *semaphore.Weighted, n int64) bool {
	if !pool.TryAcquire(n) {
		return false
	}
	r.pool, r.n = pool, n
	r.budget.reserved.Add(float64(n))
	return true
}

// release gives the reserved bytes back, and a large buffer to the pool:
// the body read into it must no longer be used.
func (r *reservation) release() {
	if r.large != nil {
		largeBuffers.Put(r.large)
		r.large = nil
	}
	if r.n == 0 {
		return
	}
	r.pool.Release(r.n)
	r.budget.reserved.Sub(float64(r.n))
	r.n = 0
}
