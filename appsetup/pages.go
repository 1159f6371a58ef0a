package appsetup

import (
	"html/template"
	"path/filepath"
)

// formPage is the setup page: a form posting the manifest to GitHub.
type formPage struct {
	Action   string // GitHub's registration page, with ?state=
	Manifest string // JSON
}

// donePage says what was written and what to run next.
type donePage struct {
	App        Credentials // without its secrets
	Files      []string
	Output     Output
	InstallURL string
}

// SecretPath is the webhook secret file, for the page's commands.
func (p donePage) SecretPath() string {
	for _, f := range p.Files {
		if filepath.Base(f) == SecretFile {
			return f
		}
	}
	return SecretFile
}

type errorPage struct {
	Title   string
	Message string
}

func templateOf(page any) string {
	switch page.(type) {
	case formPage:
		return "form"
	case donePage:
		return "done"
	default:
		return "error"
	}
}

var pages = template.Must(template.New("").Parse(`
{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>previewd setup</title>
<style>body{font-family:system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem;line-height:1.5}
pre{background:#f4f4f4;padding:.75rem;overflow-x:auto}button{font-size:1.1rem;padding:.5rem 1rem}</style>
</head><body>{{end}}

{{define "form"}}{{template "head"}}
<h1>Register previewd's GitHub App</h1>
<p>The button sends the App's manifest to GitHub, which asks you to confirm
its name and creates it, then sends you back here. previewd then fetches the
App's ID, private key and webhook secret, writes them and stops.</p>
<form action="{{.Action}}" method="post">
<input type="hidden" name="manifest" value="{{.Manifest}}">
<button type="submit">Create the GitHub App</button>
</form>
<details><summary>The manifest</summary><pre>{{.Manifest}}</pre></details>
</body></html>{{end}}

{{define "done"}}{{template "head"}}
<h1>The App {{.App.Slug}} is registered</h1>
<p>GitHub App ID <strong>{{.App.ID}}</strong>{{with .App.HTMLURL}}: <a href="{{.}}">{{.}}</a>{{end}}.</p>
{{if .Output.Kubernetes}}
<p>The Kubernetes Secret holding its private key and webhook secret is printed
in the terminal that runs <code>previewd setup</code>. Set
<code>github.app_id: {{.App.ID}}</code> in previewd's ConfigMap and apply the Secret.</p>
{{else}}
<p>Written:</p>
<ul>{{range .Files}}<li><code>{{.}}</code></li>{{end}}</ul>
<p>Merge <code>{{index .Files 2}}</code> into previewd.yaml, then:</p>
<pre>export PREVIEWD_WEBHOOK_SECRET="$(cat {{.SecretPath}})"
previewd check --config previewd.yaml
previewd serve --config previewd.yaml</pre>
{{end}}
{{with .InstallURL}}<p>Then install the App on the repositories it should serve:
<a href="{{.}}">{{.}}</a>.</p>{{end}}
<p>previewd setup has stopped; you can close this page.</p>
</body></html>{{end}}

{{define "error"}}{{template "head"}}
<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
<p><a href="/">Back to the setup page</a></p>
</body></html>{{end}}
`))
