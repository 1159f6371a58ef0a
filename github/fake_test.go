package github

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeGitHub is an httptest server speaking the part of GitHub's REST API
// previewd uses, with GitHub's JSON shapes and Link pagination. It records
// every request and, when the test ends, checks each against GitHub's
// OpenAPI description.
type fakeGitHub struct {
	t      *testing.T
	server *httptest.Server
	prefix string // the API's path prefix: "" for github.com, "/api/v3" for GHES

	mu       sync.Mutex
	requests []recordedRequest
	comments map[int][]*fakeComment // by issue number, oldest first
	pulls    []map[string]any
	nextID   int64
	clock    time.Time
	maxPage  int                       // GitHub's per_page cap; lowered to force pagination
	script   map[string][]fakeResponse // "METHOD /path" (after the prefix) → answers to give first, in order

	deployments        []map[string]any            // request bodies, with "id" added
	deploymentStatuses []map[string]any            // request bodies, with "deployment_id" added
	statuses           []map[string]any            // request bodies, with "sha" added
	reactions          []map[string]any            // request bodies, with "comment_id" added
	permissions        map[string][2]string        // login → {permission, role_name}
	checkRuns          map[string][]map[string]any // by head SHA: check runs as GitHub lists them
	commitStatuses     map[string][]map[string]any // by SHA: the newest status per context
	hookDeliveries     []map[string]any            // the App's delivery log, newest first
	redeliveries       []int64                     // attempts asked to be delivered again
	manifestCodes      map[string]map[string]any   // App manifest codes → the App their conversion returns, once
	ownRuns            map[int64]*fakeCheckRun     // the check runs previewd wrote, by id (fake_checkruns_test.go)
	issues             fakeIssues                  // issues of every repository (fake_issues_test.go)

	app *fakeApp // App mode when set: see fake_app_test.go
}

// fakeResponse is an answer scripted for one request.
type fakeResponse struct {
	Status  int
	Header  map[string]string
	Message string
}

type recordedRequest struct {
	Method string
	Path   string // as received, prefix included
	Query  url.Values
	Header http.Header
	Body   []byte
	Auth   string // App mode: "jwt", "installation:<id>:<n>" (the n-th token issued), or "" when refused
	// Refused: the installation was not granted the permission it needs
	// (403), as the test set up.
	Refused bool
}

type fakeComment struct {
	ID      int64
	Body    string
	Login   string
	Created time.Time
	Updated time.Time
}

