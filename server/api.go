package server

import (
	"bufio"
	_ "embed"
	"encoding/json"
	"hash/maphash"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	preview "github.com/previewd/previewd"
)

// The admin API answers with these types, never with the store's records:
// how an environment is kept can change without changing what operators
// and their tools read.

// Environment is an environment as the admin API shows it.
type Environment struct {
	Name       string            `json:"name"`
	Repo       string            `json:"repo"` // owner/name
	PR         int               `json:"pr"`
	Branch     string            `json:"branch"`
	HeadSHA    string            `json:"head_sha"` // the head wanted applied
	Status     preview.Status    `json:"status"`
	URL        string            `json:"url"`
	CreatedAt  time.Time         `json:"created_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
	ExpiresAt  time.Time         `json:"expires_at"`
	LastError  string            `json:"last_error"`
	AppliedSHA string            `json:"applied_sha"`
	Outputs    map[string]string `json:"outputs,omitempty"` // sensitive outputs are never kept
	LastRunID  string            `json:"last_run_id,omitempty"`
	LastRunAt  time.Time         `json:"last_run_at,omitzero"`
	Desired    Desired           `json:"desired"`
	// Retry says when a failed run is tried again, while it will be.
	Retry   *Retry                `json:"retry,omitempty"`
	Module  preview.ModuleVersion `json:"module,omitzero"`
	Parity  preview.ParityReport  `json:"parity,omitzero"`
	Drifted bool                  `json:"drifted,omitempty"`
	Seeded  bool                  `json:"seeded,omitempty"`
	Checks  preview.Checks        `json:"checks,omitzero"`
	// What previewd shows on the pull request (in offline mode, what it
	// would have written).
	Comment      Comment      `json:"comment"`
	Deployment   Deployment   `json:"deployment,omitzero"`
	CommitStatus CommitStatus `json:"commit_status,omitzero"`
	ParityStatus CommitStatus `json:"parity_status,omitzero"`
	// History is how its status moved, oldest first (the last 50).
	History []preview.Transition `json:"history,omitempty"`
	// Budget is set while a new environment waits for room within
	// max_live_environments.
	Budget *preview.BudgetWait `json:"budget,omitempty"`
	// Cost is what the environment cost, when its repository has a price.
	Cost *Cost `json:"cost,omitempty"`
}

// Cost is an environment's estimated cost: its environment-hours (from
// its first successful apply to its destroy, over all its lives) at its
// hourly price.
type Cost struct {
	Currency    string  `json:"currency"`
	Hourly      float64 `json:"hourly"`       // the price of an hour
	Hours       float64 `json:"hours"`        // environment-hours so far
	SoFar       float64 `json:"so_far"`       // what they cost
	MonthHours  float64 `json:"month_hours"`  // environment-hours this month (UTC)
	Month       float64 `json:"month"`        // what they cost
	UntilExpiry float64 `json:"until_expiry"` // what it will have cost if it lives until its expiry
}

// Desired is what GitHub and the operators want of an environment.
type Desired struct {
	Present     bool           `json:"present"`
	PROpen      bool           `json:"pr_open"`
	Reason      preview.Reason `json:"reason"`
	Generation  int64          `json:"generation"`
	BaseBranch  string         `json:"base_branch,omitempty"`
	Labels      []string       `json:"labels,omitempty"`
	Author      string         `json:"author"`
	Fork        bool           `json:"fork"`
	ApprovedSHA string         `json:"approved_sha,omitempty"`
	Pinned      bool           `json:"pinned,omitempty"`
}

// Retry is a failed run's next attempt.
type Retry struct {
	Phase     preview.Phase `json:"phase"`
	Attempts  int           `json:"attempts"` // consecutive failures so far
	At        time.Time     `json:"at"`
	Transient bool          `json:"transient"` // the failure may pass by itself
}

// Comment is previewd's comment on the pull request.
type Comment struct {
	ID        int64     `json:"id,omitempty"`
	Body      string    `json:"body,omitempty"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// Deployment is previewd's GitHub deployment for the applied head.
type Deployment struct {
	ID    int64  `json:"id,omitempty"`
	SHA   string `json:"sha,omitempty"`
	State string `json:"state,omitempty"`
}

// CommitStatus is a commit status previewd posted, or in App mode the
// check run of that name: its id and page.
type CommitStatus struct {
	SHA        string `json:"sha,omitempty"`
	State      string `json:"state,omitempty"`
	CheckRunID int64  `json:"check_run_id,omitempty"`
	URL        string `json:"url,omitempty"`
}

// Database is what a preview's database held while the environment last
// came up, and the verdict (GET …/database).
type Database struct {
	Watched bool           `json:"watched"`
	Why     string         `json:"why,omitempty"`
	SHA     string         `json:"sha,omitempty"`
	From    *time.Time     `json:"from,omitempty"`
	To      *time.Time     `json:"to,omitempty"`
	Samples int            `json:"samples"`
	Holds   []DatabaseHold `json:"holds"`
	// DeclaredData are the declared differences with the reason data.
	DeclaredData []string `json:"declared_data,omitempty"`
	Verdict      struct {
		Status  string   `json:"status"`
		Reasons []string `json:"reasons,omitempty"`
	} `json:"verdict"`
}

// DatabaseHold is one relation's locks.
type DatabaseHold struct {
	Relation       string   `json:"relation"`
	Statement      string   `json:"statement"`
	ReadStatement  string   `json:"read_statement,omitempty"`
	HeldBefore     bool     `json:"held_before_watch,omitempty"`
	Mode           string   `json:"mode"`
	BlockedWrites  float64  `json:"blocked_writes_seconds"`
	BlockedReads   float64  `json:"blocked_reads_seconds"`
	LongestWait    float64  `json:"longest_wait_seconds"`
	Rows           float64  `json:"rows"`
	ProductionRows *float64 `json:"production_rows,omitempty"`
}

// databaseOf is r as the API shows it.
func databaseOf(r preview.DatabaseReport) Database {
	out := Database{Watched: r.Watched, Why: r.Why, SHA: r.SHA, Samples: r.Samples, Holds: []DatabaseHold{}, DeclaredData: r.DeclaredData}
	if !r.From.IsZero() {
		out.From, out.To = &r.From, &r.To
	}
	out.Verdict.Status, out.Verdict.Reasons = r.Verdict.Status, r.Verdict.Reasons
	for _, h := range r.Holds {
		out.Holds = append(out.Holds, DatabaseHold{Relation: h.Relation, Statement: h.Statement, ReadStatement: h.ReadStatement, HeldBefore: h.HeldBeforeWatch, Mode: h.Mode,
			BlockedWrites: h.BlockedWrites.Seconds(), BlockedReads: h.BlockedReads.Seconds(), LongestWait: h.LongestWait.Seconds(),
			Rows: h.Rows, ProductionRows: h.ProductionRows})
	}
	return out
}

func commitStatus(s preview.CommitStatus) CommitStatus {
	return CommitStatus{SHA: s.SHA, State: s.State, CheckRunID: s.CheckRunID, URL: s.URL}
}

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI 3 description of the admin API, which every
// answer of it keeps to (the tests validate them against it).
func OpenAPI() []byte { return openAPI }

// environmentOf is env as the API shows it.
func environmentOf(env preview.Environment) Environment {
	d := env.Desired
	out := Environment{
		Name: env.Name, Repo: env.Repo, PR: env.PR, Branch: env.Branch, HeadSHA: env.HeadSHA,
		Status: env.Status, URL: env.URL, CreatedAt: env.CreatedAt, UpdatedAt: env.UpdatedAt,
		ExpiresAt: env.ExpiresAt, LastError: env.LastError, AppliedSHA: env.AppliedSHA,
		Outputs: env.Outputs, LastRunID: env.LastRunID, LastRunAt: env.LastRunAt,
		Desired: Desired{
			Present: d.Present, PROpen: d.PROpen, Reason: d.Reason, Generation: d.Generation,
			BaseBranch: d.BaseBranch, Labels: d.Labels, Author: d.Author, Fork: d.Fork,
			ApprovedSHA: d.ApprovedSHA, Pinned: d.Pinned,
		},
		Module: env.Module, Parity: env.Parity, Budget: env.Budget, History: env.History, Drifted: env.Drifted, Seeded: env.Seeded, Checks: env.Checks,
		Comment:      Comment{ID: env.Comment.ID, Body: env.Comment.Body, UpdatedAt: env.Comment.UpdatedAt},
		Deployment:   Deployment{ID: env.Deployment.ID, SHA: env.Deployment.SHA, State: env.Deployment.State},
		CommitStatus: commitStatus(env.CommitStatus),
		ParityStatus: commitStatus(env.ParityStatus),
	}
	if p := out.Parity; p.Findings == nil && (!p.CheckedAt.IsZero() || p.Status != "" || p.SHA != "" || p.Error != "") {
		out.Parity.Findings = []preview.Finding{}
	}
	if env.Status == preview.StatusFailed && !env.RetryAt.IsZero() {
		out.Retry = &Retry{Phase: env.LastPhase, Attempts: env.Attempts, At: env.RetryAt, Transient: env.Transient}
	}
	return out
}

// Run is a Terraform run as the API shows it.
type Run struct {
	ID          string           `json:"id"`
	Environment string           `json:"environment"`
	Repo        string           `json:"repo"` // the pull request it was made for
	PR          int              `json:"pr"`
	Phase       preview.Phase    `json:"phase"`
	HeadSHA     string           `json:"head_sha"`
	Generation  int64            `json:"generation"`
	State       preview.RunState `json:"state"`
	StartedAt   time.Time        `json:"started_at"`
	FinishedAt  time.Time        `json:"finished_at,omitzero"`
	Seconds     float64          `json:"seconds,omitempty"` // how long it took, once finished
	Replica     string           `json:"replica,omitempty"` // which replica ran it, when several share the store
	Error       string           `json:"error,omitempty"`
}

func runOf(r preview.Run) Run {
	out := Run{ID: r.ID, Environment: r.Environment, Repo: r.Repo, PR: r.PR, Phase: r.Phase, HeadSHA: r.HeadSHA, Generation: r.Generation,
		State: r.State, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, Error: r.Error, Replica: r.Replica}
	if !r.FinishedAt.IsZero() {
		out.Seconds = r.FinishedAt.Sub(r.StartedAt).Seconds()
	}
	return out
}

// ProductionRepo is a watched repository's production as the admin API
// shows it (GET /api/v1/production).
type ProductionRepo struct {
	Repo string `json:"repo"` // owner/name
	// IntervalSeconds is how often production is looked at; 0: only when
	// asked.
	IntervalSeconds float64          `json:"interval_seconds"`
	Last            *ProductionWatch `json:"last"` // null before the first watch
}

// ProductionWatch is one read-only look at a repository's production as
// the admin API shows it.
type ProductionWatch struct {
	Repo        string    `json:"repo"`
	At          time.Time `json:"at"` // when it started
	TookSeconds float64   `json:"took_seconds"`
	// Module is the version of production's module it compared with.
	Module preview.ModuleVersion `json:"module,omitzero"`
	// Status is drift, ok or failed (Error says why).
	Status   string              `json:"status"`
	Error    string              `json:"error,omitempty"`
	Findings []ProductionFinding `json:"findings"`
	// Ignored counts the attributes production.ignore expects to move.
	Ignored int `json:"ignored"`
	// Issue is the GitHub issue reporting the repository's production
	// drift, once there is one, and IssueURL its page.
	Issue    int    `json:"issue,omitempty"`
	IssueURL string `json:"issue_url,omitempty"`
}

// ProductionFinding is one attribute of production apart from its module.
type ProductionFinding struct {
	Kind    string `json:"kind"`    // changed_outside, deleted_outside or pending
	Address string `json:"address"` // the resource
	Path    string `json:"path"`    // the attribute within it; "" for the whole resource
	Live    string `json:"live"`    // production's value (sensitive ones redacted)
	Module  string `json:"module"`  // the module's value, the one the next apply writes
	Where   string `json:"where"`   // the module's file:line, when known
	Text    string `json:"text"`    // the finding in a sentence
}

// The statuses of a production watch.
const (
	productionOK     = "ok"
	productionDrift  = "drift"
	productionFailed = "failed"
)

// productionStatus is the status of a watch that failed or found
// findings attributes apart: the API's, the dashboard's and the metrics'.
func productionStatus(failed bool, findings int) string {
	switch {
	case failed:
		return productionFailed
	case findings > 0:
		return productionDrift
	}
	return productionOK
}

// productionWatchOf is w as the API shows it.
func (s *Server) productionWatchOf(w preview.ProductionWatch) ProductionWatch {
	out := ProductionWatch{Repo: w.Repo, At: w.At, TookSeconds: w.Took.Seconds(), Module: w.Module,
		Status: productionStatus(w.Failed(), len(w.Findings)), Error: w.Error, Ignored: w.Ignored, Issue: w.Issue,
		Findings: make([]ProductionFinding, 0, len(w.Findings))}
	if w.Issue != 0 && w.Repo != "" {
		out.IssueURL = issueURL(s.cfg.GitHubAPIURL, w.Repo, w.Issue)
	}
	for _, f := range w.Findings {
		out.Findings = append(out.Findings, ProductionFinding{Kind: f.Kind, Address: f.Address, Path: f.Path,
			Live: f.Live, Module: f.Module, Where: f.Where, Text: f.String()})
	}
	return out
}

// views keeps each environment's API encoding beside a hash of the stored
// record it was made from, so listing thousands of environments decodes
// and encodes only those that changed since the last list.
type views struct {
	mu    sync.Mutex
	seed  maphash.Seed
	cache map[string]view
}

type view struct {
	sum     uint64
	json    []byte
	metered *preview.Metered // what its cost is computed from; nil without a price
}

func newViews() *views { return &views{seed: maphash.MakeSeed(), cache: map[string]view{}} }

// of returns the API encoding of the environment stored as data, without
// its cost, and what pricing reads of it when pricing prices it.
func (v *views) of(name string, data []byte, pricing preview.Pricing) ([]byte, *preview.Metered, error) {
	sum := maphash.Bytes(v.seed, data)
	v.mu.Lock()
	cached, ok := v.cache[name]
	v.mu.Unlock()
	if ok && cached.sum == sum {
		return cached.json, cached.metered, nil
	}
	var env preview.Environment
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, nil, err
	}
	out, err := json.Marshal(environmentOf(env))
	if err != nil {
		return nil, nil, err
	}
	cached = view{sum: sum, json: out}
	if m := env.Metered(); pricing.Priced(m) {
		cached.metered = &m
	}
	v.mu.Lock()
	v.cache[name] = cached
	v.mu.Unlock()
	return cached.json, cached.metered, nil
}

