package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	gh "github.com/google/go-github/v60/github"
)

// AppCredentials are what GitHub returns for an App it registered from a
// manifest: the App's ID, slug and page, its private key (PEM) and its
// webhook secret. PEM and WebhookSecret are secrets: never log them.
type AppCredentials struct {
	ID            int64
	Slug          string
	HTMLURL       string
	PEM           string
	WebhookSecret string
}

// ManifestClient exchanges the code GitHub gives after registering an App
// from a manifest for the App's credentials. The exchange needs no
// authentication: the code itself is the credential, valid for an hour
// and once.
type ManifestClient struct {
	gh *gh.Client
}

// NewManifestClient returns a client for the REST API at apiURL
// (DefaultBaseURL when empty, or a GitHub Enterprise Server's
// https://HOST/api/v3/). hc sends the requests; a client with a 30 s
// timeout when nil. It returns an error when apiURL is not an absolute
// http or https URL.
func NewManifestClient(apiURL string, hc *http.Client) (*ManifestClient, error) {
	base, err := parseBaseURL(apiURL)
	if err != nil {
		return nil, err
	}
	if hc == nil {
		hc = &http.Client{Timeout: defaultTimeout}
	}
	c := gh.NewClient(hc)
	c.BaseURL, c.UserAgent = base, "previewd"
	return &ManifestClient{gh: c}, nil
}

// manifestCode matches the codes GitHub hands back; anything else is
// refused before it reaches a URL.
var manifestCode = regexp.MustCompile(`^[A-Za-z0-9_-]{1,200}$`)

// ConvertManifest exchanges code (POST /app-manifests/{code}/conversions)
// for the credentials of the App GitHub registered. Its errors say what
// failed and GitHub's message, never the code, the key or the secret; an
// answer without an ID, a key or a webhook secret is an error too.
func (c *ManifestClient) ConvertManifest(ctx context.Context, code string) (AppCredentials, error) {
	if !manifestCode.MatchString(code) {
		return AppCredentials{}, errors.New("convert App manifest: the code GitHub returned is malformed")
	}
	app, _, err := c.gh.Apps.CompleteAppManifest(ctx, code)
	if err != nil {
		return AppCredentials{}, fmt.Errorf("convert App manifest: %w", conversionError(err))
	}
	creds := AppCredentials{ID: app.GetID(), Slug: app.GetSlug(), HTMLURL: app.GetHTMLURL(), PEM: app.GetPEM(), WebhookSecret: app.GetWebhookSecret()}
	var missing []string
	if creds.ID == 0 {
		missing = append(missing, "id")
	}
	if creds.PEM == "" {
		missing = append(missing, "pem")
	}
	if creds.WebhookSecret == "" {
		missing = append(missing, "webhook_secret")
	}
	if len(missing) > 0 {
		return AppCredentials{}, fmt.Errorf("convert App manifest: GitHub's answer has no %s", strings.Join(missing, ", "))
	}
	return creds, nil
}

// conversionError rewords err without the request's URL, which holds the
// code.
func conversionError(err error) error {
	var resp *gh.ErrorResponse
	if !errors.As(err, &resp) || resp.Response == nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			return fmt.Errorf("POST app-manifests/…/conversions: %w", uerr.Err)
		}
		return err
	}
	why := ""
	switch resp.Response.StatusCode {
	case http.StatusNotFound:
		why = " (the code is unknown, already used or older than an hour: register the App again)"
	case http.StatusUnprocessableEntity:
		why = " (GitHub refused the manifest)"
	}
	msg := resp.Message
	if msg == "" {
		msg = http.StatusText(resp.Response.StatusCode)
	}
	return fmt.Errorf("GitHub answered %d: %s%s", resp.Response.StatusCode, msg, why)
}

// NewAppURL returns the page of GitHub's web interface that registers an
// App from a manifest posted to it: the user's own
// (https://github.com/settings/apps/new) or, when org is set, the
// organisation's (https://github.com/organizations/ORG/settings/apps/new).
// GitHub's web is github.com for api.github.com and the API URL's own
// host for a GitHub Enterprise Server. It returns an error for an API URL
// that is not absolute http or https.
func NewAppURL(apiURL, org string) (string, error) {
	base, err := WebURL(apiURL)
	if err != nil {
		return "", err
	}
	if org == "" {
		return base + "/settings/apps/new", nil
	}
	return base + "/organizations/" + url.PathEscape(org) + "/settings/apps/new", nil
}

// WebURL returns the base URL of GitHub's web interface for the REST API
// at apiURL: https://github.com for api.github.com, scheme://HOST for a
// GitHub Enterprise Server at scheme://HOST/api/v3/.
func WebURL(apiURL string) (string, error) {
	u, err := parseBaseURL(apiURL)
	if err != nil {
		return "", err
	}
	if strings.EqualFold(u.Host, "api.github.com") {
		return "https://github.com", nil
	}
	return u.Scheme + "://" + u.Host, nil
}
