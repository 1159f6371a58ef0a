package github

import (
	"context"
	"fmt"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"

	preview "github.com/previewd/previewd"
)

// syncCheckRun makes the check run plan names show plan on its commit and
// returns what it now shows. One run per commit and name is updated in
// place while it is not completed; a completed run whose verdict changes
// is followed by a new one (GitHub keeps every annotation ever added to a
// run, so updating it would mix two verdicts' annotations). When the
// commit changes, the previous commit's run, if not completed, is
// completed as cancelled ("superseded"). Annotations go 50 a request:
// the rest in further updates. Nothing is sent when current already shows
// plan.
func (c *Client) syncCheckRun(ctx context.Context, env preview.Environment, plan checkRunPlan, ok bool, current preview.CommitStatus) (preview.CommitStatus, error) {
	if !ok {
		return current, nil
	}
	digest := plan.digest()
	if current.SHA == plan.sha && current.Digest == digest && current.CheckRunID != 0 {
		return current, nil
	}
	owner, repo, err := splitRepo(env.Repo)
	if err != nil {
		return current, fmt.Errorf("sync %s check run for %s: %w", plan.name, env.Name, err)
	}
	if !commitSHA.MatchString(plan.sha) {
		return current, preview.Errorf(preview.EINVALID, "sync %s check run for %s: %q is not a commit SHA", plan.name, env.Name, truncateRunes(plan.sha, 80))
	}
	ep, err := c.endpointFor(ctx, env.Repo, env.Desired.InstallationID)
	if err != nil {
		return current, fmt.Errorf("sync %s check run for %s: %w", plan.name, env.Name, err)
	}
	if current.CheckRunID != 0 && current.SHA != plan.sha && !completedState(current.State) {
		if err := c.supersede(ctx, ep, owner, repo, plan.name, current.CheckRunID, plan.sha); err != nil {
			return current, err
		}
		current = preview.CommitStatus{}
	}
	first, rest := batch(plan.annotations)
	var run *gh.CheckRun
	if current.CheckRunID != 0 && current.SHA == plan.sha && !completedState(current.State) {
		run, err = c.updateCheckRun(ctx, ep, owner, repo, current.CheckRunID, plan, first)
	} else {
		run, err = c.createCheckRun(ctx, ep, owner, repo, env, plan, first)
	}
	if err != nil {
		return current, err
	}
	shown := preview.CommitStatus{SHA: plan.sha, State: plan.state(), CheckRunID: run.GetID(), URL: run.GetHTMLURL(), Digest: digest}
	for len(rest) > 0 {
		first, rest = batch(rest)
		if _, err := c.updateCheckRun(ctx, ep, owner, repo, shown.CheckRunID, plan, first); err != nil {
			// The run shows the verdict; the annotations of this batch
			// and after are lost, which the summary's table still lists.
			shown.Digest = ""
			return shown, err
		}
	}
	c.logger.Debug("check run written", "environment", env.Name, "repo", env.Repo, "sha", plan.sha, "name", plan.name,
		"state", shown.State, "annotations", len(plan.annotations))
	return shown, nil
}

// completedState reports whether a recorded State is a completed run's.
func completedState(state string) bool {
	return state != "" && state != "queued" && state != "in_progress"
}

// batch splits off the first annotationsPerCall annotations.
func batch(a []*gh.CheckRunAnnotation) (first, rest []*gh.CheckRunAnnotation) {
	if len(a) <= annotationsPerCall {
		return a, nil
	}
	return a[:annotationsPerCall], a[annotationsPerCall:]
}

func (p checkRunPlan) output(annotations []*gh.CheckRunAnnotation) *gh.CheckRunOutput {
	out := &gh.CheckRunOutput{Title: ptr(truncateRunes(p.title, maxAnnotationTitle)), Summary: ptr(truncateBytes(p.summary, maxCheckText)),
		Annotations: annotations}
	if p.text != "" {
		out.Text = ptr(truncateBytes(p.text, maxCheckText))
	}
	return out
}

