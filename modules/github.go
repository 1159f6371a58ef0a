package modules

import preview "github.com/previewd/previewd"

// OnGitHub reports whether the module env follows with s is fetched from
// GitHub's git host (a base source, or a git source there), with the
// installation's token: what needs the App's contents permission.
func (r *Resolver) OnGitHub(env preview.Environment, s Setting) bool {
	if s.Source == "" {
		return false
	}
	if _, ok := BaseDir(s.Source); ok {
		return true
	}
	src, err := ParseSource(s.Source)
	if err != nil {
		return false
	}
	_, ok := githubRepo(src.URL, r.host)
	return ok
}
