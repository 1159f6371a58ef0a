package server_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/internal/browsertest"
)

// TestProductionPageInABrowser drives the production page in a real
// Chromium: log in, follow the list's link, read the last watch's
// findings (a value from production with markup stays text), ask for a
// look now with the page's form, and fit a phone's screen. It writes a
// screenshot of the page as .cache/screenshots/production.png.
func TestProductionPageInABrowser(t *testing.T) {
	ctx := browsertest.Chromium(t)
	f := newProductionFixture(t)
	t0 := time.Now().UTC().Add(-7 * time.Hour).Truncate(time.Second)
	watch := driftWatch(t0.Add(6 * time.Hour))
	watch.Findings = append(watch.Findings, preview.ProductionFinding{Kind: preview.ProductionChangedOutside, Address: "local_file.banner", Path: "content",
		Live: `<img src=x onerror="document.title='owned'">`, Module: "welcome", Where: "files.tf:9"})
	for _, w := range []preview.ProductionWatch{
		{Repo: "acme/shop", At: t0, Took: 2 * time.Second, Error: "read production's state: the backend did not answer"},
		watch,
	} {
		if err := f.db.RecordProductionWatch(context.Background(), w); err != nil {
			t.Fatal(err)
		}
	}

	do, text := browsertest.Steps(t, ctx)
	do("log in",
		chromedp.Navigate(f.srv.URL+"/dashboard"),
		chromedp.WaitVisible(chromedp.CSS(`#token`)),
		chromedp.SendKeys(chromedp.CSS(`#token`), token),
		chromedp.Submit(chromedp.CSS(`#token`)),
		chromedp.WaitVisible(chromedp.CSS(`form.filters`)),
	)
	do("open the production page",
		chromedp.Click(chromedp.CSS(`#production`)),
		chromedp.WaitVisible(chromedp.CSS(`section[id="acme/shop"] table.findings`)),
	)
	shop := text(`section[id="acme/shop"]`)
	for _, want := range []string{"drift", "changed outside Terraform", "postgresql_role.app.connection_limit", "400", "200", "main.tf:31",
		"deleted outside Terraform", "#12 on GitHub", "2 attributes listed in production.ignore", `<img src=x onerror="document.title='owned'">`,
		"History", "failed", "Looked at every 6h."} {
		if !strings.Contains(shop, want) {
			t.Errorf("acme/shop's section lacks %q:\n%s", want, shop)
		}
	}
	if title, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.title + " " + document.querySelectorAll("table img").length`)); err != nil || title != "previewd · production 0" {
		t.Errorf("a value from production became markup: title and images %q (%v)", title, err)
	}
	if blog := text(`section[id="acme/blog"]`); !strings.Contains(blog, "not looked at yet") || !strings.Contains(blog, "only when asked") {
		t.Errorf("acme/blog's section:\n%s", blog)
	}
	// The stylesheet, served by previewd itself, passes the page's CSP.
	if radius, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector(".status")).borderRadius`)); err != nil || radius != "16px" {
		t.Errorf("the page's stylesheet did not apply: border-radius %q, %v", radius, err)
	}
	browsertest.Screenshot(t, ctx, "..", "production.png")

	do("watch now",
		chromedp.Click(chromedp.CSS(`section[id="acme/shop"] button.watch`)),
		chromedp.WaitVisible(chromedp.CSS(`.message`)),
	)
	if msg := text(`.message`); !strings.Contains(msg, "acme/shop") {
		t.Errorf("after watch now: %q", msg)
	}
	if got := f.ctrl.watchedRepos(); !slices.Equal(got, []string{"acme/shop"}) {
		t.Errorf("the controller was asked to watch %v, want [acme/shop]", got)
	}

	do("a phone's screen", chromedp.EmulateViewport(390, 844), chromedp.Navigate(f.srv.URL+"/dashboard/production"),
		chromedp.WaitVisible(chromedp.CSS(`section[id="acme/shop"]`)))
	overflow, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth - window.innerWidth`))
	if err != nil || overflow > 0 {
		t.Errorf("the production page on a 390 px screen: %d px wider than the screen (%v)", overflow, err)
	}
	browsertest.Screenshot(t, ctx, "..", "production-phone.png")
}
