package server

import (
	"errors"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"
	preview "github.com/previewd/previewd"
)

// handleWebhook reads a delivery (at most MaxWebhookBody bytes), has it
// verified and durably recorded, nudges the controller, and only then
// answers 2xx. Terraform work never happens on this path.
func (s *Server) handleWebhook(c echo.Context) error {
	req := c.Request()
	if req.ContentLength > MaxWebhookBody {
		s.metrics.deliveries.WithLabelValues("unknown", "too_large").Inc()
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "payload larger than 25 MiB")
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, MaxWebhookBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		s.metrics.deliveries.WithLabelValues("unknown", "too_large").Inc()
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "payload larger than 25 MiB")
	} else if err != nil {
		return preview.Errorf(preview.EINVALID, "read body: %v", err)
	}
	d := preview.Delivery{
		ID:        req.Header.Get("X-GitHub-Delivery"),
		Event:     req.Header.Get("X-GitHub-Event"),
		Signature: req.Header.Get("X-Hub-Signature-256"),
		Body:      body,
	}
	res, err := s.cfg.Deliveries.Receive(req.Context(), d)
	if err != nil {
		event := d.Event
		if code := preview.ErrorCode(err); code == preview.EUNAUTHORIZED || code == preview.EINVALID {
			event = "unverified" // never a label value chosen by an unauthenticated sender
		}
		s.metrics.deliveries.WithLabelValues(event, preview.ErrorCode(err)).Inc()
		if code := preview.ErrorCode(err); code == preview.EINTERNAL || code == preview.EUNAVAILABLE {
			s.log.Error("delivery not stored; GitHub may redeliver it", "delivery", d.ID, "event", d.Event, "err", err)
			return preview.Errorf(preview.EUNAVAILABLE, "delivery could not be stored; please redeliver")
		}
		s.log.Warn("delivery refused", "delivery", d.ID, "event", d.Event, "err", preview.ErrorMessage(err))
		return err
	}
	if res.CommandQueued {
		s.cfg.Controller.NudgeCommands()
	}
	result := "ignored"
	switch {
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
	s.metrics.deliveries.WithLabelValues(d.Event, result).Inc()
	s.log.Debug("delivery", "delivery", d.ID, "event", d.Event, "result", result, "environment", res.Environment.Name)
	return c.JSON(http.StatusAccepted, map[string]string{"result": result, "environment": res.Environment.Name})
}
