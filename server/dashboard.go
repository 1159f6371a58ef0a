package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	preview "github.com/previewd/previewd"
)

// The dashboard is for browsers. Reading it takes the admin token: as a
// session cookie from the login form, or as HTTP Basic or bearer
// credentials. Acting from it (redeploy, destroy, extend, keep) takes the
// session cookie and the page's CSRF token, never Basic credentials: a
// browser would send those with a form another site makes it post.

// ListQuery is what the dashboard's list shows.
type ListQuery struct {
	ShowAll                      bool   // destroyed environments too
	Repo, Status, Parity, Search string // filters; Search matches name, branch or pull request number
	// CSRF is the session's token for the page's forms, "" without a
	// session (read through Basic or bearer credentials).
	CSRF string
	// Production says the production page is served: the list links it.
	Production bool
	// Totals are every environment's, shown or not; nil when the list is
	// given every environment, and counts them itself.
	Totals *ListTotals
}

// ListTotals are what the dashboard's list says of every environment,
// shown or not.
type ListTotals struct {
	Live  int      // how many are live
	Repos []string // their repositories, sorted
	// Metered is what pricing reads of them (of the priced ones at
	// least), by name: this month's cost by repository.
	Metered []preview.Metered
}

// PageState is what an environment's page says besides the environment.
type PageState struct {
	CSRF    string // "" without a session: the page shows no actions
	Message string // what was done ("Redeploy queued.")
	Error   string // why an action was refused
	LogTail string // the end of the newest run's log
}

// logTailBytes is how much of the newest run's log an environment's page
// shows.
const logTailBytes = 16 << 10

// maxFormBytes bounds a dashboard form's body: a token, a CSRF token, a
// duration.
const maxFormBytes = 4 << 10

const (
	sessionCookie = "previewd_session"
	sessionTTL    = 12 * time.Hour
)

// sessionValue makes a session cookie's value that expires at exp:
// "<unix seconds>.<HMAC of them>", so any replica knowing the admin token
// checks it without shared session state.
func (s *Server) sessionValue(exp time.Time) string {
	ts := strconv.FormatInt(exp.Unix(), 10)
	return ts + "." + s.mac("session", ts)
}

func (s *Server) mac(purpose, value string) string {
	m := hmac.New(sha256.New, s.sessionKey[:])
	fmt.Fprintf(m, "%s\x00%s", purpose, value)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// session returns the request's valid session cookie, "" when none.
func (s *Server) session(c echo.Context) string {
	ck, err := c.Cookie(sessionCookie)
	if err != nil || s.cfg.AdminToken == "" {
		return ""
	}
	ts, sig, ok := strings.Cut(ck.Value, ".")
	unix, err := strconv.ParseInt(ts, 10, 64)
	if !ok || err != nil || !s.cfg.Now().Before(time.Unix(unix, 0)) {
		return ""
	}
	if subtle.ConstantTimeCompare([]byte(sig), []byte(s.mac("session", ts))) != 1 {
		return ""
	}
	return ck.Value
}

// csrfToken is the token a session's forms carry.
func (s *Server) csrfToken(session string) string { return s.mac("csrf", session) }

// sameOrigin refuses a request a browser says another site made: by
// Sec-Fetch-Site, or an Origin naming another host.
func sameOrigin(c echo.Context) bool {
	r := c.Request()
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	// "null" is what a browser sends where a referrer policy hides the
	// origin: it says nothing, and the CSRF token still decides.
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

// requireViewer lets a request read the dashboard with a session, or
// Basic or bearer credentials; a browser without any goes to the login
// form.
func (s *Server) requireViewer(next echo.HandlerFunc) echo.HandlerFunc {
	basic := s.requireAdminOrBasic(next)
	return func(c echo.Context) error {
		if sess := s.session(c); sess != "" {
			c.Set("csrf", s.csrfToken(sess))
			return next(c)
		}
		_, _, hasBasic := c.Request().BasicAuth()
		if !hasBasic && c.Request().Header.Get(echo.HeaderAuthorization) == "" &&
			strings.Contains(c.Request().Header.Get(echo.HeaderAccept), "text/html") {
			return c.Redirect(http.StatusSeeOther, "/login")
		}
		return basic(c)
	}
}

// requireSession lets a state-changing request through only with a
// session cookie, its CSRF token, and no sign of another site.
func (s *Server) requireSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sess := s.session(c)
		if sess == "" {
			return echo.NewHTTPError(http.StatusForbidden, "log in to the dashboard first")
		}
		c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, maxFormBytes)
		want := s.csrfToken(sess)
		got := c.FormValue("csrf")
		if !sameOrigin(c) || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			s.log.Warn("dashboard request refused: cross-site or without its CSRF token", "path", c.Path(), "origin", clip(c.Request().Header.Get("Origin")))
			return echo.NewHTTPError(http.StatusForbidden, "refused: this request did not come from previewd's own page")
		}
		c.Set("csrf", want)
		return next(c)
	}
}