func newFakeGitHub(t *testing.T, prefix string) *fakeGitHub {
	t.Helper()
	f := &fakeGitHub{
		t:           t,
		prefix:      prefix,
		comments:    map[int][]*fakeComment{},
		nextID:      1_000_000,
		clock:       time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		maxPage:     100,
		script:      map[string][]fakeResponse{},
		permissions: map[string][2]string{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /repos/{owner}/{repo}/issues/{number}/comments", f.listComments)
	mux.HandleFunc("POST /repos/{owner}/{repo}/issues/{number}/comments", f.createComment)
	mux.HandleFunc("PATCH /repos/{owner}/{repo}/issues/comments/{id}", f.editComment)
	mux.HandleFunc("GET /repos/{owner}/{repo}/pulls", f.listPulls)
	mux.HandleFunc("GET /repos/{owner}/{repo}/pulls/{number}", f.getPull)
	mux.HandleFunc("POST /repos/{owner}/{repo}/deployments", f.createDeployment)
	mux.HandleFunc("GET /repos/{owner}/{repo}/deployments", f.listDeployments)
	mux.HandleFunc("POST /repos/{owner}/{repo}/deployments/{id}/statuses", f.createDeploymentStatus)
	mux.HandleFunc("POST /repos/{owner}/{repo}/statuses/{sha}", f.createStatus)
	mux.HandleFunc("GET /repos/{owner}/{repo}/collaborators/{user}/permission", f.getPermission)
	mux.HandleFunc("POST /repos/{owner}/{repo}/issues/comments/{id}/reactions", f.createReaction)
	mux.HandleFunc("GET /repos/{owner}/{repo}/installation", f.getRepoInstallation)
	mux.HandleFunc("GET /app", f.getApp)
	mux.HandleFunc("GET /app/installations", f.listInstallations)
	mux.HandleFunc("POST /app/installations/{id}/access_tokens", f.createToken)
	mux.HandleFunc("GET /installation/repositories", f.listInstallationRepos)
	mux.HandleFunc("GET /repos/{owner}/{repo}/commits/{ref}/check-runs", f.listCheckRuns)
	mux.HandleFunc("POST /repos/{owner}/{repo}/check-runs", f.createCheckRun)
	mux.HandleFunc("PATCH /repos/{owner}/{repo}/check-runs/{id}", f.updateCheckRun)
	mux.HandleFunc("GET /repos/{owner}/{repo}/check-runs/{id}", f.getCheckRun)
	mux.HandleFunc("GET /app/hook/deliveries", f.listHookDeliveries)
	mux.HandleFunc("POST /app/hook/deliveries/{id}/attempts", f.redeliver)
	mux.HandleFunc("GET /repos/{owner}/{repo}/commits/{ref}/status", f.combinedStatus)
	mux.HandleFunc("POST /app-manifests/{code}/conversions", f.convertManifest)
	mux.HandleFunc("POST /repos/{owner}/{repo}/issues", f.createIssue)
	mux.HandleFunc("GET /repos/{owner}/{repo}/issues/{number}", f.getIssue)
	mux.HandleFunc("PATCH /repos/{owner}/{repo}/issues/{number}", f.updateIssue)
	api := http.StripPrefix(prefix, mux)
	f.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		path := strings.TrimPrefix(r.URL.Path, prefix)
		f.mu.Lock()
		auth, authErr := f.authenticate(r.Method, path, r.Header.Get("Authorization"))
		f.requests = append(f.requests, recordedRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body, Auth: auth})
		key := r.Method + " " + path
		var scripted *fakeResponse
		if queue := f.script[key]; len(queue) > 0 {
			scripted, f.script[key] = &queue[0], queue[1:]
		}
		f.mu.Unlock()
		if !strings.HasPrefix(r.URL.Path, prefix+"/") {
			writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
			return
		}
		if authErr != nil {
			writeJSON(w, authErr.status, map[string]any{"message": authErr.message, "documentation_url": "https://docs.github.com/rest"})
			return
		}
		if scripted != nil {
			writeScripted(w, *scripted)
			return
		}
		if f.refused(r.Method, path, auth) {
			f.mu.Lock()
			for i := len(f.requests) - 1; i >= 0; i-- {
				if f.requests[i].Method == r.Method && f.requests[i].Path == r.URL.Path {
					f.requests[i].Refused = true
					break
				}
			}
			f.mu.Unlock()
			writeJSON(w, http.StatusForbidden, map[string]any{"message": "Resource not accessible by integration"})
			return
		}
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		f.server.Close()
		checkConformance(t, prefix, f.recorded())
		checkPermissions(t, prefix, f.recorded(), f.installationGrant)
	})
	return f
}

func writeScripted(w http.ResponseWriter, resp fakeResponse) {
	for k, v := range resp.Header {
		w.Header().Set(k, v)
	}
	msg := resp.Message
	if msg == "" {
		msg = http.StatusText(resp.Status)
	}
	writeJSON(w, resp.Status, map[string]any{"message": msg, "documentation_url": "https://docs.github.com/rest", "status": strconv.Itoa(resp.Status)})
}

// URL is the base URL a client should be given.
func (f *fakeGitHub) URL() string { return f.server.URL + f.prefix + "/" }

func (f *fakeGitHub) recorded() []recordedRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recordedRequest(nil), f.requests...)
}

// methods lists the requests made so far as "METHOD /path", without the
// API prefix.
func (f *fakeGitHub) methods() []string {
	var got []string
	for _, r := range f.recorded() {
		got = append(got, r.Method+" "+strings.TrimPrefix(r.Path, f.prefix))
	}
	return got
}

