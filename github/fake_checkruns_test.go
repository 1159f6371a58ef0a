package github

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// fakeCheckRun is a check run previewd wrote, as the fake keeps it.
type fakeCheckRun struct {
	ID          int64
	Repo        string
	SHA, Name   string
	Status      string
	Conclusion  string
	Title       string
	Summary     string
	Text        string
	Annotations []map[string]any // every annotation ever added, in order
	Actions     []map[string]any // the buttons, as last sent
	Writes      int              // the create and each update
}

// checkRunBody is what a create or update request sends.
type checkRunBody struct {
	Name       string           `json:"name"`
	HeadSHA    string           `json:"head_sha"`
	Status     string           `json:"status"`
	Conclusion string           `json:"conclusion"`
	Actions    []map[string]any `json:"actions"`
	Output     *struct {
		Title       string           `json:"title"`
		Summary     string           `json:"summary"`
		Text        string           `json:"text"`
		Annotations []map[string]any `json:"annotations"`
	} `json:"output"`
}

func (f *fakeGitHub) createCheckRun(w http.ResponseWriter, r *http.Request) {
	var body checkRunBody
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Problems parsing JSON"})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	run := &fakeCheckRun{ID: f.nextID, Repo: r.PathValue("owner") + "/" + r.PathValue("repo"), SHA: body.HeadSHA, Name: body.Name, Status: "queued"}
	if f.ownRuns == nil {
		f.ownRuns = map[int64]*fakeCheckRun{}
	}
	f.ownRuns[run.ID] = run
	if !f.applyCheckRun(w, run, body) {
		return
	}
	writeJSON(w, http.StatusCreated, f.checkRunJSON(run))
}

func (f *fakeGitHub) getCheckRun(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	f.mu.Lock()
	defer f.mu.Unlock()
	run := f.ownRuns[id]
	if run == nil || run.Repo != r.PathValue("owner")+"/"+r.PathValue("repo") {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
		return
	}
	writeJSON(w, http.StatusOK, f.checkRunJSON(run))
}

func (f *fakeGitHub) updateCheckRun(w http.ResponseWriter, r *http.Request) {
	var body checkRunBody
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Problems parsing JSON"})
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	f.mu.Lock()
	defer f.mu.Unlock()
	run := f.ownRuns[id]
	if run == nil || run.Repo != r.PathValue("owner")+"/"+r.PathValue("repo") {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
		return
	}
	if !f.applyCheckRun(w, run, body) {
		return
	}
	writeJSON(w, http.StatusOK, f.checkRunJSON(run))
}

// applyCheckRun applies a request to run as GitHub does, refusing what
// GitHub refuses (more than 50 annotations, a completed run without a
// conclusion). Called with f.mu held.
func (f *fakeGitHub) applyCheckRun(w http.ResponseWriter, run *fakeCheckRun, body checkRunBody) bool {
	if body.Output != nil && len(body.Output.Annotations) > annotationsPerCall {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Only 50 annotations are allowed per request"})
		return false
	}
	if body.Status == "completed" && body.Conclusion == "" {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "conclusion is required when status is completed"})
		return false
	}
	run.Writes++
	if body.Status != "" {
		run.Status = body.Status
	}
	if body.Actions != nil {
		run.Actions = body.Actions
	}
	if body.Conclusion != "" {
		run.Status, run.Conclusion = "completed", body.Conclusion
	}
	if o := body.Output; o != nil {
		run.Title, run.Summary, run.Text = o.Title, o.Summary, o.Text
		run.Annotations = append(run.Annotations, o.Annotations...)
	}
	return true
}

// checkRunJSON is run as GitHub answers it. Called with f.mu held.
func (f *fakeGitHub) checkRunJSON(run *fakeCheckRun) map[string]any {
	var conclusion, completed any
	if run.Status == "completed" {
		conclusion, completed = run.Conclusion, f.clock.Format(time.RFC3339)
	}
	return map[string]any{"id": run.ID, "node_id": "CR_x", "head_sha": run.SHA, "external_id": "", "name": run.Name, "status": run.Status,
		"conclusion": conclusion, "started_at": f.clock.Format(time.RFC3339), "completed_at": completed,
		"url":      fmt.Sprintf("https://api.github.com/repos/%s/check-runs/%d", run.Repo, run.ID),
		"html_url": fmt.Sprintf("https://github.com/%s/runs/%d", run.Repo, run.ID), "details_url": nil,
		"output": map[string]any{"title": run.Title, "summary": run.Summary, "text": run.Text, "annotations_count": len(run.Annotations),
			"annotations_url": "https://api.github.com/x"},
		"check_suite": map[string]any{"id": 5}, "app": nil, "pull_requests": []any{}}
}

// runsOf returns copies of the check runs previewd wrote on sha, oldest
// first.
func (f *fakeGitHub) runsOf(sha string) []fakeCheckRun {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeCheckRun
	for id := int64(1); id <= f.nextID; id++ {
		if run := f.ownRuns[id]; run != nil && run.SHA == sha {
			out = append(out, *run)
		}
	}
	return out
}