// listView is the API encoding of the environment stored as data, with
// its cost at now when pricing prices it.
func (s *Server) listView(name string, data []byte, now time.Time) ([]byte, error) {
	view, metered, err := s.views.of(name, data, s.cfg.Pricing)
	if err != nil || metered == nil {
		return view, err
	}
	if cost, ok := s.cfg.Pricing.Cost(*metered, now); ok {
		return withCost(view, costOf(cost))
	}
	return view, nil
}

// costOf is c as the API shows it.
func costOf(c preview.Cost) Cost {
	return Cost{Currency: c.Currency, Hourly: c.Hourly, Hours: c.Hours, SoFar: c.SoFar,
		MonthHours: c.MonthHours, Month: c.Month, UntilExpiry: c.UntilExpiry}
}

// withCost appends "cost" to an environment's encoded view.
func withCost(view []byte, c Cost) ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(view)+len(b)+8)
	out = append(out, view[:len(view)-1]...)
	out = append(out, `,"cost":`...)
	out = append(out, b...)
	return append(out, '}'), nil
}

// jsonArray is a JSON array of encoded elements, kept as they are (the
// views' own bytes) until it is written: a list of thousands is never
// copied into one body.
type jsonArray struct {
	elems [][]byte
	size  int // the elements' bytes, each with its comma or closing bracket
}

func (a *jsonArray) add(elem []byte) {
	a.elems = append(a.elems, elem)
	a.size += len(elem) + 1
}

// write answers status with the array as JSON, its length known, in
// writes of 64 KiB.
func (a *jsonArray) write(r *echo.Response, status int) error {
	h := r.Header()
	h.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	h.Set(echo.HeaderContentLength, strconv.Itoa(max(a.size+1, 2)))
	r.WriteHeader(status)
	w := bufio.NewWriterSize(r, 64<<10)
	w.WriteByte('[')
	for i, elem := range a.elems {
		if i > 0 {
			w.WriteByte(',')
		}
		w.Write(elem)
	}
	w.WriteByte(']')
	return w.Flush()
}
