package github

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file is the rest of fakeGitHub: the deployments, statuses,
// permission and reaction endpoints, and GitHub App authentication: RS256
// JWTs checked against the App's public key, expiring installation tokens,
// and installations that each serve some repositories.

// fakeApp is the App side of fakeGitHub.
type fakeApp struct {
	id        int64
	key       *rsa.PublicKey
	repos     map[int64][]string // installation → the repositories it serves
	suspended map[int64]bool
	tokenTTLs []time.Duration      // lifetimes of the next tokens issued; then an hour
	tokens    map[string]fakeToken // issued tokens by value
	issued    map[int64]int        // tokens issued per installation
	jwts      []jwtClaims          // every JWT accepted
	grants    map[int64]Grant      // an installation's permissions; every one previewd may ask for when unset
	events    map[int64][]string   // an installation's events; every one previewd may take when unset
}

type fakeToken struct {
	installation int64
	n            int // the n-th token of its installation, from 1
	expires      time.Time
}

type jwtClaims struct {
	Iss string `json:"iss"`
	Iat int64  `json:"iat"`
	Exp int64  `json:"exp"`
}

type authError struct {
	status  int
	message string
}

// enableApp makes f a GitHub that only takes App credentials: a JWT signed
// by key for app, and installation tokens it issued.
func (f *fakeGitHub) enableApp(app int64, key *rsa.PublicKey, repos map[int64][]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.app = &fakeApp{id: app, key: key, repos: repos, suspended: map[int64]bool{}, tokens: map[string]fakeToken{}, issued: map[int64]int{}}
}

// jwtRoute reports whether GitHub wants the App's JWT for a request.
func jwtRoute(method, path string) bool {
	if strings.HasPrefix(path, "/app/") || path == "/app" {
		return true
	}
	parts := strings.Split(path, "/")
	return method == http.MethodGet && len(parts) == 5 && parts[1] == "repos" && parts[4] == "installation"
}

// authenticate checks the credentials of a request in App mode and returns
// how it was authenticated. Called with f.mu held.
func (f *fakeGitHub) authenticate(method, path, header string) (string, *authError) {
	if f.app == nil {
		return "", nil
	}
	if jwtRoute(method, path) {
		token, ok := strings.CutPrefix(header, "Bearer ")
		if !ok {
			return "", &authError{http.StatusUnauthorized, "A JSON web token could not be decoded"}
		}
		claims, err := verifyJWT(token, f.app.key, time.Now())
		if err != nil {
			return "", &authError{http.StatusUnauthorized, "JWT: " + err.Error()}
		}
		if claims.Iss != strconv.FormatInt(f.app.id, 10) {
			return "", &authError{http.StatusUnauthorized, "JWT: iss " + claims.Iss + " is not this App"}
		}
		f.app.jwts = append(f.app.jwts, claims)
		return "jwt", nil
	}
	value, ok := strings.CutPrefix(header, "token ")
	if !ok {
		return "", &authError{http.StatusUnauthorized, "Bad credentials: want an installation token"}
	}
	tok, ok := f.app.tokens[value]
	if !ok || time.Now().After(tok.expires) {
		return "", &authError{http.StatusUnauthorized, "Bad credentials"}
	}
	auth := fmt.Sprintf("installation:%d:%d", tok.installation, tok.n)
	if parts := strings.Split(path, "/"); len(parts) > 3 && parts[1] == "repos" {
		repo := parts[2] + "/" + parts[3]
		if !containsFold(f.app.repos[tok.installation], repo) {
			return auth, &authError{http.StatusNotFound, "Not Found"}
		}
	}
	return auth, nil
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// verifyJWT checks an RS256 JWT's signature with key and its claims as
// GitHub does: issued no later than now (plus a minute of skew), not
// expired, and living at most ten minutes.
func verifyJWT(token string, key *rsa.PublicKey, now time.Time) (jwtClaims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return jwtClaims{}, errors.New("not three parts")
	}
	var header struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
	}
	if err := decodeSegment(parts[0], &header); err != nil || header.Alg != "RS256" {
		return jwtClaims{}, fmt.Errorf("header %+v (%v): want alg RS256", header, err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return jwtClaims{}, fmt.Errorf("signature: %w", err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], sig); err != nil {
		return jwtClaims{}, fmt.Errorf("signature: %w", err)
	}
	var claims jwtClaims
	if err := decodeSegment(parts[1], &claims); err != nil {
		return jwtClaims{}, fmt.Errorf("claims: %w", err)
	}
	iat, exp := time.Unix(claims.Iat, 0), time.Unix(claims.Exp, 0)
	switch {
	case claims.Iat == 0 || claims.Exp == 0:
		return claims, errors.New("iat and exp are required")
	case iat.After(now.Add(time.Minute)):
		return claims, fmt.Errorf("iat %v is in the future", iat)
	case !exp.After(now):
		return claims, fmt.Errorf("exp %v has passed", exp)
	case exp.Sub(iat) > 10*time.Minute:
		return claims, fmt.Errorf("lives %v, over 10 minutes", exp.Sub(iat))
	}
	return claims, nil
}

