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
var managedNames = []string{"TF_DATA_DIR", "TF_PLUGIN_CACHE_DIR", "TF_CLI_CONFIG_FILE"}

// forbidden reports whether name may never be passed to Terraform, in any
// case: github_token is GITHUB_TOKEN to a shell on some systems and to a
// reader always.
func forbidden(name string) bool {
	up := strings.ToUpper(name)
	for _, p := range forbiddenPrefixes {
		if strings.HasPrefix(up, p) {
			return true
		}
	}
	return false
}

// tfexecManaged reports whether terraform-exec refuses name in SetEnv.
func tfexecManaged(name string) bool {
	return len(tfexec.ProhibitedEnv(map[string]string{name: ""})) > 0
}

// PassthroughProblem says why an entry of Config.EnvPassthrough (a
// variable name, or a prefix ending in "*") is refused, or "": "*" alone
// would defeat the allowlist, and no entry may name what is forbidden or
// managed. Configuration checks use it too, so the rules live here once.
func PassthroughProblem(entry string) string {
	literal := strings.TrimSuffix(entry, "*")
	switch {
	case literal == "":
		return "would pass every variable"
	case strings.ContainsAny(literal, "=*"):
		return "is not a name or a prefix ending in *"
	}
	return reserved(literal)
}

// FixedEnvProblem says why a name of Config.Env is refused, or "".
func FixedEnvProblem(name string) string {
	if name == "" || strings.ContainsAny(name, "=*") {
		return "is not a variable name"
	}
	return reserved(name)
}

func validatePassthrough(names []string) error {
	for _, n := range names {
		if why := PassthroughProblem(n); why != "" {
			return fmt.Errorf("env passthrough %q: %s", n, why)
		}
	}
	return nil
}

func validateFixedEnv(env map[string]string) error {
	for _, k := range sortedKeys(env) {
		if why := FixedEnvProblem(k); why != "" {
			return fmt.Errorf("env %q: %s", k, why)
		}
	}
	return nil
}

// reserved says why name may not be configured for Terraform, or "".
func reserved(name string) string {
	up := strings.ToUpper(name)
	switch {
	case forbidden(name):
		return "names starting with " + strings.Join(forbiddenPrefixes, " or ") + " are never passed to Terraform"
	case managed(up):
		return "previewd sets this variable"
	case tfexecManaged(up):
		return "terraform-exec manages this variable"
	}
	return ""
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