func (s *Server) handleLoginForm(c echo.Context) error {
	return s.page(c, http.StatusOK, func(w io.Writer) error { return s.cfg.Login(w, false) })
}

// handleLogin checks the admin token from the login form and sets the
// session cookie: HttpOnly, SameSite=Strict, Secure behind HTTPS.
func (s *Server) handleLogin(c echo.Context) error {
	if !sameOrigin(c) {
		return echo.NewHTTPError(http.StatusForbidden, "refused: this request did not come from previewd's own page")
	}
	c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, maxFormBytes)
	if s.cfg.AdminToken == "" {
		return s.page(c, http.StatusUnauthorized, func(w io.Writer) error { return s.cfg.Login(w, true) })
	}
	switch err := s.checkCredential(c, c.FormValue("token"), s.token); preview.ErrorCode(err) {
	case "":
	case preview.EUNAUTHORIZED:
		s.log.Warn("dashboard login refused", "remote", clientAddr(c.Request()))
		return s.page(c, http.StatusUnauthorized, func(w io.Writer) error { return s.cfg.Login(w, true) })
	default:
		return err
	}
	exp := s.cfg.Now().Add(sessionTTL)
	c.SetCookie(&http.Cookie{
		Name: sessionCookie, Value: s.sessionValue(exp), Path: "/", Expires: exp, MaxAge: int(sessionTTL.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secure(c),
	})
	return c.Redirect(http.StatusSeeOther, "/dashboard")
}

func (s *Server) handleLogout(c echo.Context) error {
	c.SetCookie(&http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secure(c)})
	return c.Redirect(http.StatusSeeOther, "/login")
}

// clientAddr is the address a request came from: the connection's, never
// a header a client chooses.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// secure reports whether the browser reached previewd over HTTPS (itself
// or through a proxy that says so, or a public URL that is HTTPS).
func (s *Server) secure(c echo.Context) bool {
	return c.Request().TLS != nil || c.Request().Header.Get("X-Forwarded-Proto") == "https" || strings.HasPrefix(s.cfg.PublicURL, "https://")
}

// handleDashboard renders the environments as an HTML page, filtered as
// the query asks (?all=true shows destroyed ones too). With the gauges,
// only the environments the query's filter selects are read, and the
// totals are the gauges'; without, every environment is read (this
// month's cost counts the destroyed ones too).
func (s *Server) handleDashboard(c echo.Context) error {
	q := ListQuery{
		ShowAll: c.QueryParam("all") == "true",
		Repo:    c.QueryParam("repo"), Status: c.QueryParam("status"), Parity: c.QueryParam("parity"),
		Search: strings.TrimSpace(c.QueryParam("q")),
	}
	q.CSRF, _ = c.Get("csrf").(string)
	q.Production = s.servesProductionPage()
	var filter preview.EnvironmentFilter
	if s.cfg.Gauges != nil {
		totals := s.cfg.Gauges.Totals()
		q.Totals, filter = &totals, q.filter()
	}
	envs, err := s.cfg.Store.FindEnvironments(c.Request().Context(), filter)
	if err != nil {
		return err
	}
	return s.page(c, http.StatusOK, func(w io.Writer) error { return s.cfg.Dashboard(w, envs, q) })
}

// handleEnvironmentPage renders one environment: its state, parity report,
// runs and, with a session, the actions.
func (s *Server) handleEnvironmentPage(c echo.Context) error {
	st := PageState{Message: pageMessages[c.QueryParam("done")]}
	st.CSRF, _ = c.Get("csrf").(string)
	return s.environmentPage(c, http.StatusOK, st)
}

func (s *Server) environmentPage(c echo.Context, status int, st PageState) error {
	ctx := c.Request().Context()
	env, err := s.cfg.Store.FindEnvironmentByName(ctx, c.Param("name"))
	if err != nil {
		return err
	}
	runs, err := s.cfg.Store.FindRuns(ctx, preview.RunsOf(env))
	if err != nil {
		return err
	}
	if len(runs) > 0 {
		st.LogTail = s.logTail(ctx, runs[len(runs)-1])
	}
	return s.page(c, status, func(w io.Writer) error { return s.cfg.Environment(c.Request().Context(), w, env, runs, st) })
}

