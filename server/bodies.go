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
// checked. GitHub's deliveries are a few tens of kilobytes; a body saying
// it has less than smallBodyLimit bytes draws on the small pool, a larger
// one on the large pool, which holds two of the largest bodies GitHub
// sends. A flood of large bodies thus exhausts only the large pool, and
// normal deliveries go on being accepted beside it.
//
// A body that does not say its length (some relays forward deliveries
// chunked) is read into the small pool as it comes, unknownStep bytes at
// first and twice as many each time it fills them, and moves to the large
// pool only once it outgrows smallBodyLimit. Such bodies may hold at most
// unknownBudget of the small pool, so that a flood of them leaves room for
// the deliveries that say their length.
const (
	smallBodyLimit = 1 << 20
	smallBudget    = 16 << 20
	unknownStep    = 64 << 10 // smallBodyLimit is unknownStep doubled a few times
	unknownBudget  = smallBudget / 2
	largeBudget    = 2 * (MaxWebhookBody + 1)
)

// bodyBudget bounds the memory unauthenticated senders can hold.
type bodyBudget struct {
	small, unknown, large *semaphore.Weighted
	reserved              prometheus.Gauge
}

func newBodyBudget(reserved prometheus.Gauge) *bodyBudget {
	return &bodyBudget{
		small: semaphore.NewWeighted(smallBudget), unknown: semaphore.NewWeighted(unknownBudget),
		large: semaphore.NewWeighted(largeBudget), reserved: reserved,
	}
}

// read reads req's body, at most MaxWebhookBody bytes, reserving its bytes
// from the budget before reading them: as many as the request says it
// has, or for a body of unknown length as much as has come, in steps. It
// never waits for the budget: when the bytes are not free it returns
// errBusy. toLarge, if not nil, is called when a body of unknown length
// moves to the large pool. The returned function gives the bytes back; it
// may be called more than once, and must be called even after an error.
func (b *bodyBudget) read(req *http.Request, w http.ResponseWriter, toLarge func()) ([]byte, func(), error) {
	r := &reservation{budget: b}
	body, err := r.readAll(http.MaxBytesReader(w, req.Body, MaxWebhookBody), req.ContentLength, toLarge)
	return body, r.release, err
}

// reservation is the bytes one body holds, by pool. Bytes of the unknown
// pool are held from the small pool too.
type reservation struct {
	budget                *bodyBudget
	small, unknown, large int64
	buffer                *[]byte // a buffer from largeBuffers, given back on release
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
func (r *reservation) readAll(body io.Reader, length int64, toLarge func()) ([]byte, error) {
	switch {
	case length >= smallBodyLimit:
		return r.readLarge(body, nil)
	case length >= 0:
		if !r.reserveSmall(length+1, false) {
			return nil, errBusy
		}
		buf, full, err := fill(body, make([]byte, 0, length+1))
		if full {
			return nil, &http.MaxBytesError{Limit: MaxWebhookBody}
		}
		return buf, err
	}
	var buf []byte
	for size := int64(unknownStep); size <= smallBodyLimit; size *= 2 {
		if !r.reserveSmall(size-int64(cap(buf)), true) {
			return nil, errBusy
		}
		grown := make([]byte, len(buf), size)
		copy(grown, buf)
		var full bool
		var err error
		if buf, full, err = fill(body, grown); err != nil || !full {
			return buf, err
		}
	}
	if toLarge != nil {
		toLarge()
	}
	return r.readLarge(body, buf)
}

// readLarge reserves a whole large buffer, moves what was read so far into
// it (giving back its bytes of the small pool), and reads the rest.
func (r *reservation) readLarge(body io.Reader, read []byte) ([]byte, error) {
	if !r.budget.large.TryAcquire(MaxWebhookBody + 1) {
		return nil, errBusy
	}
	r.large = MaxWebhookBody + 1
	r.budget.reserved.Add(float64(r.large))
	r.buffer = largeBuffers.Get().(*[]byte)
	buf := append((*r.buffer)[:0], read...)
	r.releaseSmall()
	buf, full, err := fill(body, buf)
	if full {
		return nil, &http.MaxBytesError{Limit: MaxWebhookBody}
	}
	return buf, err
}

// fill reads body into buf until the body ends or buf is full, which full
// reports.
func fill(body io.Reader, buf []byte) (_ []byte, full bool, _ error) {
	for len(buf) < cap(buf) {
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, false, nil
		} else if err != nil {
			return nil, false, err
		}
	}
	return buf, true, nil
}

// reserveSmall takes n more bytes of the small pool, if free; of unknown
// length, the body takes them of the unknown pool too.
func (r *reservation) reserveSmall(n int64, unknown bool) bool {
	if unknown {
		if !r.budget.unknown.TryAcquire(n) {
			return false
		}
		r.unknown += n
	}
	if !r.budget.small.TryAcquire(n) {
		return false
	}
	r.small += n
	r.budget.reserved.Add(float64(n))
	return true
}

// releaseSmall gives back the bytes held from the small pool.
func (r *reservation) releaseSmall() {
	if r.unknown > 0 {
		r.budget.unknown.Release(r.unknown)
		r.unknown = 0
	}
	if r.small > 0 {
		r.budget.small.Release(r.small)
		r.budget.reserved.Sub(float64(r.small))
		r.small = 0
	}
}

// release gives the reserved bytes back, and a large buffer to the pool:
// the body read into it must no longer be used.
func (r *reservation) release() {
	r.releaseSmall()
	if r.buffer != nil {
		largeBuffers.Put(r.buffer)
		r.buffer = nil
	}
	if r.large > 0 {
		r.budget.large.Release(r.large)
		r.budget.reserved.Sub(float64(r.large))
		r.large = 0
	}
}
