package github

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	gh "github.com/google/go-github/v60/github"

	preview "github.com/previewd/previewd"
)

// The states of a GitHub deployment status previewd posts.
const (
	deploymentInProgress = "in_progress"
	deploymentSuccess    = "success"
	deploymentFailure    = "failure"
	deploymentInactive   = "inactive"
)

// maxDescription is the longest description GitHub accepts on a deployment
// status or a commit status.
const maxDescription = 140

// LogURL returns the link to a run's log in previewd, for a run ID of the
// form "<environment>/<seq>": publicURL + "/api/v1/environments/<environment>/runs/<seq>/log".
// It returns "" when publicURL is empty or the run ID has another form.
func LogURL(publicURL, runID string) string {
	name, seq, ok := strings.Cut(runID, "/")
	if publicURL == "" || !ok || name == "" || seq == "" || strings.Contains(seq, "/") {
		return ""
	}
	return strings.TrimRight(publicURL, "/") + "/api/v1/environments/" + url.PathEscape(name) + "/runs/" + url.PathEscape(seq) + "/log"
}

// deploymentPlan is what makes GitHub's deployments show an environment.
type deploymentPlan struct {
	retire bool   // post inactive on the current deployment first
	create string // create a deployment for this SHA ("": none)
	state  string // then post this status on the (new) deployment ("": none)
	next   preview.Deployment
}

func (p deploymentPlan) empty() bool { return !p.retire && p.create == "" && p.state == "" }

// planDeployment decides what SyncDeployment sends for env. An environment
// that is wanted (Desired.Present) and provisioning, ready or failed gets a
// deployment for its SHA (the applied one when ready) and a status for its
// state; a queued one only a status, on a deployment that exists for its
// SHA. A new SHA's deployment retires the previous one (inactive) first:
// GitHub's auto_inactive skips transient environments, so previewd does it.
// A destroyed environment's last deployment becomes inactive. Nothing
// changes while destroying, or for a state already shown.
func planDeployment(env preview.Environment) deploymentPlan {
	cur := env.Deployment
	live := cur.SHA != "" && cur.State != deploymentInactive
	if env.Status == preview.StatusDestroyed {
		if !live {
			return deploymentPlan{next: cur}
		}
		next := cur
		next.State = deploymentInactive
		return deploymentPlan{retire: true, next: next}
	}
	state := deploymentState(env.Status)
	sha := targetSHA(env)
	if state == "" || !env.Desired.Present || sha == "" {
		return deploymentPlan{next: cur}
	}
	if cur.SHA == sha {
		if cur.State == state {
			return deploymentPlan{next: cur}
		}
		return deploymentPlan{state: state, next: preview.Deployment{ID: cur.ID, SHA: sha, State: state}}
	}
	if env.Status == preview.StatusQueued {
		return deploymentPlan{next: cur} // no deployment before a run starts
	}
	return deploymentPlan{retire: live, create: sha, state: state, next: preview.Deployment{SHA: sha, State: state}}
}

// deploymentState is the deployment status that shows status; "" for none.
func deploymentState(status preview.Status) string {
	switch status {
	case preview.StatusQueued, preview.StatusProvisioning:
		return deploymentInProgress
	case preview.StatusReady:
		return deploymentSuccess
	case preview.StatusFailed:
		return deploymentFailure
	}
	return ""
}

// targetSHA is the commit env's deployment and commit status are about: the
// applied one when ready, the wanted head otherwise.
func targetSHA(env preview.Environment) string {
	if env.Status == preview.StatusReady && env.AppliedSHA != "" {
		return env.AppliedSHA
	}
	return env.HeadSHA
}

// SyncDeployment makes GitHub's Deployments API show env and returns the
// deployment's new state. While the environment is wanted
// (env.Desired.Present), provisioning, ready or failed gets a deployment
// for its SHA (the applied one when ready) with ref = the SHA, environment
// = env.Name, transient_environment true, production_environment false,
// auto_merge false and required_contexts []; queued gets no deployment, but
// an existing one for its SHA goes back to in_progress (a redeploy). The
// statuses are in_progress (queued, provisioning), success (ready, with
// environment_url env.URL), failure (failed) and inactive: on the previous
// deployment when a new SHA's is created (GitHub's auto_inactive skips
// transient environments, so previewd does it), and on the last one once
// destroyed. log_url links the run's log when the client has a PublicURL.
// Nothing is sent while destroying or when env.Deployment already shows
// env, so calling it twice is harmless. A Deployment with ID zero (written
// in offline mode) counts as none.
//
// It blocks for up to three requests. On error the returned Deployment
// holds what was written before the error, never less than env.Deployment:
// store it, or a retry creates a second deployment for the same SHA.
// preview.ErrorCode gives not_found, unauthorized, invalid or unavailable.
func (c *Client) SyncDeployment(ctx context.Context, env preview.Environment) (preview.Deployment, error) {
	if env.Deployment.ID == 0 {
		env.Deployment = preview.Deployment{} // recorded offline: nothing exists on GitHub
	}
	plan := planDeployment(env)
	if plan.empty() {
		return env.Deployment, nil
	}
	owner, repo, err := splitRepo(env.Repo)
	if err != nil {
		return env.Deployment, fmt.Errorf("sync deployment for %s: %w", env.Name, err)
	}
	ep, err := c.endpointFor(ctx, env.Repo, env.Desired.InstallationID)
	if err != nil {
		return env.Deployment, fmt.Errorf("sync deployment for %s: %w", env.Name, err)
	}
	dep := env.Deployment
	if plan.retire && dep.ID != 0 {
		if err := c.postDeploymentStatus(ctx, ep, owner, repo, dep.ID, c.deploymentStatus(env, deploymentInactive)); err != nil {
			return dep, err
		}
		dep.State = deploymentInactive
	}
	if plan.create != "" {
		id, err := c.findDeployment(ctx, ep, owner, repo, env, plan.create)
		if err == nil && id == 0 {
			id, err = c.createDeployment(ctx, ep, owner, repo, env, plan.create)
		}
		if err != nil {
			return dep, err
		}
		dep = preview.Deployment{ID: id, SHA: plan.create}
	}
	if plan.state != "" && dep.ID != 0 {
		if err := c.postDeploymentStatus(ctx, ep, owner, repo, dep.ID, c.deploymentStatus(env, plan.state)); err != nil {
			return dep, err
		}
		dep.State = plan.state
	}
	return dep, nil
}

