package preview

import (
	"slices"
	"time"
)

// How long an environment lives without activity. Activity (a push, a
// reopening, a redeploy, an approval) moves its expiry TTL ahead and the
// most a kept environment lives MaxKeep ahead; an operator's extension
// pushes the expiry back within that; the expiry service tears down what
// Expired says.

// KeepLabel is the label that keeps an environment past its idle time (up
// to the maximum), as /preview keep does.
const KeepLabel = "preview:keep"

// Kept reports whether the environment is kept past its idle time: by
// /preview keep (or the dashboard, or the API) or by the label.
func (e Environment) Kept() bool {
	return e.Desired.Pinned || slices.Contains(e.Desired.Labels, KeepLabel)
}

// Touch records activity on e at now: it expires ttl later, or, kept,
// maxKeep later (never before its expiry).
func (e *Environment) Touch(now time.Time, ttl, maxKeep time.Duration) {
	e.ExpiresAt = now.Add(ttl)
	e.KeepUntil = keepLimit(now, maxKeep)
}

// Extend pushes e's expiry back by d, from now when it has passed, but
// never further than maxKeep from now.
func (e *Environment) Extend(now time.Time, d, maxKeep time.Duration) {
	base := e.ExpiresAt
	if base.Before(now) {
		base = now
	}
	e.ExpiresAt = base.Add(d)
	if limit := keepLimit(now, maxKeep); e.ExpiresAt.After(limit) {
		e.ExpiresAt = limit
	}
}

// BackfillKeepUntil gives an environment stored before previewd recorded
// KeepUntil the limit the earlier rule gave it: maxKeep after its last
// activity, which was ttl before its expiry. Without it, a kept
// environment would never expire.
func (e *Environment) BackfillKeepUntil(ttl, maxKeep time.Duration) {
	if e.KeepUntil.IsZero() && !e.ExpiresAt.IsZero() {
		e.KeepUntil = keepLimit(e.ExpiresAt.Add(-ttl), maxKeep)
	}
}

// keepLimit is the longest anything keeps an environment asked for at now:
// maxKeep later.
func keepLimit(now time.Time, maxKeep time.Duration) time.Time { return now.Add(maxKeep) }

// Expired reports whether e has been idle too long at now: past ExpiresAt,
// or, kept, past KeepUntil too (see BackfillKeepUntil for records that have
// none). An environment that never had activity (no ExpiresAt) never
// expires.
func (e Environment) Expired(now time.Time) bool {
	if e.ExpiresAt.IsZero() || !now.After(e.ExpiresAt) {
		return false
	}
	if !e.Kept() {
		return true
	}
	return !e.KeepUntil.IsZero() && now.After(e.KeepUntil)
}
