package preview

import (
	"testing"
	"time"
)

func TestParityVerdictAndKept(t *testing.T) {
	at := time.Unix(1, 0)
	applied := Environment{AppliedSHA: "a", AppliedGeneration: 2}
	for want, p := range map[ParityStatus]ParityReport{
		"unchecked": {},
		"ok":        {Status: ParityOK, CheckedAt: at, SHA: "a", Generation: 2},
		"drift":     {Status: ParityDrift, CheckedAt: at, SHA: "a", Generation: 2},
		"error":     {Error: "boom", CheckedAt: at, SHA: "a", Generation: 2},
	} {
		e := applied
		e.Parity = p
		if got := e.ParityVerdict(); got != want {
			t.Errorf("%+v: %q, want %q", p, got, want)
		}
	}
	stale := applied
	stale.Parity = ParityReport{Status: ParityOK, CheckedAt: at, SHA: "older", Generation: 2}
	if got := stale.ParityVerdict(); got != "unchecked" {
		t.Errorf("a check of an older head: %q, want unchecked", got)
	}
	if (Environment{}).Kept() || !(Environment{Desired: Desired{Pinned: true}}).Kept() || !(Environment{Desired: Desired{Labels: []string{KeepLabel}}}).Kept() {
		t.Error("Kept: the pin or the label keeps, nothing else")
	}
}