// DeploymentTask marks the deployments previewd creates, so it only ever
// adopts its own (a CI job may deploy the same commit to an environment of
// the same name).
const DeploymentTask = "deploy:previewd"

// findDeployment returns the ID of an existing deployment previewd made of
// sha to env's environment, or 0: a create whose answer was lost, or whose
// ID previewd could not store, is adopted instead of being made twice.
func (c *Client) findDeployment(ctx context.Context, ep *endpoint, owner, repo string, env preview.Environment, sha string) (int64, error) {
	var deps []*gh.Deployment
	err := ep.do(ctx, read, func(ctx context.Context, api *gh.Client) (err error) {
		deps, _, err = api.Repositories.ListDeployments(ctx, owner, repo, &gh.DeploymentsListOptions{
			SHA: sha, Environment: env.Name, Task: DeploymentTask, ListOptions: gh.ListOptions{PerPage: 1},
		})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("look for a deployment of %s for %s on %s/%s: %w", preview.ShortSHA(sha), env.Name, owner, repo, classify(err))
	}
	if len(deps) == 0 {
		return 0, nil
	}
	c.logger.Debug("deployment adopted", "environment", env.Name, "repo", env.Repo, "sha", sha, "deployment_id", deps[0].GetID())
	return deps[0].GetID(), nil
}

// createDeployment creates env's deployment of sha and returns its ID. It is
// never sent twice.
func (c *Client) createDeployment(ctx context.Context, ep *endpoint, owner, repo string, env preview.Environment, sha string) (int64, error) {
	req := &gh.DeploymentRequest{
		Ref:                   ptr(sha),
		Task:                  ptr(DeploymentTask),
		Environment:           ptr(env.Name),
		Description:           ptr(truncateRunes(fmt.Sprintf("previewd preview of %s#%d at %s", env.Repo, env.PR, preview.ShortSHA(sha)), maxDescription)),
		TransientEnvironment:  ptr(true),
		ProductionEnvironment: ptr(false),
		AutoMerge:             ptr(false),
		RequiredContexts:      &[]string{},
	}
	var dep *gh.Deployment
	err := ep.do(ctx, create, func(ctx context.Context, api *gh.Client) (err error) {
		dep, _, err = api.Repositories.CreateDeployment(ctx, owner, repo, req)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("create deployment of %s for %s on %s/%s: %w", preview.ShortSHA(sha), env.Name, owner, repo, classify(err))
	}
	if dep.GetID() == 0 {
		return 0, preview.Errorf(preview.EINTERNAL, "GitHub created no deployment of %s for %s", preview.ShortSHA(sha), env.Name)
	}
	c.logger.Debug("deployment created", "environment", env.Name, "repo", env.Repo, "sha", sha, "deployment_id", dep.GetID())
	return dep.GetID(), nil
}

// deploymentStatus is the status request that shows env in state.
func (c *Client) deploymentStatus(env preview.Environment, state string) *gh.DeploymentStatusRequest {
	req := &gh.DeploymentStatusRequest{State: ptr(state)}
	sha := preview.ShortSHA(targetSHA(env))
	var desc string
	switch state {
	case deploymentInProgress:
		desc = "Deploying " + sha
	case deploymentSuccess:
		desc = "Deployed " + sha
		if env.URL != "" {
			req.EnvironmentURL = ptr(env.URL)
		}
	case deploymentFailure:
		desc = "Failed to deploy " + sha
	case deploymentInactive:
		desc = "Superseded or destroyed"
		if env.Status == preview.StatusDestroyed {
			desc = "Environment destroyed"
		}
	}
	req.Description = ptr(desc)
	if log := runLogURL(c.logLink, env); log != "" && state != deploymentInactive {
		req.LogURL = ptr(log)
	}
	return req
}

// runLogURL is the log of env's current run: none while queued, when the
// last run is an earlier one.
func runLogURL(link func(string) string, env preview.Environment) string {
	if env.Status == preview.StatusQueued {
		return ""
	}
	return link(env.LastRunID)
}

// postDeploymentStatus posts a status on deployment id. Repeating it is
// harmless, so it is retried like a read.
func (c *Client) postDeploymentStatus(ctx context.Context, ep *endpoint, owner, repo string, id int64, req *gh.DeploymentStatusRequest) error {
	err := ep.do(ctx, write, func(ctx context.Context, api *gh.Client) error {
		_, _, err := api.Repositories.CreateDeploymentStatus(ctx, owner, repo, id, req)
		return err
	})
	if err != nil {
		return fmt.Errorf("post %s status on deployment %d of %s/%s: %w", req.GetState(), id, owner, repo, classify(err))
	}
	c.logger.Debug("deployment status posted", "repo", owner+"/"+repo, "deployment_id", id, "state", req.GetState())
	return nil
}

// truncateRunes shortens s to at most n characters, marking a cut with "…".
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
