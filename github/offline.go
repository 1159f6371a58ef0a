package github

import (
	"context"
	"log/slog"
	"time"

	preview "github.com/previewd/previewd"
)

// Offline stands in for Client when neither a token nor a GitHub App is
// configured: it renders what would be written and sends nothing, so the
// store, the admin API and the logs show it instead.
type Offline struct {
	render func(preview.Environment) (string, error)
	logger *slog.Logger
	now    func() time.Time
}

// NewOffline returns an Offline that renders with render, which is required,
// and logs to logger (nothing when nil).
func NewOffline(render func(preview.Environment) (string, error), logger *slog.Logger) *Offline {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Offline{render: render, logger: logger.With("component", "github"), now: time.Now}
}

// SyncComment renders env's comment and returns it with ID zero, as the
// comment previewd would have written. An unchanged body returns
// env.Comment as it is. It logs each new body, at info level without the
// body and at debug level with it, and never blocks. Errors come from
// rendering, or from a body over MaxCommentLength characters.
func (o *Offline) SyncComment(_ context.Context, env preview.Environment) (preview.Comment, error) {
	body, err := renderBody(o.render, env)
	if err != nil {
		return preview.Comment{}, err
	}
	if env.Comment.ID == 0 && env.Comment.Body == body {
		return env.Comment, nil
	}
	o.logger.Info("offline: comment not sent", "environment", env.Name, "repo", env.Repo, "pr", env.PR, "status", env.Status)
	o.logger.Debug("offline: comment body", "environment", env.Name, "body", body)
	return preview.Comment{Body: body, UpdatedAt: o.now().UTC()}, nil
}