// addComment seeds a comment on issue number and returns its ID.
func (f *fakeGitHub) addComment(number int, login, body string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addCommentLocked(number, login, body).ID
}

func (f *fakeGitHub) addCommentLocked(number int, login, body string) *fakeComment {
	f.nextID++
	f.clock = f.clock.Add(time.Minute)
	c := &fakeComment{ID: f.nextID, Body: body, Login: login, Created: f.clock, Updated: f.clock}
	f.comments[number] = append(f.comments[number], c)
	return c
}

// deleteComment removes a comment as a person on GitHub would.
func (f *fakeGitHub) deleteComment(id int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for n, cs := range f.comments {
		for i, c := range cs {
			if c.ID == id {
				f.comments[n] = append(cs[:i:i], cs[i+1:]...)
			}
		}
	}
}

func (f *fakeGitHub) issueComments(number int) []fakeComment {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeComment
	for _, c := range f.comments[number] {
		out = append(out, *c)
	}
	return out
}

// failOnce makes the next request to method and path fail with status and
// message. A message starting "API rate limit exceeded" comes with the
// headers of an exhausted primary rate limit, reset in an hour.
func (f *fakeGitHub) failOnce(method, path string, status int, message string) {
	resp := fakeResponse{Status: status, Message: message}
	if strings.HasPrefix(message, "API rate limit exceeded") {
		resp.Header = map[string]string{
			"X-RateLimit-Limit":     "5000",
			"X-RateLimit-Remaining": "0",
			"X-RateLimit-Reset":     strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10),
		}
	}
	f.respond(method, path, resp)
}

// respond queues answers for the next requests to method and path (after
// the prefix); requests past them are served as usual.
func (f *fakeGitHub) respond(method, path string, answers ...fakeResponse) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := method + " " + path
	f.script[key] = append(f.script[key], answers...)
}

func (f *fakeGitHub) commentJSON(r *http.Request, number int, c *fakeComment) map[string]any {
	repo := r.PathValue("owner") + "/" + r.PathValue("repo")
	api := f.server.URL + f.prefix + "/repos/" + repo
	userType, association := "User", "CONTRIBUTOR"
	switch {
	case strings.HasSuffix(c.Login, "[bot]"):
		userType, association = "Bot", "NONE"
	case c.Login == "maintainer":
		association = "MEMBER"
	}
	return map[string]any{
		"id":                 c.ID,
		"node_id":            fmt.Sprintf("IC_kwDOA%d", c.ID),
		"url":                fmt.Sprintf("%s/issues/comments/%d", api, c.ID),
		"html_url":           fmt.Sprintf("https://github.com/%s/pull/%d#issuecomment-%d", repo, number, c.ID),
		"issue_url":          fmt.Sprintf("%s/issues/%d", api, number),
		"body":               c.Body,
		"user":               map[string]any{"login": c.Login, "id": 41898282, "type": userType, "site_admin": false},
		"created_at":         c.Created.Format(time.RFC3339),
		"updated_at":         c.Updated.Format(time.RFC3339),
		"author_association": association,
	}
}

func (f *fakeGitHub) listComments(w http.ResponseWriter, r *http.Request) {
	number, _ := strconv.Atoi(r.PathValue("number"))
	f.mu.Lock()
	defer f.mu.Unlock()
	all := f.comments[number]
	from, to := f.paginate(w, r, len(all))
	out := []map[string]any{}
	for _, c := range all[from:to] {
		out = append(out, f.commentJSON(r, number, c))
	}
	writeJSON(w, http.StatusOK, out)
}

