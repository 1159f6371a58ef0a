package github

import (
	"testing"
	"time"

	preview "github.com/previewd/previewd"
)

// TestCommentData: the comment shows a parity report only once checked,
// the checks it waits for only at the head, and a cost in whole hours so
// far once the environment has lived, by the repository's price.
func TestCommentData(t *testing.T) {
	pricing := preview.Pricing{Repos: map[string]preview.Price{"acme/shop": {Hourly: 2, Currency: "€"}}}
	link := func(id string) string { return "https://previewd.example/logs/" + id }
	env := preview.Environment{Name: "shop-7", Repo: "acme/shop", HeadSHA: "abc", LastRunID: "r1",
		Checks: preview.Checks{SHA: "old", Waiting: []string{"ci"}}}
	d := CommentData(env, link, pricing)
	if d.Parity != nil || d.WaitingFor != nil || d.Cost != nil || d.LogURL != "https://previewd.example/logs/r1" {
		t.Errorf("before a check, a wait at the head or a life: %+v", d)
	}
	env.Checks.SHA = "abc"
	env.LiveSince = time.Now().Add(-90 * time.Minute)
	env.Parity = preview.ParityReport{CheckedAt: time.Now(), Status: preview.ParityDrift,
		Findings: []preview.Finding{{Kind: preview.FindingVariable, Subject: "replicas"}, {Kind: preview.FindingVariable, Subject: "size", Declared: true}}}
	d = CommentData(env, link, pricing)
	if len(d.WaitingFor) != 1 || d.Parity == nil || d.Parity.OK || d.Parity.Undeclared != 1 || len(d.Parity.Findings) != 2 {
		t.Errorf("waiting and parity: %+v %+v", d.WaitingFor, d.Parity)
	}
	if d.Cost == nil || d.Cost.Currency != "€" || d.Cost.SoFar != 2 {
		t.Errorf("cost after an hour and a half at 2 an hour: %+v, want 2 (whole hours)", d.Cost)
	}
	if d := CommentData(env, link, preview.Pricing{}); d.Cost != nil {
		t.Errorf("a cost without a price: %+v", d.Cost)
	}
}
