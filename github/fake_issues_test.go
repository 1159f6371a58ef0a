package github

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// fakeIssue is an issue of a repository, as the fake keeps it.
type fakeIssue struct {
	Repo        string // owner/name
	Number      int
	Title, Body string
	State       string // open or closed
	StateReason string // "" for null
	Deleted     bool   // a person deleted it: 410
	MovedTo     string // transferred: "owner/name#number"
	Writes      int    // the create and each update
	Updated     time.Time
}

// fakeIssues are the issues of every repository, by lower-case
// "owner/name#number".
type fakeIssues map[string]*fakeIssue

func issueKey(repo string, number int) string {
	return strings.ToLower(repo) + "#" + strconv.Itoa(number)
}

// issue returns a copy of issue number of repo, and whether it exists.
func (f *fakeGitHub) issue(repo string, number int) (fakeIssue, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, ok := f.issues[issueKey(repo, number)]
	if !ok {
		return fakeIssue{}, false
	}
	return *i, true
}

// issuesOf returns copies of repo's issues, deleted and moved ones left out.
func (f *fakeGitHub) issuesOf(repo string) []fakeIssue {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeIssue
	for _, i := range f.issues {
		if strings.EqualFold(i.Repo, repo) && !i.Deleted && i.MovedTo == "" {
			out = append(out, *i)
		}
	}
	return out
}

// editIssue changes an issue as a person on GitHub would.
func (f *fakeGitHub) editIssue(repo string, number int, edit func(i *fakeIssue)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	edit(f.issues[issueKey(repo, number)])
}

// transferIssue moves an issue to another repository, as a person would.
func (f *fakeGitHub) transferIssue(repo string, number int, to string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.issues[issueKey(repo, number)]
	moved := f.newIssueLocked(to, i.Title, i.Body)
	i.MovedTo = fmt.Sprintf("%s#%d", to, moved.Number)
}

// newIssueLocked opens an issue; numbers follow the pull requests'.
func (f *fakeGitHub) newIssueLocked(repo, title, body string) *fakeIssue {
	if f.issues == nil {
		f.issues = fakeIssues{}
	}
	number := 100
	for _, i := range f.issues {
		if strings.EqualFold(i.Repo, repo) {
			number = max(number, i.Number+1)
		}
	}
	f.clock = f.clock.Add(time.Minute)
	i := &fakeIssue{Repo: repo, Number: number, Title: title, Body: body, State: "open", Updated: f.clock}
	f.issues[issueKey(repo, number)] = i
	return i
}

func (f *fakeGitHub) issueJSON(i *fakeIssue) map[string]any {
	api := f.server.URL + f.prefix + "/repos/" + i.Repo
	var reason any
	if i.StateReason != "" {
		reason = i.StateReason
	}
	var closedAt any
	if i.State == "closed" {
		closedAt = i.Updated.Format(time.RFC3339)
	}
	return map[string]any{
		"id": 5000 + i.Number, "node_id": fmt.Sprintf("I_kwDOA%d", i.Number), "number": i.Number,
		"url": fmt.Sprintf("%s/issues/%d", api, i.Number), "repository_url": api,
		"html_url": fmt.Sprintf("https://github.com/%s/issues/%d", i.Repo, i.Number),
		"title":    i.Title, "body": i.Body, "state": i.State, "state_reason": reason, "locked": false,
		"user":   map[string]any{"login": "previewd[bot]", "id": 41898282, "type": "Bot"},
		"labels": []any{}, "assignee": nil, "assignees": []any{}, "milestone": nil, "comments": 0,
		"created_at": i.Updated.Format(time.RFC3339), "updated_at": i.Updated.Format(time.RFC3339), "closed_at": closedAt,
		"author_association": "NONE",
	}
}

// issueBody is what a create or update request sends.
type issueBody struct {
	Title       *string `json:"title"`
	Body        *string `json:"body"`
	State       *string `json:"state"`
	StateReason *string `json:"state_reason"`
}

func (f *fakeGitHub) createIssue(w http.ResponseWriter, r *http.Request) {
	var in issueBody
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Title == nil || *in.Title == "" {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed", "errors": []any{map[string]any{"resource": "Issue", "code": "missing_field", "field": "title"}}})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.newIssueLocked(r.PathValue("owner")+"/"+r.PathValue("repo"), *in.Title, "")
	if in.Body != nil {
		i.Body = *in.Body
	}
	i.Writes++
	w.Header().Set("Location", fmt.Sprintf("%s%s/repos/%s/issues/%d", f.server.URL, f.prefix, i.Repo, i.Number))
	writeJSON(w, http.StatusCreated, f.issueJSON(i))
}

// lookupIssue finds the issue of r's path, answering 404, 410 or GitHub's
// 301 for a transferred one when it is not there.
func (f *fakeGitHub) lookupIssue(w http.ResponseWriter, r *http.Request) (*fakeIssue, bool) {
	number, _ := strconv.Atoi(r.PathValue("number"))
	i, ok := f.issues[issueKey(r.PathValue("owner")+"/"+r.PathValue("repo"), number)]
	switch {
	case !ok:
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found", "documentation_url": "https://docs.github.com/rest/issues/issues#get-an-issue", "status": "404"})
	case i.Deleted:
		writeJSON(w, http.StatusGone, map[string]any{"message": "This issue was deleted", "documentation_url": "https://docs.github.com/rest/issues/issues#get-an-issue", "status": "410"})
	case i.MovedTo != "":
		repo, n, _ := strings.Cut(i.MovedTo, "#")
		to := fmt.Sprintf("%s%s/repos/%s/issues/%s", f.server.URL, f.prefix, repo, n)
		w.Header().Set("Location", to)
		writeJSON(w, http.StatusMovedPermanently, map[string]any{"message": "Moved Permanently", "url": to, "documentation_url": "https://docs.github.com/rest/guides/best-practices-for-using-the-rest-api#follow-redirects"})
	default:
		return i, true
	}
	return nil, false
}

func (f *fakeGitHub) getIssue(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i, ok := f.lookupIssue(w, r); ok {
		writeJSON(w, http.StatusOK, f.issueJSON(i))
	}
}

func (f *fakeGitHub) updateIssue(w http.ResponseWriter, r *http.Request) {
	var in issueBody
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Problems parsing JSON"})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	i, ok := f.lookupIssue(w, r)
	if !ok {
		return
	}
	if in.Title != nil {
		i.Title = *in.Title
	}
	if in.Body != nil {
		i.Body = *in.Body
	}
	if in.State != nil && *in.State != i.State {
		// GitHub ignores state_reason unless the state changes.
		i.State, i.StateReason = *in.State, ""
		if in.StateReason != nil {
			i.StateReason = *in.StateReason
		}
	}
	f.clock = f.clock.Add(time.Minute)
	i.Updated = f.clock
	i.Writes++
	writeJSON(w, http.StatusOK, f.issueJSON(i))
}