// logTail returns the end of run's log as stored so far, "" when it has
// none.
func (s *Server) logTail(ctx context.Context, run preview.Run) string {
	f, err := s.openLog(ctx, run)
	if err != nil {
		return ""
	}
	defer f.Close()
	var tail []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := f.Read(buf)
		tail = append(tail, buf[:n]...)
		if len(tail) > 2*logTailBytes {
			tail = append(tail[:0], tail[len(tail)-logTailBytes:]...)
		}
		if err != nil {
			break
		}
	}
	if len(tail) > logTailBytes {
		tail = tail[len(tail)-logTailBytes:]
		if i := bytes.IndexByte(tail, '\n'); i >= 0 {
			tail = tail[i+1:]
		}
		return "…\n" + string(tail)
	}
	return string(tail)
}

// pageMessages are what an environment's page says after an action.
var pageMessages = map[string]string{
	preview.VerbRedeploy: "Redeploy queued.",
	preview.VerbDestroy:  "Destroy queued.",
	preview.VerbExtend:   "Expiry extended.",
	preview.VerbKeep:     "Kept past its idle time.",
	preview.VerbUnkeep:   "No longer kept: it expires after its idle time.",
}

// handleAction carries out an operator's action from the dashboard, by
// the same code as the admin API, and goes back to the environment's page.
func (s *Server) handleAction(c echo.Context) error {
	verb := c.Param("verb")
	if v, ok := preview.LookupVerb(verb); !ok || !v.UsableBy(preview.ByOperator) {
		return preview.Errorf(preview.ENOTFOUND, "no action %q", verb)
	}
	op := preview.Operation{Verb: verb, By: preview.ByOperator, Arg: c.FormValue("by")}
	if _, err := s.operate(c.Request().Context(), c.Param("name"), op); err != nil {
		var bad *preview.ArgumentError
		if errors.As(err, &bad) { // the form's field is "by"
			msg := fmt.Sprintf("%s by %s.", strings.ToUpper(verb[:1])+verb[1:], bad.Verb.ArgHint)
			return s.environmentPage(c, http.StatusBadRequest, PageState{CSRF: c.Get("csrf").(string), Error: msg})
		}
		if code := preview.ErrorCode(err); code == preview.ECONFLICT || code == preview.EINVALID {
			return s.environmentPage(c, codes[code], PageState{CSRF: c.Get("csrf").(string), Error: preview.ErrorMessage(err)})
		}
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/dashboard/environments/"+url.PathEscape(c.Param("name"))+"?done="+verb)
}

// servesProductionPage reports whether the dashboard has a production
// page: it acts, so it needs the login form and the pages that act.
func (s *Server) servesProductionPage() bool {
	return s.cfg.Dashboard != nil && s.cfg.Environment != nil && s.cfg.Login != nil && s.cfg.ProductionPage != nil
}

// productionPageWatches is how many watches of each repository the
// production page shows.
const productionPageWatches = 20

// handleProductionPage renders every watched repository's production: its
// last watches, newest first, and with a session the form that asks for a
// look now. ?asked=owner/name says one was asked for.
func (s *Server) handleProductionPage(c echo.Context) error {
	st := PageState{}
	st.CSRF, _ = c.Get("csrf").(string)
	if asked := c.QueryParam("asked"); asked != "" {
		if owner, name, ok := strings.Cut(asked, "/"); ok {
			if repo, _, err := s.watchedRepo(owner, name); err == nil {
				st.Message = "A look at the production of " + repo + " was asked for: it shows here once done."
			}
		}
	}
	histories, err := s.productionHistories(c.Request().Context(), productionPageWatches)
	if err != nil {
		return err
	}
	return s.page(c, http.StatusOK, func(w io.Writer) error { return s.cfg.ProductionPage(w, histories, st) })
}

// handleProductionAction asks for a look at a repository's production
// from the dashboard, by the same code as the admin API, and goes back to
// the production page.
func (s *Server) handleProductionAction(c echo.Context) error {
	repo, err := s.askProductionWatch(c)
	if err != nil {
		return err
	}
	s.log.Info("production watch requested from the dashboard", "repo", repo)
	back := url.URL{Path: "/dashboard/production", RawQuery: url.Values{"asked": {repo}}.Encode(), Fragment: repo} // the page's section of repo has its name as id
	return c.Redirect(http.StatusSeeOther, back.String())
}

// page renders an HTML page with the dashboard's Content-Security-Policy:
// nothing from outside previewd, no script, forms only to previewd.
func (s *Server) page(c echo.Context, status int, render func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := render(&buf); err != nil {
		return fmt.Errorf("render page: %w", err)
	}
	c.Response().Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	return c.HTMLBlob(status, buf.Bytes())
}

// handleAsset serves a page's stylesheet.
func (s *Server) handleAsset(c echo.Context) error {
	css, ok := s.cfg.Stylesheets[c.Param("name")]
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "no such asset")
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, "text/css; charset=utf-8", css)
}
