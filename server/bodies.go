package server

import (
	"errors"
	"io"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/semaphore"
)

// errBusy is returned when reading a body would pass the budget of webhook
// bytes in flight.
var errBusy = errors.New("too many webhook bytes in flight")

// The budget of webhook body bytes held at once, before signatures are
// checked. GitHub's deliveries are a few tens of kilobytes; a body of up
// to smallBodyLimit draws on the small pool, a larger one on the large
// pool, which holds two of the largest bodies GitHub sends. A flood of
// large bodies thus exhausts only the large pool, and normal deliveries go
// on being accepted beside it.
const (
	smallBodyLimit = 1 << 20
	smallBudget    = 32 << 20
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
// from the budget as it goes: all of them at once when the request says
// its length, in growing steps when it does not. It never waits for the
// budget: when the bytes are not free it returns errBusy. The returned
// function gives the bytes back; it may be called more than once, and must
// be called even after an error.
func (b *bodyBudget) read(req *http.Request, w http.ResponseWriter) ([]byte, func(), error) {
	r := &reservation{budget: b}
	body, err := r.readAll(http.MaxBytesReader(w, req.Body, MaxWebhookBody), req.ContentLength)
	return body, r.release, err
}

// reservation is the bytes one body holds, all from one pool.
type reservation struct {
	budget *bodyBudget
	pool   *semaphore.Weighted
	n      int64
}

// readAll reads body into a buffer whose capacity is always reserved.
// length is the declared length, or -1.
func (r *reservation) readAll(body io.Reader, length int64) ([]byte, error) {
	var buf []byte
	if length >= 0 {
		if err := r.grow(length + 1); err != nil { // +1: room to see the end
			return nil, err
		}
		buf = make([]byte, 0, length+1)
	}
	for {
		if len(buf) == cap(buf) {
			next := min(max(2*int64(cap(buf)), 64<<10), MaxWebhookBody+1)
			if next == int64(cap(buf)) { // only MaxBytesReader's error can end a full buffer
				return nil, &http.MaxBytesError{Limit: MaxWebhookBody}
			}
			if err := r.grow(next); err != nil {
				return nil, err
			}
			grown := make([]byte, len(buf), next)
			copy(grown, buf)
			buf = grown
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		} else if err != nil {
			return nil, err
		}
	}
}

// grow makes the reservation total bytes, moving it to the large pool once
// it passes smallBodyLimit.
func (r *reservation) grow(total int64) error {
	if total <= r.n {
		return nil
	}
	pool := r.budget.small
	if total > smallBodyLimit {
		pool = r.budget.large
	}
	if pool == r.pool {
		if !pool.TryAcquire(total - r.n) {
			return errBusy
		}
		r.budget.reserved.Add(float64(total - r.n))
		r.n = total
		return nil
	}
	if !pool.TryAcquire(total) {
		return errBusy
	}
	r.release()
	r.budget.reserved.Add(float64(total))
	r.pool, r.n = pool, total
	return nil
}

// release gives the reserved bytes back.
func (r *reservation) release() {
	if r.n == 0 {
		return
	}
	r.pool.Release(r.n)
	r.budget.reserved.Sub(float64(r.n))
	r.n = 0
}
