package appsetup

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// shutdownTimeout bounds the wait for the last page to be sent.
const shutdownTimeout = 10 * time.Second

// Serve serves h on ln until the credentials are written or ctx is done,
// then shuts the server down, letting the page in flight finish. It
// blocks until then, and returns ctx's error when stopped before the
// setup finished.
func Serve(ctx context.Context, ln net.Listener, h *Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var stopped error
	select {
	case <-h.Done():
	case <-ctx.Done():
		stopped = ctx.Err()
	case err := <-served:
		return err
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return stopped
}
