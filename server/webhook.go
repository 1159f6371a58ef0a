package server

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	preview "github.com/previewd/previewd"
)

// handleWebhook reads a delivery (at most MaxWebhookBody bytes), has it
// verified and durably recorded, nudges the controller, and only then
// answers 2xx. Terraform work never happens on this path.
//
// Until its signature is checked a delivery is an unauthenticated sender's:
// a request without a well-formed signature or delivery ID is refused
// before its body is read, and the body bytes held at once are bounded
// (see bodyBudget), so a flood of large unsigned bodies costs 503s, not
// memory.
func (s *Server) handleWebhook(c echo.Context) error {
	req := c.Request()
	d := preview.Delivery{
		ID:        req.Header.Get("X-GitHub-Delivery"),
		Event:     req.Header.Get("X-GitHub-Event"),
		Signature: req.Header.Get("X-Hub-Signature-256"),
	}
	if err := s.cfg.Deliveries.CheckHeaders(d); err != nil {
		s.metrics.deliveries.WithLabelValues("unverified", preview.ErrorCode(err)).Inc()
		s.refused(d, preview.ErrorCode(err), err)
		return err
	}
	if req.ContentLength > MaxWebhookBody {
		s.metrics.deliveries.WithLabelValues("unverified", "too_large").Inc()
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "payload larger than 25 MiB")
	}
	// A sender gets a bounded time to deliver what it reserved: slow
	// senders cannot sit on the small pool for the server's whole
	// ReadTimeout. A body of unknown length that outgrows the small pool
	// gets the time a large one has.
	start := time.Now()
	if req.ContentLength < smallBodyLimit { // -1: unknown
		s.setReadDeadline(c, start.Add(s.cfg.BodyReadTimeout))
	}
	body, release, err := s.bodies.read(req, c.Response(), func() { s.setReadDeadline(c, start.Add(s.http.ReadTimeout)) })
	defer release()
	if err != nil {
		return s.bodyError(c, d, err)
	}
	d.Body = body
	res, err := s.cfg.Deliveries.Receive(req.Context(), d)
	if err != nil {
		return s.receiveError(d, err)
	}
	release() // the body is parsed and stored: its bytes are free
	if res.CommandQueued {
		s.cfg.Controller.NudgeCommands()
	}
	result := "ignored"
	switch {
	case res.ChecksOf.SHA != "":
		result = "checks"
		s.cfg.Controller.NudgeChecks(res.ChecksOf)
	case res.Pushed.Repo != "":
		result = "push"
		s.cfg.Controller.NudgeModules()
	case res.CommandQueued && !res.Changed:
		result = "queued"
	case res.Duplicate:
		result = "duplicate"
	case res.Stale:
		result = "stale"
	case res.Changed:
		result = "changed"
		s.cfg.Controller.Nudge(res.Environment.Name)
	case res.Environment.Name != "":
		result = "unchanged"
	}
	s.metrics.deliveries.WithLabelValues(eventLabel(d.Event), result).Inc()
	s.log.Debug("delivery", "delivery", d.ID, "event", clip(d.Event), "result", result, "environment", res.Environment.Name)
	return c.JSON(http.StatusAccepted, map[string]string{"result": result, "environment": res.Environment.Name})
}

// setReadDeadline bounds when the rest of the request must have arrived.
func (s *Server) setReadDeadline(c echo.Context, t time.Time) {
	if err := http.NewResponseController(c.Response()).SetReadDeadline(t); err != nil {
		s.log.Debug("set webhook read deadline", "err", err)
	}
}

// bodyError answers a body that could not be read.
func (s *Server) bodyError(c echo.Context, d preview.Delivery, err error) error {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		s.metrics.deliveries.WithLabelValues("unverified", "too_large").Inc()
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "payload larger than 25 MiB")
	case errors.Is(err, errBusy):
		s.metrics.deliveries.WithLabelValues("unverified", "busy").Inc()
		c.Response().Header().Set("Retry-After", "10")
		err = preview.Errorf(preview.EUNAVAILABLE, "too many webhook bytes in flight; retry later")
		s.refused(d, "busy", err)
		return err
	default:
		return preview.Errorf(preview.EINVALID, "read body: %v", err)
	}
}

// receiveError answers a delivery the intake refused or could not store.
func (s *Server) receiveError(d preview.Delivery, err error) error {
	code := preview.ErrorCode(err)
	event := eventLabel(d.Event)
	if code == preview.EUNAUTHORIZED || code == preview.EINVALID {
		event = "unverified" // never a label value chosen by an unauthenticated sender
	}
	s.metrics.deliveries.WithLabelValues(event, code).Inc()
	if code == preview.EINTERNAL || code == preview.EUNAVAILABLE {
		s.log.Error("delivery not stored; GitHub may redeliver it", "delivery", d.ID, "event", clip(d.Event), "err", err)
		return preview.Errorf(preview.EUNAVAILABLE, "delivery could not be stored; please redeliver")
	}
	s.refused(d, code, err)
	return err
}

// refused logs a refused delivery, at most a few lines a second: a flood
// of bad requests must not fill the disk through the log. What the sender
// chose is clipped.
func (s *Server) refused(d preview.Delivery, why string, err error) {
	suppressed, ok := s.refusals.allow()
	if !ok {
		return
	}
	args := []any{"delivery", clip(d.ID), "event", clip(d.Event), "why", why, "err", preview.ErrorMessage(err)}
	if suppressed > 0 {
		args = append(args, "suppressed_since_last", suppressed)
	}
	s.log.Warn("delivery refused", args...)
}

// knownEvents are the webhook events a GitHub App can receive that
// previewd names in its metrics; any other is counted as "other", so a
// sender cannot create label values.
var knownEvents = map[string]bool{
	"pull_request": true, "issue_comment": true, "ping": true, "push": true,
	"installation": true, "installation_repositories": true, "installation_target": true,
	"check_run": true, "check_suite": true, "status": true, "workflow_run": true,
	"workflow_job": true, "deployment": true, "deployment_status": true,
	"pull_request_review": true, "pull_request_review_comment": true, "issues": true,
	"create": true, "delete": true, "repository": true, "github_app_authorization": true,
}

// eventLabel is the metrics label of an X-GitHub-Event value.
func eventLabel(event string) string {
	if knownEvents[event] {
		return event
	}
	return "other"
}

// maxLogValue bounds a value a sender chose when it reaches a log line.
const maxLogValue = 200

// clip shortens s to maxLogValue bytes, saying so, and quotes control
// characters away, so a sender's header can neither fill the log nor
// forge lines in it.
func clip(s string) string {
	cut := len(s) > maxLogValue
	if cut {
		s = s[:maxLogValue]
	}
	s = strings.ToValidUTF8(s, "?")
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		q := fmt.Sprintf("%q", s)
		s = q[1 : len(q)-1]
	}
	if cut {
		s += fmt.Sprintf("…(cut, %d bytes shown)", maxLogValue)
	}
	return s
}
