package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/previewd/previewd/internal/browsertest"
)

// TestDashboardInABrowser drives the dashboard in a real Chromium: log in,
// filter the list, open an environment, click redeploy, watch the live log
// grow while the apply runs and the status turn ready; a form another
// site posts is refused. It writes screenshots of the list and of an
// environment's page under .cache/screenshots/.
func TestDashboardInABrowser(t *testing.T) {
	ctx := browsertest.Chromium(t)
	// Every apply replaces the resource and sleeps 8 s, a redeploy too: a
	// run long enough to watch.
	module := slowModule(t, 8, true)
	p := startPreviewd(t, map[string]string{"PREVIEWD_MODULE_DIR": module})
	t0 := time.Now().Add(-time.Hour)
	p.send(prEvent{"opened", "browse", "sha1", 1, t0})
	p.send(prEvent{"opened", "other", "sha1", 2, t0})
	p.waitFor("browse", "ready", readyAt("sha1"))
	p.waitFor("other", "ready", readyAt("sha1"))

	do, text := browsertest.Steps(t, ctx)
	do("log in",
		chromedp.Navigate(p.base+"/dashboard"),
		chromedp.WaitVisible(chromedp.CSS(`#token`)),
		chromedp.SendKeys(chromedp.CSS(`#token`), testToken),
		chromedp.Submit(chromedp.CSS(`#token`)),
		chromedp.WaitVisible(chromedp.CSS(`form.filters`)),
	)
	do("filter",
		chromedp.SendKeys(chromedp.CSS(`input[name=q]`), "browse"),
		chromedp.SetValue(chromedp.CSS(`select[name=status]`), "ready"),
		chromedp.Submit(chromedp.CSS(`input[name=q]`)),
	)
	for deadline := time.Now().Add(10 * time.Second); ; {
		href, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href`))
		if strings.Contains(href, "q=browse") && strings.Contains(href, "status=ready") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the filter form did not load the filtered list: %s", href)
		}
		time.Sleep(100 * time.Millisecond)
	}
	do("the filtered list", chromedp.WaitVisible(chromedp.CSS(`a[href="/dashboard/environments/browse"]`)))
	if rows := text(`tbody`); strings.Contains(rows, "other") {
		t.Errorf("the filtered list shows another environment:\n%s", rows)
	}
	// The stylesheet, served by previewd itself, passes the page's CSP.
	if radius, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector(".status")).borderRadius`)); err != nil || radius != "16px" {
		t.Errorf("the list's stylesheet did not apply: border-radius %q, %v", radius, err)
	}
	browsertest.Screenshot(t, ctx, "../..", "list.png")

	do("open the environment",
		chromedp.Click(chromedp.CSS(`a[href="/dashboard/environments/browse"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#redeploy`)),
	)
	page := text(`body`)
	for _, want := range []string{"Parity with production", "Runs", "Inputs", "browse"} {
		if !strings.Contains(page, want) {
			t.Errorf("the environment's page lacks %q", want)
		}
	}
	browsertest.Screenshot(t, ctx, "../..", "environment.png")

	do("redeploy", chromedp.Click(chromedp.CSS(`#redeploy`)), chromedp.WaitVisible(chromedp.CSS(`.message`)))
	// The page reloads itself every 3 s while the run goes: the log grows,
	// then the status turns ready.
	var sizes []int
	steps := map[string]bool{} // the Terraform commands the page said the run was at
	status := ""
	for deadline := time.Now().Add(90 * time.Second); status != "ready"; {
		if time.Now().After(deadline) {
			t.Fatalf("the status did not turn ready (log sizes seen %v, status %q)", sizes, status)
		}
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById("status")||{textContent:""}).textContent`))
		n, err2 := chromedp.Run(ctx, chromedp.Evaluate[int](`(document.getElementById("log")||{textContent:""}).textContent.length`))
		if err != nil || err2 != nil {
			time.Sleep(200 * time.Millisecond) // the page was reloading
			continue
		}
		status = s
		if status == "provisioning" && n > 0 && (len(sizes) == 0 || n != sizes[len(sizes)-1]) {
			sizes = append(sizes, n)
		}
		if status == "provisioning" {
			if step, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById("step")||{textContent:""}).textContent`)); err == nil && step != "" {
				steps[step] = true
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	grew := false // the page first shows the previous run's log, then the new one's
	for i := 1; i < len(sizes); i++ {
		grew = grew || sizes[i] > sizes[i-1]
	}
	if !grew {
		t.Errorf("the live log did not grow while the run went: sizes %v", sizes)
	}
	if !steps["terraform apply"] && !steps["terraform plan"] {
		t.Errorf("the page never said which Terraform command ran: %v", steps)
	}

	// On a phone, the pages fit the screen's width.
	for _, path := range []string{"/dashboard", "/dashboard/environments/browse"} {
		do("a phone's screen", chromedp.EmulateViewport(390, 844), chromedp.Navigate(p.base+path))
		overflow, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth - window.innerWidth`))
		if err != nil || overflow > 0 {
			t.Errorf("%s on a 390 px screen: %d px wider than the screen (%v)", path, overflow, err)
		}
	}
	browsertest.Screenshot(t, ctx, "../..", "environment-phone.png")

	// Another site's page posts a form to previewd with the browser's
	// session: refused, and nothing happens.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<form id="f" method="post" action="%s/dashboard/environments/browse/destroy"><input name="csrf" value="guess"></form><script>document.getElementById("f").submit()</script>`, p.base)
	}))
	defer evil.Close()
	do("a forged cross-site post", chromedp.Navigate(evil.URL), chromedp.Sleep(2*time.Second))
	if got := text(`body`); !strings.Contains(got, "refused") {
		t.Errorf("the forged post was not refused: %q", got)
	}
	if env := p.waitFor("browse", "", func(apiEnvironment) bool { return true }); env.Status != "ready" {
		t.Errorf("after the forged post: %s", env.Status)
	}
}
