package controller_test

import (
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/internal/waittest"
)

func TestLiveDriftIsReportedAndOptionallyApplied(t *testing.T) {
	chk := &fakeChecker{reapply: true}
	h, applies := startChecked(t, chk)
	name := h.open(1, "a", time.Now())
	h.waitFor(name, "checked", func(e preview.Environment) bool { return e.Parity.SHA == "a" && e.Status == preview.StatusReady })
	chk.mu.Lock()
	chk.drift = []string{"terraform_data.web[0]: input"}
	chk.mu.Unlock()
	env := h.waitFor(name, "drift recorded", func(e preview.Environment) bool { return e.Drifted })
	found := false
	for _, f := range env.Parity.Findings {
		found = found || f.Kind == preview.FindingLiveDrift && f.Subject == "terraform_data.web[0]: input" && !f.Declared
	}
	if !found || env.Parity.Status != preview.ParityDrift {
		t.Errorf("report: got %+v, want an undeclared live_drift finding and drift", env.Parity)
	}
	chk.mu.Lock()
	chk.drift = nil
	chk.mu.Unlock()
	waittest.For(t, "re-applied over the drift", applies.Load, func(n int32) bool { return n >= 2 })
	h.waitFor(name, "drift cleared", func(e preview.Environment) bool { return !e.Drifted && e.Status == preview.StatusReady })
}
