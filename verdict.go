package preview

import "slices"

// KeepLabel is the label that keeps an environment past its idle time (up
// to the maximum), as /preview keep does.
const KeepLabel = "preview:keep"

// Kept reports whether the environment is kept past its idle time: by
// /preview keep (or the dashboard, or the API) or by the label.
func (e Environment) Kept() bool {
	return e.Desired.Pinned || slices.Contains(e.Desired.Labels, KeepLabel)
}

// ParityVerdict is what is known of a ready environment's parity at its
// applied head: "ok", "drift", "error" (the check could not run), or
// "unchecked" (no check at this head yet).
func (e Environment) ParityVerdict() string {
	switch {
	case e.Parity.CheckedAt.IsZero() || e.Parity.SHA != e.AppliedSHA || e.Parity.Generation != e.AppliedGeneration:
		return "unchecked"
	case e.Parity.Error != "":
		return "error"
	case e.Parity.Status == ParityDrift:
		return "drift"
	default:
		return "ok"
	}
}
