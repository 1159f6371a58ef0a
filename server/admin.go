package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	preview "github.com/previewd/previewd"
)

// MaxPageSize is the largest page of environments ?limit= asks for.
const MaxPageSize = 1000

// handleListEnvironments answers GET /api/v1/environments, by name.
// Query parameters live=true (skip destroyed), repo=owner/name and
// status=… narrow the list; limit=N returns at most N, with the cursor of
// the next page in the X-Next-Cursor header and a Link rel="next", and
// cursor=… starts after that name. Each environment's API encoding is kept
// until its record changes, so listing thousands of environments costs a
// write each, not a decode and an encode: the answer is sent from those
// encodings, never copied into one body.
func (s *Server) handleListEnvironments(c echo.Context) error {
	filter, err := listFilter(c)
	if err != nil {
		return err
	}
	var list jsonArray
	now := s.cfg.Now().UTC()
	next, err := s.cfg.Store.ScanEnvironments(c.Request().Context(), filter, func(name string, data []byte) error {
		view, err := s.listView(name, data, now)
		if err != nil {
			return err
		}
		list.add(view)
		return nil
	})
	if err != nil {
		return err
	}
	if next != "" {
		setNextPage(c, next)
	}
	return list.write(c.Response(), http.StatusOK)
}

// listFilter reads the list's query parameters, refusing bad ones.
func listFilter(c echo.Context) (preview.EnvironmentFilter, error) {
	live := c.QueryParam("live")
	if live != "" && live != "true" && live != "false" {
		return preview.EnvironmentFilter{}, preview.Errorf(preview.EINVALID, "live must be true or false, got %q", live)
	}
	filter := preview.EnvironmentFilter{LiveOnly: live == "true", Repo: c.QueryParam("repo"), Status: preview.Status(c.QueryParam("status"))}
	if filter.Status != "" && !slices.Contains(preview.Statuses, filter.Status) {
		return filter, preview.Errorf(preview.EINVALID, "status must be one of queued, provisioning, ready, failed, destroying, destroyed; got %q", filter.Status)
	}
	limit, err := pageLimit(c)
	if err != nil {
		return filter, err
	}
	filter.Limit = limit
	if cursor := c.QueryParam("cursor"); cursor != "" {
		if !preview.ValidName(cursor) {
			return filter, preview.Errorf(preview.EINVALID, "cursor %q is not an environment name", cursor)
		}
		filter.After = cursor
	}
	return filter, nil
}

func (s *Server) handleGetEnvironment(c echo.Context) error {
	env, err := s.cfg.Store.FindEnvironmentByName(c.Request().Context(), c.Param("name"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.environment(env))
}

// environment is env as the API shows it now, its cost included.
func (s *Server) environment(env preview.Environment) Environment {
	out := environmentOf(env)
	if cost, ok := s.cfg.Pricing.Cost(env.Metered(), s.cfg.Now().UTC()); ok {
		c := costOf(cost)
		out.Cost = &c
	}
	return out
}

// handleRedeploy answers POST …/redeploy: apply again even at the same head,
// and count it as activity. An environment whose pull request is closed
// cannot be redeployed (409).
func (s *Server) handleRedeploy(c echo.Context) error {
	return s.operateAnswer(c, preview.Operation{Verb: preview.VerbRedeploy, By: preview.ByOperator})
}

// handleDestroy answers DELETE …/{name}: tear the environment down. It stays
// in the store as destroyed; the next push to its pull request or a redeploy
// builds it again. An operator's destroy retries one that gave up, too.
func (s *Server) handleDestroy(c echo.Context) error {
	return s.operateAnswer(c, preview.Operation{Verb: preview.VerbDestroy, By: preview.ByOperator})
}

// handleExtend answers POST …/extend?by=48h: push the expiry back (up to
// the maximum a kept environment lives). A by that is not a positive
// duration is refused (400).
func (s *Server) handleExtend(c echo.Context) error {
	return s.operateAnswer(c, preview.Operation{Verb: preview.VerbExtend, By: preview.ByOperator, Arg: c.QueryParam("by")})
}

// handleKeep answers POST …/keep and …/unkeep.
func (s *Server) handleKeep(keep bool) echo.HandlerFunc {
	verb := preview.VerbUnkeep
	if keep {
		verb = preview.VerbKeep
	}
	return func(c echo.Context) error {
		return s.operateAnswer(c, preview.Operation{Verb: verb, By: preview.ByOperator})
	}
}

// operateAnswer carries out op on the named environment and answers 202
// with it.
func (s *Server) operateAnswer(c echo.Context, op preview.Operation) error {
	env, err := s.operate(c.Request().Context(), c.Param("name"), op)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, s.environment(env))
}

