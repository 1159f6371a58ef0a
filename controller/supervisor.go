package controller

import (
	"context"
	"log/slog"
)

// service is one of the controller's parts with work of its own: run works
// until ctx ends, and returns only once all of that work has stopped.
type service interface {
	run(ctx context.Context)
}

// namedService is a service as the supervisor starts it: only when on
// (configured).
type namedService struct {
	name string
	on   bool
	svc  service
}

// supervisor runs services, each on its own goroutine with its own
// context, and stops them in the reverse of the order they started,
// waiting for each: what feeds the run loop stops before it, and the
// writes to pull requests and the leader lease after it.
type supervisor struct {
	log     *slog.Logger
	running []running
}

type running struct {
	name string
	stop context.CancelFunc
	done chan struct{}
}

// start runs svc until stop. Its context carries ctx's values, not its
// cancellation: only stop ends it, so that the order holds.
func (s *supervisor) start(ctx context.Context, svc namedService) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { // stop waits for it (done)
		defer close(done)
		svc.svc.run(ctx)
	}()
	s.running = append(s.running, running{name: svc.name, stop: cancel, done: done})
	s.log.Debug("service started", "service", svc.name)
}

// stop stops every service started, the last started first, each once
// the one started after it has returned.
func (s *supervisor) stop() {
	for i := len(s.running) - 1; i >= 0; i-- {
		r := s.running[i]
		r.stop()
		<-r.done
		s.log.Debug("service stopped", "service", r.name)
	}
	s.running = nil
}
