package server

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	preview "github.com/previewd/previewd"
)

// ProductionWatches is what the server reads of the watches of
// production: the watches the controller stored, and which repositories
// are watched.
type ProductionWatches interface {
	FindProductionWatches(ctx context.Context, f preview.ProductionWatchFilter) ([]preview.ProductionWatch, error)
	// Watched is each watched repository with its interval (0: only when
	// asked).
	Watched() map[string]time.Duration
}

// ProductionHistory is a watched repository's production as the
// dashboard's production page shows it.
type ProductionHistory struct {
	Repo     string                    // owner/name, as configured
	Interval time.Duration             // between watches; 0: only when asked
	Watches  []preview.ProductionWatch // the last ones, newest first
}

// Limits of GET /api/v1/production/{owner}/{repo}: the watches it returns
// without ?limit=, and at most (a store keeps 100 per repository).
const (
	DefaultProductionWatches = 20
	MaxProductionWatches     = 100
)

// watched is each watched repository and its interval, by repository;
// none without Config.Production.
func (s *Server) watched() map[string]time.Duration {
	if s.cfg.Production == nil {
		return nil
	}
	return s.cfg.Production.Watched()
}

// watchedRepo returns the watched repository owner/name names, as
// configured (GitHub compares names without case), or an ENOTFOUND error
// when its production is not watched.
func (s *Server) watchedRepo(owner, name string) (string, time.Duration, error) {
	asked := owner + "/" + name
	for repo, interval := range s.watched() {
		if strings.EqualFold(repo, asked) {
			return repo, interval, nil
		}
	}
	return "", 0, preview.Errorf(preview.ENOTFOUND, "the production of %s is not watched (see production.state)", asked)
}

// productionWatches returns repo's last watches, newest first, at most
// limit.
func (s *Server) productionWatches(ctx context.Context, repo string, limit int) ([]preview.ProductionWatch, error) {
	return s.cfg.Production.FindProductionWatches(ctx, preview.ProductionWatchFilter{Repo: repo, Limit: limit})
}

// productionHistories returns every watched repository, by name, with its
// last watches, at most limit each.
func (s *Server) productionHistories(ctx context.Context, limit int) ([]ProductionHistory, error) {
	watched := s.watched()
	out := []ProductionHistory{}
	for _, repo := range slices.Sorted(maps.Keys(watched)) {
		ws, err := s.productionWatches(ctx, repo, limit)
		if err != nil {
			return nil, err
		}
		out = append(out, ProductionHistory{Repo: repo, Interval: watched[repo], Watches: ws})
	}
	return out, nil
}

// handleListProduction answers GET /api/v1/production: every watched
// repository, by name, with its interval and its last watch (null before
// the first).
func (s *Server) handleListProduction(c echo.Context) error {
	histories, err := s.productionHistories(c.Request().Context(), 1)
	if err != nil {
		return err
	}
	out := []ProductionRepo{}
	for _, h := range histories {
		r := ProductionRepo{Repo: h.Repo, IntervalSeconds: h.Interval.Seconds()}
		if len(h.Watches) > 0 {
			w := s.productionWatchOf(h.Watches[0])
			r.Last = &w
		}
		out = append(out, r)
	}
	return c.JSON(http.StatusOK, out)
}

// handleProductionWatches answers GET /api/v1/production/{owner}/{repo}:
// the repository's watches, newest first, ?limit= of them (default
// DefaultProductionWatches, at most MaxProductionWatches); 404 when its
// production is not watched.
func (s *Server) handleProductionWatches(c echo.Context) error {
	repo, _, err := s.watchedRepo(c.Param("owner"), c.Param("repo"))
	if err != nil {
		return err
	}
	limit, err := productionLimit(c)
	if err != nil {
		return err
	}
	ws, err := s.productionWatches(c.Request().Context(), repo, limit)
	if err != nil {
		return err
	}
	out := make([]ProductionWatch, 0, len(ws))
	for _, w := range ws {
		out = append(out, s.productionWatchOf(w))
	}
	return c.JSON(http.StatusOK, out)
}

// productionLimit reads ?limit= of a repository's watches.
func productionLimit(c echo.Context) (int, error) {
	limit := c.QueryParam("limit")
	if limit == "" {
		return DefaultProductionWatches, nil
	}
	n, err := strconv.Atoi(limit)
	if err != nil || n < 1 || n > MaxProductionWatches {
		return 0, preview.Errorf(preview.EINVALID, "limit must be a whole number from 1 to %d, got %q", MaxProductionWatches, limit)
	}
	return n, nil
}

// handleWatchProduction answers POST /api/v1/production/{owner}/{repo}/watch:
// the repository's production is looked at now, whatever its interval
// (202, {"asked": true}); 404 when it is not watched. The watch shows in
// GET /api/v1/production once done.
func (s *Server) handleWatchProduction(c echo.Context) error {
	repo, err := s.askProductionWatch(c)
	if err != nil {
		return err
	}
	s.log.Info("production watch requested by admin", "repo", repo)
	return c.JSON(http.StatusAccepted, map[string]bool{"asked": true})
}

// askProductionWatch asks the controller to look at the production of the
// request's {owner}/{repo} now, and returns the repository as configured:
// the admin API and the dashboard both come here.
func (s *Server) askProductionWatch(c echo.Context) (string, error) {
	repo, _, err := s.watchedRepo(c.Param("owner"), c.Param("repo"))
	if err != nil {
		return "", err
	}
	s.cfg.Controller.WatchProduction(repo)
	return repo, nil
}