// operate carries out an operator's op on the named environment, by the
// rules every operator action follows (preview.Environment.Operate), and
// queues it: the admin API and the dashboard both come here.
func (s *Server) operate(ctx context.Context, name string, op preview.Operation) (preview.Environment, error) {
	env, err := s.cfg.Store.UpdateEnvironment(ctx, name, func(e *preview.Environment) error {
		switch err := e.Operate(op, s.cfg.Now().UTC(), s.cfg.Operate); {
		case errors.Is(err, preview.ErrPullRequestClosed):
			return preview.Errorf(preview.ECONFLICT, "pull request %s#%d is closed", e.Repo, e.PR)
		case errors.Is(err, preview.ErrForkNotApproved):
			return preview.Errorf(preview.ECONFLICT, "pull request %s#%d comes from a fork and its head is not approved: add the label %s", e.Repo, e.PR, preview.ApprovalLabel)
		case errors.Is(err, preview.ErrBadOperation):
			return errors.Join(preview.Errorf(preview.EINVALID, "%v", err), err) // the dashboard reads an *ArgumentError
		default:
			return err
		}
	})
	if err != nil {
		return env, err
	}
	s.cfg.Controller.Nudge(name)
	s.log.Info("environment operated", "environment", name, "verb", op.Verb, "present", env.Desired.Present, "reason", env.Desired.Reason)
	return env, nil
}

// handleDriftCheck answers POST …/drift-check: look for changes made
// outside Terraform now, with a refresh-only plan, instead of waiting for
// the repository's drift_check_interval. 202 with the environment; 409
// unless it is ready. The findings join its parity report.
func (s *Server) handleDriftCheck(c echo.Context) error {
	env, err := s.cfg.Store.FindEnvironmentByName(c.Request().Context(), c.Param("name"))
	if err != nil {
		return err
	}
	if env.Status != preview.StatusReady {
		return preview.Errorf(preview.ECONFLICT, "environment %s is %s; only a ready environment can be checked for drift", env.Name, env.Status)
	}
	s.cfg.Controller.CheckDrift(env.Name)
	s.log.Info("drift check requested by admin", "environment", env.Name)
	return c.JSON(http.StatusAccepted, s.environment(env))
}

// handleParity answers GET …/parity with the environment's newest parity
// report: {"status": "ok"|"drift", "checked_at", "findings": […]}, 404
// before the first check. Values that differ only by the environment's
// name are counted, and listed with ?all=true.
func (s *Server) handleParity(c echo.Context) error {
	env, err := s.cfg.Store.FindEnvironmentByName(c.Request().Context(), c.Param("name"))
	if err != nil {
		return err
	}
	if env.Parity.CheckedAt.IsZero() {
		return preview.Errorf(preview.ENOTFOUND, "no parity check has run for %s yet", env.Name)
	}
	report := env.Parity
	switch all := c.QueryParam("all"); all {
	case "true":
	case "", "false":
		report = report.WithoutIdentity()
	default:
		return preview.Errorf(preview.EINVALID, "all must be true or false, got %q", all)
	}
	if report.Findings == nil {
		report.Findings = []preview.Finding{}
	}
	return c.JSON(http.StatusOK, report)
}

// handleDatabase answers GET …/database with what the environment's
// database held while it last came up (migrations), and the verdict.
func (s *Server) handleDatabase(c echo.Context) error {
	env, err := s.cfg.Store.FindEnvironmentByName(c.Request().Context(), c.Param("name"))
	if err != nil {
		return err
	}
	if env.Database.Verdict.Status == "" {
		return preview.Errorf(preview.ENOTFOUND, "%s's database has not been watched (see migrations.database_output)", env.Name)
	}
	return c.JSON(http.StatusOK, databaseOf(env.Database))
}