func decodeSegment(seg string, v any) error {
	data, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

func (f *fakeGitHub) createToken(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.app.repos[id]; !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
		return
	}
	if f.app.suspended[id] {
		writeJSON(w, http.StatusForbidden, map[string]any{"message": "This installation has been suspended"})
		return
	}
	ttl := time.Hour
	if len(f.app.tokenTTLs) > 0 {
		ttl, f.app.tokenTTLs = f.app.tokenTTLs[0], f.app.tokenTTLs[1:]
	}
	f.app.issued[id]++
	n := f.app.issued[id]
	value := fmt.Sprintf("ghs_installation%dtoken%d", id, n)
	expires := time.Now().Add(ttl).Truncate(time.Second)
	f.app.tokens[value] = fakeToken{installation: id, n: n, expires: expires}
	writeJSON(w, http.StatusCreated, map[string]any{
		"token": value, "expires_at": expires.UTC().Format(time.RFC3339),
		"permissions":          map[string]any{"deployments": "write", "issues": "write", "pull_requests": "write", "statuses": "write"},
		"repository_selection": "selected",
	})
}

func (f *fakeGitHub) installationJSON(id int64) map[string]any {
	owner := "acme"
	if repos := f.app.repos[id]; len(repos) > 0 {
		owner, _, _ = strings.Cut(repos[0], "/")
	}
	inst := map[string]any{
		"id": id, "app_id": f.app.id, "target_type": "Organization",
		"account":           map[string]any{"login": owner, "id": id, "type": "Organization"},
		"access_tokens_url": fmt.Sprintf("%s%s/app/installations/%d/access_tokens", f.server.URL, f.prefix, id),
		"suspended_at":      nil,
		"permissions":       GrantOf(AppPermissions(allFeatures)),
		"events":            eventNames(Events(allFeatures)),
	}
	if g, ok := f.app.grants[id]; ok {
		inst["permissions"] = g
	}
	if e, ok := f.app.events[id]; ok {
		inst["events"] = e
	}
	if f.app.suspended[id] {
		inst["suspended_at"] = "2025-02-01T00:00:00Z"
	}
	return inst
}

func eventNames(req []Requirement) []string {
	names := []string{}
	for _, r := range req {
		names = append(names, r.Name)
	}
	return names
}

// getApp answers GET /app: the App the JWT names.
func (f *fakeGitHub) getApp(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"id": f.app.id, "slug": "previewd", "name": "previewd", "node_id": "A_1",
		"owner": map[string]any{"login": "acme"}, "description": nil, "external_url": "https://previewd.example",
		"html_url": "https://github.com/apps/previewd", "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T00:00:00Z",
		"permissions": GrantOf(AppPermissions(allFeatures)), "events": eventNames(Events(allFeatures))})
}

func (f *fakeGitHub) getRepoInstallation(w http.ResponseWriter, r *http.Request) {
	repo := r.PathValue("owner") + "/" + r.PathValue("repo")
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, repos := range f.app.repos {
		if containsFold(repos, repo) {
			writeJSON(w, http.StatusOK, f.installationJSON(id))
			return
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
}

func (f *fakeGitHub) listInstallations(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []int64
	for id := range f.app.repos {
		ids = append(ids, id)
	}
	sortInt64s(ids)
	from, to := f.paginate(w, r, len(ids))
	out := []map[string]any{}
	for _, id := range ids[from:to] {
		out = append(out, f.installationJSON(id))
	}
	writeJSON(w, http.StatusOK, out)
}

func (f *fakeGitHub) listInstallationRepos(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := f.app.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "token ")].installation
	repos := f.app.repos[id]
	from, to := f.paginate(w, r, len(repos))
	out := []map[string]any{}
	for i, full := range repos[from:to] {
		owner, name, _ := strings.Cut(full, "/")
		out = append(out, map[string]any{"id": from + i + 1, "name": name, "full_name": full, "owner": map[string]any{"login": owner}})
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(repos), "repositories": out})
}

func sortInt64s(s []int64) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// decodeBody decodes a request body into a map, answering 422 if it cannot.
func decodeBody(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	var in map[string]any
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in == nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Invalid request."})
		return nil, false
	}
	return in, true
}

