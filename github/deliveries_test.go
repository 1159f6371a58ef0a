package github

import (
	"context"
	"slices"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
)

// TestHookDeliveriesAndRedeliver lists the App's delivery log over several
// cursor pages, stopping at the first attempt older than asked, and asks
// for a redelivery, with the App's JWT; every request is checked against
// GitHub's OpenAPI description.
func TestHookDeliveriesAndRedeliver(t *testing.T) {
	f := newFakeGitHub(t, "")
	f.maxPage = 2
	now := time.Now().Truncate(time.Second)
	for i := range 5 {
		f.addHookDelivery(int64(i+1), "guid-"+string(rune('a'+i)), "pull_request", 202, now.Add(time.Duration(i-10)*time.Hour), false)
	}
	c := newTestApp(t, f, map[int64][]string{7: {"acme/shop"}}, newFakeClock())
	ctx := context.Background()
	got, err := c.HookDeliveries(ctx, now.Add(-8*time.Hour)) // the three newest
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, d := range got {
		ids = append(ids, d.ID)
	}
	if !slices.Equal(ids, []int64{5, 4, 3}) || got[0].GUID != "guid-e" || got[0].StatusCode != 202 || !got[0].DeliveredAt.Equal(now.Add(-6*time.Hour)) {
		t.Errorf("deliveries %v (%+v), want 5, 4, 3", ids, got)
	}
	if err := c.Redeliver(ctx, 4); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.redeliveries, []int64{4}) {
		t.Errorf("redeliveries %v, want [4]", f.redeliveries)
	}
	for _, r := range f.recorded() {
		if r.Auth != "jwt" {
			t.Errorf("%s %s authenticated as %q, want the App's JWT", r.Method, r.Path, r.Auth)
		}
	}
	if _, err := newTestClient(t, newFakeGitHub(t, ""), nil).HookDeliveries(ctx, now); preview.ErrorCode(err) != preview.EINVALID {
		t.Errorf("token mode: %v, want invalid", err)
	}
}
