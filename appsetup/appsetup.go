// Package appsetup registers previewd's GitHub App in one click, by
// GitHub's manifest flow: a page whose form posts the App's manifest to
// GitHub, and the callback GitHub sends the browser back to with a code,
// which is exchanged once for the App's ID, private key and webhook
// secret. These are written where previewd serve reads them: files (0600)
// and a configuration snippet, or a Kubernetes Secret manifest.
//
// The package knows nothing of GitHub's client: the caller gives the
// manifest, the URL of GitHub's registration page and the exchange.
package appsetup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// CallbackPath is the path GitHub sends the browser back to; a manifest's
// redirect_url is the setup server's URL with this path.
const CallbackPath = "/callback"

// maxStates bounds the states handed out and not yet used.
const maxStates = 100

// Credentials are the registered App's: its ID, slug and page, its
// private key (PEM) and its webhook secret (the last two are secrets).
type Credentials struct {
	ID            int64
	Slug          string
	HTMLURL       string
	PEM           string
	WebhookSecret string
}

// Options configure a Handler.
type Options struct {
	// Manifest is the App manifest, encoded as JSON into the form; its
	// redirect_url must be the setup server's URL + CallbackPath.
	Manifest any
	// NewAppURL is GitHub's page that registers an App from a manifest
	// posted to it (a user's or an organisation's).
	NewAppURL string
	// Convert exchanges the code GitHub returns for the App's
	// credentials. It is called at most once per code.
	Convert func(ctx context.Context, code string) (Credentials, error)
	// Output says where the credentials go.
	Output Output
	// Stdout receives the Kubernetes Secret manifest (Output.Kubernetes)
	// and, in either case, a summary of what was done.
	Stdout io.Writer
}

// Handler serves the setup page at / and the callback at CallbackPath.
// After the credentials are written, Done is closed and every later
// callback is refused.
type Handler struct {
	opts     Options
	manifest string
	mux      *http.ServeMux

	mu     sync.Mutex // held through a whole callback: one exchange at a time
	states map[string]bool
	done   chan struct{}
	result Result
}

// Result is what a successful setup wrote.
type Result struct {
	App   Credentials // PEM and WebhookSecret cleared
	Files []string    // the files written, in order
}

// New returns the Handler for opts. It returns an error when the manifest
// does not encode, or Convert, NewAppURL or Stdout is missing.
func New(opts Options) (*Handler, error) {
	if opts.Convert == nil || opts.NewAppURL == "" || opts.Stdout == nil {
		return nil, errors.New("appsetup: Convert, NewAppURL and Stdout are required")
	}
	m, err := json.Marshal(opts.Manifest)
	if err != nil {
		return nil, fmt.Errorf("appsetup: encode manifest: %w", err)
	}
	h := &Handler{opts: opts, manifest: string(m), mux: http.NewServeMux(), states: map[string]bool{}, done: make(chan struct{})}
	h.mux.HandleFunc("GET /{$}", h.page)
	h.mux.HandleFunc("GET "+CallbackPath, h.callback)
	return h, nil
}

// ServeHTTP serves the page and the callback.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	h.mux.ServeHTTP(w, r)
}

// Done is closed once the credentials are written.
func (h *Handler) Done() <-chan struct{} { return h.done }

// Result returns what the setup wrote; the zero Result before Done.
func (h *Handler) Result() Result {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.result
}

// page serves the form posting the manifest to GitHub, with a new state.
func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	select {
	case <-h.done:
		h.render(w, http.StatusGone, errorPage{Title: "Already done", Message: "This setup has registered its App already; this server is stopping."})
		return
	default:
	}
	state, err := h.newState()
	if err != nil {
		h.render(w, http.StatusInternalServerError, errorPage{Title: "Setup failed", Message: err.Error()})
		return
	}
	h.render(w, http.StatusOK, formPage{Action: h.opts.NewAppURL + "?state=" + state, Manifest: h.manifest})
}

// newState returns a random state, remembered until it is used.
func (h *Handler) newState() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random state: %w", err)
	}
	s := hex.EncodeToString(b)
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.states) >= maxStates {
		return "", errors.New("too many setup pages opened: restart previewd setup")
	}
	h.states[s] = true
	return s, nil
}

// callback checks the state, exchanges the code once and writes the
// credentials. A state this server did not hand out, or one already used,
// is refused with 403 before anything else; existing files with 409 (the
// code is kept, so the page can be reloaded once they are moved away); a
// failed exchange with 502. Nothing is written unless the exchange
// succeeds.
func (h *Handler) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	h.mu.Lock()
	defer h.mu.Unlock()
	state := q.Get("state")
	if state == "" || !h.states[state] {
		h.render(w, http.StatusForbidden, errorPage{Title: "Refused", Message: "This link was not handed out by this setup, or was used already. Start again from the setup page."})
		return
	}
	code := q.Get("code")
	if code == "" {
		h.render(w, http.StatusBadRequest, errorPage{Title: "No code", Message: "GitHub sent no code back: the App was not registered."})
		return
	}
	if err := h.opts.Output.Check(); err != nil {
		h.render(w, http.StatusConflict, errorPage{Title: "Nothing written", Message: err.Error() + ". Move it away (or restart with --force) and reload this page: the code stays valid for an hour."})
		return
	}
	delete(h.states, state)
	creds, err := h.opts.Convert(r.Context(), code)
	if err != nil {
		h.render(w, http.StatusBadGateway, errorPage{Title: "GitHub did not hand over the App", Message: err.Error() + ". Nothing was written."})
		return
	}
	files, err := h.opts.Output.Write(creds, h.opts.Stdout)
	if err != nil {
		h.render(w, http.StatusInternalServerError, errorPage{Title: "Writing the credentials failed", Message: err.Error()})
		return
	}
	creds.PEM, creds.WebhookSecret = "", ""
	h.result = Result{App: creds, Files: files}
	close(h.done)
	h.render(w, http.StatusOK, donePage{App: creds, Files: files, Output: h.opts.Output, InstallURL: installURL(creds)})
}

func installURL(c Credentials) string {
	if c.HTMLURL == "" {
		return ""
	}
	return c.HTMLURL + "/installations/new"
}

func (h *Handler) render(w http.ResponseWriter, status int, page any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = pages.ExecuteTemplate(w, templateOf(page), page)
}