// handleListRuns answers GET …/runs with the runs of the environment's
// current pull request, oldest first: a name reused by another pull request
// does not bring the earlier holder's runs with it.
func (s *Server) handleListRuns(c echo.Context) error {
	ctx := c.Request().Context()
	env, err := s.cfg.Store.FindEnvironmentByName(ctx, c.Param("name"))
	if err != nil {
		return err
	}
	limit, err := pageLimit(c)
	if err != nil {
		return err
	}
	cursor := c.QueryParam("cursor")
	if cursor != "" && !runSeq.MatchString(cursor) {
		return preview.Errorf(preview.EINVALID, "cursor %q is not a run's sequence (16 hex digits)", cursor)
	}
	runs, err := s.cfg.Store.FindRuns(ctx, preview.RunsOf(env))
	if err != nil {
		return err
	}
	out := []Run{}
	for _, r := range runs {
		if cursor != "" && r.ID[strings.LastIndexByte(r.ID, '/')+1:] <= cursor {
			continue
		}
		if limit > 0 && len(out) == limit {
			setNextPage(c, out[len(out)-1].ID[strings.LastIndexByte(out[len(out)-1].ID, '/')+1:])
			break
		}
		out = append(out, runOf(r))
	}
	return c.JSON(http.StatusOK, out)
}

// runSeq is the part of a run's ID after the slash.
var runSeq = regexp.MustCompile(`^[0-9a-f]{16}$`)

// paddedSeq writes a run's sequence as its ID does, 16 hexadecimal digits,
// so a run is found by its short number ("1", "a") as well as by the
// padded one. Anything else is returned as it is, and names no run.
func paddedSeq(seq string) string {
	n, err := strconv.ParseUint(seq, 16, 64)
	if err != nil {
		return seq
	}
	return fmt.Sprintf("%016x", n)
}

// pageLimit reads ?limit=, 0 when absent.
func pageLimit(c echo.Context) (int, error) {
	limit := c.QueryParam("limit")
	if limit == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(limit)
	if err != nil || n < 1 || n > MaxPageSize {
		return 0, preview.Errorf(preview.EINVALID, "limit must be a whole number from 1 to %d, got %q", MaxPageSize, limit)
	}
	return n, nil
}

// setNextPage says where the next page starts: X-Next-Cursor, and a Link
// to it.
func setNextPage(c echo.Context, next string) {
	q := c.Request().URL.Query()
	q.Set("cursor", next)
	c.Response().Header().Set("X-Next-Cursor", next)
	c.Response().Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, c.Request().URL.Path, q.Encode()))
}

// handleRunLog streams a run's Terraform log as plain text. A run made for
// an earlier holder of the environment's name is not found (404).
//
// With ?follow=true the answer goes on while the run does: what Terraform
// writes is sent as it is stored (a chunked response a browser shows as
// it comes), until the run ends or the reader leaves.
func (s *Server) handleRunLog(c echo.Context) error {
	ctx := c.Request().Context()
	run, err := s.findEnvironmentRun(ctx, c.Param("name"), c.Param("seq"))
	if err != nil {
		return err
	}
	f, err := s.openLog(ctx, run)
	if err != nil {
		return err
	}
	if c.QueryParam("follow") != "true" {
		defer f.Close()
		return c.Stream(http.StatusOK, echo.MIMETextPlainCharsetUTF8, f)
	}
	res := c.Response()
	res.Header().Set(echo.HeaderContentType, echo.MIMETextPlainCharsetUTF8)
	res.Header().Set("X-Content-Type-Options", "nosniff")
	res.WriteHeader(http.StatusOK)
	sent, err := io.Copy(res, f)
	f.Close()
	res.Flush()
	for deadline := time.Now().Add(followLimit); err == nil && run.State == preview.RunRunning && time.Now().Before(deadline); {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(followInterval):
		}
		if run, err = s.cfg.Store.FindRunByID(ctx, run.ID); err != nil {
			break
		}
		var n int64
		if n, err = s.copyLogFrom(ctx, run, sent, res); err == nil && n > 0 {
			sent += n
			res.Flush()
		}
	}
	return nil // the answer has begun: an error ends it
}

// How often a followed log is read again, and for how long at most.
const (
	followInterval = 500 * time.Millisecond
	followLimit    = 6 * time.Hour
)

