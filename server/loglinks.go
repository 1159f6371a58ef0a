package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	preview "github.com/previewd/previewd"
)

// LogLinks makes and checks signed, expiring links to run logs, so people
// reading a pull request can open a run's log without the admin token:
// <public_url>/logs/<environment>/<seq>?expires=<unix>&signature=<hex>.
type LogLinks struct {
	key  []byte
	base string
	ttl  time.Duration
	now  func() time.Time
}

// Keys keeps named keys in the store, shared by every replica and kept
// across restarts.
type Keys interface {
	// FindOrCreateKey returns the key stored under name, storing fresh
	// there first when there is none.
	FindOrCreateKey(ctx context.Context, name string, fresh []byte) ([]byte, error)
}

// LogLinkKey returns the key log links are signed with: 32 random bytes
// made by the first previewd to start on the store and kept in it, so a
// link outlives restarts, every replica accepts every other's links, and a
// link tells nothing of the webhook secret.
func LogLinkKey(ctx context.Context, keys Keys) ([]byte, error) {
	fresh := make([]byte, 32)
	rand.Read(fresh)
	key, err := keys.FindOrCreateKey(ctx, "log_links", fresh)
	if err != nil {
		return nil, fmt.Errorf("log link key: %w", err)
	}
	return key, nil
}

// NewLogLinks returns links under publicURL signed with key, valid for ttl.
func NewLogLinks(key []byte, publicURL string, ttl time.Duration) *LogLinks {
	return &LogLinks{key: key, base: strings.TrimRight(publicURL, "/"), ttl: ttl, now: time.Now}
}

// Link returns the signed link to the log of run runID ("<name>/<seq>"), or
// "" without a public URL or for another form of ID.
func (l *LogLinks) Link(runID string) string {
	name, seq, ok := strings.Cut(runID, "/")
	if l.base == "" || !ok || !preview.ValidName(name) || seq == "" || strings.Contains(seq, "/") {
		return ""
	}
	// Expiry is rounded up to the hour so a comment's body, which holds the
	// link, does not change on every render.
	expires := strconv.FormatInt(l.now().Add(l.ttl).Truncate(time.Hour).Add(time.Hour).Unix(), 10)
	q := url.Values{"expires": {expires}, "signature": {l.sign(name, seq, expires)}}
	return l.base + "/logs/" + name + "/" + url.PathEscape(seq) + "?" + q.Encode()
}

func (l *LogLinks) sign(name, seq, expires string) string {
	m := hmac.New(sha256.New, l.key)
	// A link names its run by the short number or the padded one alike.
	m.Write([]byte(name + "/" + paddedSeq(seq) + "\x00" + expires))
	return hex.EncodeToString(m.Sum(nil))
}

// valid checks a link's signature in constant time, then its expiry.
func (l *LogLinks) valid(name, seq, expires, signature string) bool {
	want, err := hex.DecodeString(l.sign(name, seq, expires))
	got, err2 := hex.DecodeString(signature)
	if err != nil || err2 != nil || !hmac.Equal(got, want) {
		return false
	}
	unix, err := strconv.ParseInt(expires, 10, 64)
	return err == nil && l.now().Before(time.Unix(unix, 0))
}

// handleSignedLog streams a run's log to the holder of a valid link. The
// link names the environment and the run's sequence, and is served only
// while the run belongs to the pull request now holding that name: once the
// name passes to another pull request, links of the earlier holder answer
// 404, so neither pull request's links show the other's logs.
func (s *Server) handleSignedLog(c echo.Context) error {
	name, seq := c.Param("name"), c.Param("seq")
	if !s.cfg.LogLinks.valid(name, seq, c.QueryParam("expires"), c.QueryParam("signature")) {
		return preview.Errorf(preview.EUNAUTHORIZED, "this log link is not valid or has expired")
	}
	run, err := s.findEnvironmentRun(c.Request().Context(), name, seq)
	if err != nil {
		return err
	}
	f, err := s.openLog(c.Request().Context(), run)
	if err != nil {
		return err
	}
	defer f.Close()
	h := c.Response().Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'")
	h.Set("Cache-Control", "private, no-store")
	return c.Stream(http.StatusOK, echo.MIMETextPlainCharsetUTF8, f)
}