func (c *Client) createCheckRun(ctx context.Context, ep *endpoint, owner, repo string, env preview.Environment, plan checkRunPlan, annotations []*gh.CheckRunAnnotation) (*gh.CheckRun, error) {
	opts := gh.CreateCheckRunOptions{Name: plan.name, HeadSHA: plan.sha, Status: ptr(plan.status), ExternalID: ptr(env.Name),
		Output: plan.output(annotations), Actions: plan.actions}
	if log := runLogURL(c.logLink, env); log != "" && strings.HasPrefix(log, "http") {
		opts.DetailsURL = ptr(log)
	}
	if plan.status == "completed" {
		opts.Conclusion, opts.CompletedAt = ptr(plan.conclusion), &gh.Timestamp{Time: time.Now()}
	}
	var run *gh.CheckRun
	err := ep.do(ctx, write, func(ctx context.Context, api *gh.Client) error {
		var err error
		run, _, err = api.Checks.CreateCheckRun(ctx, owner, repo, opts)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create %s check run on %s of %s/%s: %w", plan.name, preview.ShortSHA(plan.sha), owner, repo, classify(err))
	}
	return run, nil
}

func (c *Client) updateCheckRun(ctx context.Context, ep *endpoint, owner, repo string, id int64, plan checkRunPlan, annotations []*gh.CheckRunAnnotation) (*gh.CheckRun, error) {
	opts := gh.UpdateCheckRunOptions{Name: plan.name, Status: ptr(plan.status), Output: plan.output(annotations), Actions: plan.actions}
	if plan.status == "completed" {
		opts.Conclusion, opts.CompletedAt = ptr(plan.conclusion), &gh.Timestamp{Time: time.Now()}
	}
	var run *gh.CheckRun
	err := ep.do(ctx, write, func(ctx context.Context, api *gh.Client) error {
		var err error
		run, _, err = api.Checks.UpdateCheckRun(ctx, owner, repo, id, opts)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update %s check run %d of %s/%s: %w", plan.name, id, owner, repo, classify(err))
	}
	return run, nil
}

// supersede completes the run id of an earlier commit as cancelled: a
// push made it the past.
func (c *Client) supersede(ctx context.Context, ep *endpoint, owner, repo, name string, id int64, sha string) error {
	title := "Superseded by " + preview.ShortSHA(sha)
	opts := gh.UpdateCheckRunOptions{Name: name, Status: ptr("completed"), Conclusion: ptr("cancelled"),
		CompletedAt: &gh.Timestamp{Time: time.Now()},
		Output:      &gh.CheckRunOutput{Title: ptr(title), Summary: ptr("A newer commit, " + sha + ", is checked instead.")}}
	err := ep.do(ctx, write, func(ctx context.Context, api *gh.Client) error {
		_, _, err := api.Checks.UpdateCheckRun(ctx, owner, repo, id, opts)
		return err
	})
	if err != nil && preview.ErrorCode(classify(err)) != preview.ENOTFOUND {
		return fmt.Errorf("complete superseded %s check run %d of %s/%s: %w", name, id, owner, repo, classify(err))
	}
	return nil
}

// AnswerCheckRun answers a command asked on one of previewd's check runs
// (a button, or a re-run refused) on that run: note goes above its
// summary, and its verdict, conclusion and annotations stay as they are.
func (c *Client) AnswerCheckRun(ctx context.Context, cmd preview.Command, note string) error {
	owner, repo, err := splitRepo(cmd.Repo)
	if err != nil {
		return fmt.Errorf("answer on check run %d: %w", cmd.CheckRunID, err)
	}
	ep, err := c.endpointFor(ctx, cmd.Repo, cmd.InstallationID)
	if err != nil {
		return fmt.Errorf("answer on check run %d of %s: %w", cmd.CheckRunID, cmd.Repo, err)
	}
	var run *gh.CheckRun
	err = ep.do(ctx, read, func(ctx context.Context, api *gh.Client) error {
		var err error
		run, _, err = api.Checks.GetCheckRun(ctx, owner, repo, cmd.CheckRunID)
		return err
	})
	if err != nil {
		return fmt.Errorf("read check run %d of %s: %w", cmd.CheckRunID, cmd.Repo, classify(err))
	}
	out := run.GetOutput()
	summary := "> " + strings.ReplaceAll(strings.TrimSpace(note), "\n", "\n> ") + "\n\n" + out.GetSummary()
	opts := gh.UpdateCheckRunOptions{Name: run.GetName(), Output: &gh.CheckRunOutput{Title: ptr(out.GetTitle()),
		Summary: ptr(truncateBytes(summary, maxCheckText)), Text: out.Text}}
	err = ep.do(ctx, write, func(ctx context.Context, api *gh.Client) error {
		_, _, err := api.Checks.UpdateCheckRun(ctx, owner, repo, cmd.CheckRunID, opts)
		return err
	})
	if err != nil {
		return fmt.Errorf("answer on check run %d of %s: %w", cmd.CheckRunID, cmd.Repo, classify(err))
	}
	return nil
}
