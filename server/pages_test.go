package server_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestListPages(t *testing.T) {
	f := newFixture(t, nil)
	for i := range 7 {
		body := prPayload("opened", i+1, fmt.Sprintf("page/%d", i), "abc", time.Now())
		f.deliver(t, "pull_request", fmt.Sprintf("p-%d", i), body, sign(body))
	}
	var names []string
	path := "/api/v1/environments?limit=3&live=true"
	for pages := 0; path != ""; pages++ {
		if pages > 5 {
			t.Fatal("too many pages")
		}
		resp, raw := f.api(t, "GET", path, token)
		var envs []struct{ Name string }
		if err := json.Unmarshal(raw, &envs); err != nil || resp.StatusCode != 200 || len(envs) > 3 {
			t.Fatalf("%s: got %d %s", path, resp.StatusCode, raw)
		}
		for _, e := range envs {
			names = append(names, e.Name)
		}
		path = ""
		if next := resp.Header.Get("X-Next-Cursor"); next != "" {
			link := resp.Header.Get("Link")
			if !strings.Contains(link, "cursor="+next) || !strings.Contains(link, `rel="next"`) || !strings.Contains(link, "limit=3") {
				t.Errorf("Link: got %q, want the next page with cursor %s", link, next)
			}
			path = "/api/v1/environments?limit=3&live=true&cursor=" + next
		}
	}
	want := []string{"page-0", "page-1", "page-2", "page-3", "page-4", "page-5", "page-6"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("pages gave %v, want %v", names, want)
	}
	for _, q := range []string{"?limit=0", "?limit=1001", "?limit=x", "?cursor=Not_A_Name"} {
		if resp, raw := f.api(t, "GET", "/api/v1/environments"+q, token); resp.StatusCode != 400 {
			t.Errorf("%s: got %d %s, want 400", q, resp.StatusCode, raw)
		}
	}
}