func (f *fakeGitHub) createDeployment(w http.ResponseWriter, r *http.Request) {
	in, ok := decodeBody(w, r)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	in["id"] = f.nextID
	f.deployments = append(f.deployments, in)
	writeJSON(w, http.StatusCreated, map[string]any{
		"id": f.nextID, "sha": in["ref"], "ref": in["ref"], "task": "deploy", "environment": in["environment"],
		"transient_environment": in["transient_environment"], "production_environment": in["production_environment"],
		"created_at": f.clock.Format(time.RFC3339), "updated_at": f.clock.Format(time.RFC3339),
	})
}

// listDeployments answers GET …/deployments?sha=&environment= from the
// deployments created so far.
func (f *fakeGitHub) listDeployments(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	sha, environment, task := q.Get("sha"), q.Get("environment"), q.Get("task")
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []map[string]any{}
	for i := len(f.deployments) - 1; i >= 0; i-- {
		d := f.deployments[i]
		dTask, _ := d["task"].(string)
		if dTask == "" {
			dTask = "deploy" // GitHub's default
		}
		if (sha == "" || d["ref"] == sha) && (environment == "" || d["environment"] == environment) && (task == "" || dTask == task) {
			out = append(out, map[string]any{"id": d["id"], "sha": d["ref"], "ref": d["ref"], "task": dTask, "environment": d["environment"],
				"created_at": f.clock.Format(time.RFC3339), "updated_at": f.clock.Format(time.RFC3339)})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (f *fakeGitHub) createDeploymentStatus(w http.ResponseWriter, r *http.Request) {
	in, ok := decodeBody(w, r)
	if !ok {
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	f.mu.Lock()
	defer f.mu.Unlock()
	known := false
	for _, d := range f.deployments {
		known = known || d["id"] == id
	}
	if !known {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
		return
	}
	f.nextID++
	in["deployment_id"] = id
	f.deploymentStatuses = append(f.deploymentStatuses, in)
	writeJSON(w, http.StatusCreated, map[string]any{"id": f.nextID, "state": in["state"], "environment_url": in["environment_url"], "log_url": in["log_url"]})
}

func (f *fakeGitHub) createStatus(w http.ResponseWriter, r *http.Request) {
	in, ok := decodeBody(w, r)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	in["sha"] = r.PathValue("sha")
	f.statuses = append(f.statuses, in)
	writeJSON(w, http.StatusCreated, map[string]any{"id": f.nextID, "state": in["state"], "context": in["context"], "target_url": in["target_url"], "description": in["description"]})
}

func (f *fakeGitHub) getPermission(w http.ResponseWriter, r *http.Request) {
	user := r.PathValue("user")
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.permissions[user]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"permission": p[0], "role_name": p[1], "user": map[string]any{"login": user, "type": "User"}})
}

func (f *fakeGitHub) createReaction(w http.ResponseWriter, r *http.Request) {
	in, ok := decodeBody(w, r)
	if !ok {
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	f.mu.Lock()
	defer f.mu.Unlock()
	status := http.StatusCreated
	for _, x := range f.reactions {
		if x["comment_id"] == id && x["content"] == in["content"] {
			status = http.StatusOK // GitHub answers 200 for a reaction that exists
		}
	}
	if status == http.StatusCreated {
		in["comment_id"] = id
		f.reactions = append(f.reactions, in)
	}
	f.nextID++
	writeJSON(w, status, map[string]any{"id": f.nextID, "content": in["content"], "user": map[string]any{"login": "previewd[bot]"}})
}

// snapshot returns copies of what f recorded, under its lock.
func (f *fakeGitHub) snapshot() (deployments, deploymentStatuses, statuses, reactions []map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.deployments...), append([]map[string]any(nil), f.deploymentStatuses...),
		append([]map[string]any(nil), f.statuses...), append([]map[string]any(nil), f.reactions...)
}

// installationGrant is the permissions of the installation whose token
// authenticated a request (auth "installation:<id>:<n>"), when the test
// set them.
func (f *fakeGitHub) installationGrant(auth string) (Grant, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.app == nil {
		return nil, false
	}
	rest, ok := strings.CutPrefix(auth, "installation:")
	if !ok {
		return nil, false
	}
	idText, _, _ := strings.Cut(rest, ":")
	id, _ := strconv.ParseInt(idText, 10, 64)
	g, ok := f.app.grants[id]
	return g, ok
}

// refused reports whether GitHub would refuse the request for want of a
// permission the installation was not granted (403 "Resource not
// accessible by integration").
func (f *fakeGitHub) refused(method, path, auth string) bool {
	g, ok := f.installationGrant(auth)
	if !ok {
		return false
	}
	op, err := loadSpec(f.t).findOperation(method, path)
	if err != nil {
		return false
	}
	id, _ := op.op["operationId"].(string)
	alternatives, known := OperationGrants(id)
	return known && !slices.ContainsFunc(alternatives, g.Allows)
}
