package provisioner

import (
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-exec/tfexec"
)

// defaultPassthrough names the variables always copied from previewd's
// environment into Terraform's.
var defaultPassthrough = []string{
	"PATH", "HOME", "TMPDIR", "USER", "LANG", "LC_ALL", "TZ",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
	"SSL_CERT_FILE", "SSL_CERT_DIR",
}

// forbiddenPrefixes start the names of variables that never reach Terraform:
// previewd's own settings (webhook secret, admin token, App key) and GitHub
// tokens.
var forbiddenPrefixes = []string{"PREVIEWD_", "GITHUB_"}

// managedNames are set by the provisioner itself and may not be configured.
var managedNames = []string{"TF_DATA_DIR", "TF_PLUGIN_CACHE_DIR"}

// forbidden reports whether name may never be passed to Terraform.
func forbidden(name string) bool {
	for _, p := range forbiddenPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// tfexecManaged reports whether terraform-exec refuses name in SetEnv.
func tfexecManaged(name string) bool {
	return len(tfexec.ProhibitedEnv(map[string]string{name: ""})) > 0
}

// validatePassthrough checks Config.EnvPassthrough: each entry a variable
// name or a prefix ending in "*", none that could only match forbidden or
// terraform-exec managed names, and not "*" alone, which would defeat the
// allowlist.
func validatePassthrough(names []string) error {
	for _, n := range names {
		literal := strings.TrimSuffix(n, "*")
		switch {
		case literal == "":
			return fmt.Errorf("env passthrough %q: would pass every variable", n)
		case strings.ContainsAny(literal, "=*"):
			return fmt.Errorf("env passthrough %q: not a name or a prefix ending in *", n)
		case reserved(literal) != "":
			return fmt.Errorf("env passthrough %q: %s", n, reserved(literal))
		}
	}
	return nil
}

// reserved says why name may not be configured for Terraform, or "".
func reserved(name string) string {
	switch {
	case forbidden(name):
		return "names starting with " + strings.Join(forbiddenPrefixes, " or ") + " are never passed to terraform"
	case tfexecManaged(name):
		return "terraform-exec manages this variable"
	case managed(name):
		return "previewd sets this variable"
	}
	return ""
}

// validateFixedEnv checks Config.Env by the same rules as passthrough names.
func validateFixedEnv(env map[string]string) error {
	for k := range env {
		switch {
		case k == "" || strings.ContainsAny(k, "=*"):
			return fmt.Errorf("env %q: not a variable name", k)
		case reserved(k) != "":
			return fmt.Errorf("env %q: %s", k, reserved(k))
		}
	}
	return nil
}

func managed(name string) bool {
	for _, m := range managedNames {
		if name == m {
			return true
		}
	}
	return false
}

// matchesAny reports whether name is one of patterns, where a pattern ending
// in "*" matches every name with that prefix.
func matchesAny(name string, patterns []string) bool {
	for _, p := range patterns {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(name, prefix) {
				return true
			}
		} else if name == p {
			return true
		}
	}
	return false
}

// terraformEnv builds Terraform's whole environment from previewd's environ
// ("KEY=value" entries, as os.Environ returns them): the default and
// configured passthrough names, then fixed, then the values the provisioner
// manages (TF_DATA_DIR …), which win. Forbidden and terraform-exec managed
// names are dropped even when a prefix pattern matches them.
func terraformEnv(environ, passthrough []string, fixed, own map[string]string) map[string]string {
	env := map[string]string{"CHECKPOINT_DISABLE": "1"} // no calls home
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || forbidden(k) || tfexecManaged(k) || managed(k) {
			continue
		}
		if matchesAny(k, defaultPassthrough) || matchesAny(k, passthrough) {
			env[k] = v
		}
	}
	for k, v := range fixed {
		env[k] = v
	}
	for k, v := range own {
		env[k] = v
	}
	return env
}
