package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/previewd/previewd/internal/waittest"
	"github.com/previewd/previewd/server"
)

// BenchmarkUnsignedFlood runs previewd as its own process and floods it
// with 40 concurrent unsigned 25 MiB deliveries (half with a length, half
// chunked) for a few seconds, while signed deliveries of normal size keep
// arriving. It reports previewd's peak resident set (VmHWM of its process)
// beside its resident set at rest before the flood, the floor, and how
// many signed deliveries were accepted. The goal: a peak under 300 MB and
// every signed delivery accepted.
func BenchmarkUnsignedFlood(b *testing.B) {
	p := startBenchProcess(b, buildPreviewd(b), b.TempDir())
	base := p.base
	waitHTTP(b, base+"/readyz")
	logs, cmd := p.logs, p.cmd

	big := bytes.Repeat([]byte("x"), server.MaxWebhookBody)
	fake := "sha256=" + strings.Repeat("0", 64)
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 200, MaxIdleConnsPerHost: 200}}
	for b.Loop() {
		rest := rss(b, cmd.Process.Pid, "VmRSS:")
		stop := make(chan struct{})
		var flood sync.WaitGroup
		var floods, refused atomic.Int64
		for i := range 40 {
			flood.Go(func() {
				for k := 0; ; k++ {
					select {
					case <-stop:
						return
					default:
					}
					var body io.Reader = bytes.NewReader(big)
					if i%2 == 1 {
						body = io.MultiReader(body) // no length: sent chunked
					}
					req, _ := http.NewRequest("POST", base+"/webhooks/github", body)
					req.Header.Set("X-GitHub-Event", "pull_request")
					req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("flood-%d-%d", i, k))
					req.Header.Set("X-Hub-Signature-256", fake)
					floods.Add(1)
					if resp, err := client.Do(req); err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode == http.StatusServiceUnavailable {
							refused.Add(1)
						}
					}
				}
			})
		}
		var signed, accepted int
		t0 := time.Now().Add(-time.Hour)
		deadline := time.Now().Add(8 * time.Second)
		for time.Now().Before(deadline) {
			signed++
			body := prEvent{"opened", fmt.Sprintf("during-flood/%d", signed), "abc", signed, t0}.payload()
			mac := hmac.New(sha256.New, []byte(testSecret))
			mac.Write(body)
			req, _ := http.NewRequest("POST", base+"/webhooks/github", bytes.NewReader(body))
			req.Header.Set("X-GitHub-Event", "pull_request")
			req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("signed-%d-%d", time.Now().UnixNano(), signed))
			req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusAccepted {
					accepted++
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		close(stop)
		flood.Wait()
		peak := rss(b, cmd.Process.Pid, "VmHWM:")
		if accepted != signed {
			b.Errorf("%d of %d signed deliveries were accepted during the flood", accepted, signed)
		}
		b.ReportMetric(peak/1024, "peak-rss-MB")
		b.ReportMetric(rest/1024, "at-rest-rss-MB")
		b.ReportMetric(peak/rest, "peak/at-rest")
		b.ReportMetric(300, "goal-peak-rss-MB")
		b.ReportMetric(float64(floods.Load()), "unsigned-sent")
		b.ReportMetric(float64(refused.Load()), "unsigned-503")
		b.ReportMetric(float64(accepted), "signed-accepted")
		b.ReportMetric(float64(signed), "signed-sent")
	}
	if lines := strings.Count(logs.String(), "\n"); lines > 200 {
		b.Errorf("the flood cost %d log lines", lines)
	}
}

// rss returns a field of /proc/<pid>/status in KiB.
func rss(tb testing.TB, pid int, field string) float64 {
	tb.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field {
			var kb float64
			fmt.Sscan(f[1], &kb)
			return kb
		}
	}
	tb.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// waitHTTP waits until url answers 200.
func waitHTTP(tb testing.TB, url string) {
	tb.Helper()
	waittest.For(tb, url+" to answer 200", func() string {
		resp, err := http.Get(url)
		if err != nil {
			return err.Error()
		}
		resp.Body.Close()
		return resp.Status
	}, func(status string) bool { return strings.HasPrefix(status, "200 ") })
}