// copyLogFrom writes run's log from byte offset on to w.
func (s *Server) copyLogFrom(ctx context.Context, run preview.Run, offset int64, w io.Writer) (int64, error) {
	if from, ok := s.cfg.Logs.(interface {
		RunLogFrom(ctx context.Context, id string, offset int64) (io.ReadCloser, error)
	}); ok {
		f, err := from.RunLogFrom(ctx, run.ID, offset)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		return io.Copy(w, f)
	}
	f, err := s.openLog(ctx, run)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if seeker, ok := f.(io.Seeker); ok {
		if _, err := seeker.Seek(offset, io.SeekStart); err != nil {
			return 0, err
		}
	} else if _, err := io.CopyN(io.Discard, f, offset); err != nil {
		return 0, err
	}
	return io.Copy(w, f)
}

// openLog opens run's log, from the store or from its file.
func (s *Server) openLog(ctx context.Context, run preview.Run) (io.ReadCloser, error) {
	if s.cfg.Logs != nil {
		return s.cfg.Logs.RunLog(ctx, run.ID)
	}
	f, err := os.Open(run.LogPath)
	if os.IsNotExist(err) || run.LogPath == "" {
		return nil, preview.Errorf(preview.ENOTFOUND, "log of run %s is gone", run.ID)
	} else if err != nil {
		return nil, fmt.Errorf("open log of run %s: %w", run.ID, err)
	}
	return f, nil
}

// findEnvironmentRun returns run seq of the named environment if it belongs
// to the pull request now holding the name; otherwise, as when either is
// missing, an ENOTFOUND error that does not say which.
func (s *Server) findEnvironmentRun(ctx context.Context, name, seq string) (preview.Run, error) {
	id := name + "/" + paddedSeq(seq)
	env, err := s.cfg.Store.FindEnvironmentByName(ctx, name)
	if preview.ErrorCode(err) == preview.ENOTFOUND {
		return preview.Run{}, preview.Errorf(preview.ENOTFOUND, "run %q not found", id)
	} else if err != nil {
		return preview.Run{}, err
	}
	run, err := s.cfg.Store.FindRunByID(ctx, id)
	if err != nil {
		return preview.Run{}, err
	}
	if !run.BelongsTo(env) {
		return preview.Run{}, preview.Errorf(preview.ENOTFOUND, "run %q not found", id)
	}
	return run, nil
}

// handleBackup streams a consistent copy of the database.
func (s *Server) handleBackup(c echo.Context) error {
	w := &backupWriter{res: c.Response()}
	_, err := s.cfg.Store.Backup(context.WithoutCancel(c.Request().Context()), w)
	switch {
	case err != nil && !w.started:
		return err // refused before a byte: an error answer, not an empty 200
	case err != nil:
		s.log.Error("backup interrupted", "err", err)
	case !w.started:
		w.start()
	}
	return nil
}

// FetchBackup copies the database of the previewd at base (a URL such as
// http://127.0.0.1:8080) through its admin API, GET /api/v1/backup
// authorised by token, to w, and returns the bytes copied. Any answer but
// 200 is an error quoting it.
func FetchBackup(ctx context.Context, base, token string, w io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/api/v1/backup", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		hint := ""
		if resp.StatusCode == http.StatusUnauthorized && token == "" {
			hint = " (set PREVIEWD_ADMIN_TOKEN to the admin token)"
		}
		return 0, fmt.Errorf("GET /api/v1/backup: %s: %s%s", resp.Status, strings.TrimSpace(string(msg)), hint)
	}
	return io.Copy(w, resp.Body)
}

// backupWriter answers 200 with the backup's headers only when the first
// byte of the backup is written, so a store that refuses at once gets an
// error answer.
type backupWriter struct {
	res     *echo.Response
	started bool
}

func (w *backupWriter) start() {
	w.started = true
	w.res.Header().Set(echo.HeaderContentType, echo.MIMEOctetStream)
	w.res.Header().Set(echo.HeaderContentDisposition, `attachment; filename="previewd.db"`)
	w.res.WriteHeader(http.StatusOK)
}

func (w *backupWriter) Write(p []byte) (int, error) {
	if !w.started {
		w.start()
	}
	return w.res.Write(p)
}