// paginate works out the slice [from, to) of n items that r asks for and
// sets GitHub's Link header.
func (f *fakeGitHub) paginate(w http.ResponseWriter, r *http.Request, n int) (from, to int) {
	perPage, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if perPage <= 0 {
		perPage = 30
	}
	perPage = min(perPage, f.maxPage)
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	last := max(1, (n+perPage-1)/perPage)
	link := func(p int, rel string) string {
		u := *r.URL
		u.Scheme, u.Host = "http", r.Host
		q := u.Query()
		q.Set("per_page", strconv.Itoa(perPage))
		q.Set("page", strconv.Itoa(p))
		u.RawQuery = q.Encode()
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	var links []string
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(page-1, "prev"), link(1, "first"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	from = min(n, (page-1)*perPage)
	return from, min(n, from+perPage)
}

func (f *fakeGitHub) createComment(w http.ResponseWriter, r *http.Request) {
	number, _ := strconv.Atoi(r.PathValue("number"))
	var in struct {
		Body *string `json:"body"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Body == nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Invalid request."})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.addCommentLocked(number, "previewd[bot]", *in.Body)
	w.Header().Set("Location", fmt.Sprintf("%s%s/repos/%s/%s/issues/comments/%d", f.server.URL, f.prefix, r.PathValue("owner"), r.PathValue("repo"), c.ID))
	writeJSON(w, http.StatusCreated, f.commentJSON(r, number, c))
}

func (f *fakeGitHub) editComment(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	var in struct {
		Body *string `json:"body"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Body == nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Invalid request."})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for number, cs := range f.comments {
		for _, c := range cs {
			if c.ID == id {
				f.clock = f.clock.Add(time.Minute)
				c.Body, c.Updated = *in.Body, f.clock
				writeJSON(w, http.StatusOK, f.commentJSON(r, number, c))
				return
			}
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found", "documentation_url": "https://docs.github.com/rest/issues/comments#update-an-issue-comment", "status": "404"})
}

// addPull seeds a pull request as GitHub returns it. headRepo "" means the
// head repository was deleted (GitHub sends "repo": null).
func (f *fakeGitHub) addPull(number int, state, branch, sha, author, baseRepo, headRepo string, labels ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	repoJSON := func(full string) any {
		if full == "" {
			return nil
		}
		owner, _, _ := strings.Cut(full, "/")
		return map[string]any{"id": len(full), "name": full[len(owner)+1:], "full_name": full, "fork": full != baseRepo, "owner": map[string]any{"login": owner}}
	}
	var ls []map[string]any
	for i, l := range labels {
		ls = append(ls, map[string]any{"id": i + 1, "name": l, "color": "ededed", "default": false})
	}
	f.clock = f.clock.Add(time.Minute)
	f.pulls = append(f.pulls, map[string]any{
		"id": 9000 + number, "number": number, "state": state, "draft": number%2 == 0, "locked": false,
		"title": "PR " + strconv.Itoa(number), "user": map[string]any{"login": author, "type": "User"},
		"labels":     ls,
		"head":       map[string]any{"label": author + ":" + branch, "ref": branch, "sha": sha, "repo": repoJSON(headRepo)},
		"base":       map[string]any{"label": "main", "ref": "main", "sha": "0000000", "repo": repoJSON(baseRepo)},
		"created_at": f.clock.Format(time.RFC3339), "updated_at": f.clock.Format(time.RFC3339),
		"html_url": fmt.Sprintf("https://github.com/%s/pull/%d", baseRepo, number),
	})
}

func (f *fakeGitHub) listPulls(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	state := r.URL.Query().Get("state")
	var matching []map[string]any
	for _, p := range f.pulls {
		if state == "all" || p["state"] == state || (state == "" && p["state"] == "open") {
			matching = append(matching, p)
		}
	}
	from, to := f.paginate(w, r, len(matching))
	out := append([]map[string]any{}, matching[from:to]...)
	writeJSON(w, http.StatusOK, out)
}

func (f *fakeGitHub) getPull(w http.ResponseWriter, r *http.Request) {
	number, _ := strconv.Atoi(r.PathValue("number"))
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.pulls {
		if p["number"] == number {
			writeJSON(w, http.StatusOK, p)
			return
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// addCheckRun adds a check run on sha: status queued, in_progress or
// completed, with conclusion when completed.
func (f *fakeGitHub) addCheckRun(sha, name, status, conclusion string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.checkRuns == nil {
		f.checkRuns = map[string][]map[string]any{}
	}
	f.nextID++
	run := map[string]any{"id": f.nextID, "node_id": "CR_x", "head_sha": sha, "external_id": "", "name": name, "status": status,
		"conclusion": nil, "started_at": f.clock.Format(time.RFC3339), "completed_at": nil,
		"url": "https://api.github.com/repos/acme/shop/check-runs/1", "html_url": "https://github.com/acme/shop/runs/1", "details_url": nil,
		"output":      map[string]any{"title": nil, "summary": nil, "text": nil, "annotations_count": 0, "annotations_url": "https://api.github.com/x"},
		"check_suite": map[string]any{"id": 5}, "app": nil, "pull_requests": []any{}}
	if status == "completed" {
		run["conclusion"], run["completed_at"] = conclusion, f.clock.Format(time.RFC3339)
	}
	// GitHub lists the newest first.
	f.checkRuns[sha] = append([]map[string]any{run}, f.checkRuns[sha]...)
}

// addStatus sets the status of context on sha.
func (f *fakeGitHub) addStatus(sha, context, state string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.commitStatuses == nil {
		f.commitStatuses = map[string][]map[string]any{}
	}
	f.nextID++
	f.commitStatuses[sha] = append(f.commitStatuses[sha], map[string]any{"id": f.nextID, "node_id": "SC_x", "url": "https://api.github.com/x",
		"avatar_url": nil, "description": nil, "target_url": nil, "context": context, "state": state,
		"created_at": f.clock.Format(time.RFC3339), "updated_at": f.clock.Format(time.RFC3339)})
}

func (f *fakeGitHub) listCheckRuns(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	all := f.checkRuns[r.PathValue("ref")]
	from, to := f.paginate(w, r, len(all))
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(all), "check_runs": append([]map[string]any{}, all[from:to]...)})
}

func (f *fakeGitHub) combinedStatus(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sha := r.PathValue("ref")
	all := f.commitStatuses[sha]
	from, to := f.paginate(w, r, len(all))
	state := "success"
	for _, s := range all {
		if s["state"] != "success" {
			state = "pending"
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"state": state, "sha": sha, "total_count": len(all), "statuses": append([]map[string]any{}, all[from:to]...),
		"repository": map[string]any{"id": 1, "full_name": r.PathValue("owner") + "/" + r.PathValue("repo")},
		"commit_url": "https://api.github.com/repos/acme/shop/commits/" + sha, "url": "https://api.github.com/repos/acme/shop/commits/" + sha + "/status"})
}

// addHookDelivery adds an attempt to the App's delivery log (newest first,
// as GitHub lists them).
func (f *fakeGitHub) addHookDelivery(id int64, guid, event string, status int, at time.Time, redelivery bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hookDeliveries = append([]map[string]any{{"id": id, "guid": guid, "delivered_at": at.UTC().Format(time.RFC3339), "redelivery": redelivery,
		"duration": 0.05, "status": http.StatusText(status), "status_code": status, "event": event, "action": "opened",
		"installation_id": 7, "repository_id": 1}}, f.hookDeliveries...)
}

// listHookDeliveries serves the delivery log with GitHub's cursor
// pagination: the cursor is the index of the page's first item.
func (f *fakeGitHub) listHookDeliveries(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	perPage, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	perPage = min(max(perPage, 1), f.maxPage)
	from, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
	from = min(from, len(f.hookDeliveries))
	to := min(from+perPage, len(f.hookDeliveries))
	if to < len(f.hookDeliveries) {
		u := *r.URL
		u.Scheme, u.Host = "http", r.Host
		q := u.Query()
		q.Set("cursor", strconv.Itoa(to))
		u.RawQuery = q.Encode()
		w.Header().Set("Link", fmt.Sprintf("<%s>; rel=\"next\"", u.String()))
	}
	writeJSON(w, http.StatusOK, append([]map[string]any{}, f.hookDeliveries[from:to]...))
}

func (f *fakeGitHub) redeliver(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	f.mu.Lock()
	f.redeliveries = append(f.redeliveries, id)
	f.mu.Unlock()
	writeJSON(w, http.StatusAccepted, map[string]any{})
}
