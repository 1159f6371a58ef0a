// Package enginetest finds what the tests that run real engines and
// providers need: the Terraform and OpenTofu binaries and the provider
// mirror, which `make test` builds into ./bin and ./.cache/providers.
package enginetest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Terraform returns the Terraform binary: PREVIEWD_TERRAFORM_BIN, or
// bin/terraform under root, as Tofu finds OpenTofu.
func Terraform(t testing.TB, root string) string {
	t.Helper()
	return engine(t, root, "PREVIEWD_TERRAFORM_BIN", "terraform", "no terraform binary", "`make terraform` builds one into bin/, or set PREVIEWD_TERRAFORM_BIN")
}

// Tofu returns the OpenTofu binary: PREVIEWD_TOFU_BIN, or bin/tofu under
// root, the repository's root as the test's directory reaches it ("..",
// "../.."). Without one the test fails under CI (make test builds it) and
// is skipped elsewhere, saying how to get one.
func Tofu(t testing.TB, root string) string {
	t.Helper()
	return engine(t, root, "PREVIEWD_TOFU_BIN", "tofu", "no OpenTofu binary", "`make tofu` builds one into bin/, or set PREVIEWD_TOFU_BIN")
}

// engine returns the binary the variable names, or bin/name under root.
func engine(t testing.TB, root, variable, name, missing, how string) string {
	t.Helper()
	bin := os.Getenv(variable)
	if bin == "" {
		bin = filepath.Join(root, "bin", name)
	}
	abs, err := filepath.Abs(bin)
	if err == nil {
		_, err = os.Stat(abs)
	}
	need(t, err, missing, how)
	return abs
}

// need stops the test when err says what it needs is missing: a failure
// under CI, where make test provides everything, and a skip elsewhere,
// saying how to get it.
func need(t testing.TB, err error, missing, how string) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (%v): make test provides it; %s", missing, err, how)
	}
	t.Skipf("%s (%v): %s", missing, err, how)
}

// ProviderMirror returns the filesystem mirror holding the providers the
// tests use (hashicorp/time): PREVIEWD_TEST_PROVIDER_MIRROR, or
// .cache/providers under root. Without one the test fails under CI (make
// test builds it) and is skipped elsewhere.
func ProviderMirror(t testing.TB, root string) string {
	t.Helper()
	return mirrorOf(t, root, "hashicorp/time", "`make providers` builds one into .cache/providers, or set PREVIEWD_TEST_PROVIDER_MIRROR")
}

// PGProviderMirror returns the filesystem mirror holding previewd/pg, the
// PostgreSQL provider (pg_role, pg_database) that scripts/pg-provider.sh
// builds from testdata/terraform-provider-pg: the mirror ProviderMirror
// returns, which then serves hashicorp/time too. The provider connects with
// the libpq environment variables (PGHOST, PGUSER, …). Without it the test
// fails under CI and is skipped elsewhere, as with ProviderMirror.
func PGProviderMirror(t testing.TB, root string) string {
	t.Helper()
	return mirrorOf(t, root, "previewd/pg", "`make providers` builds it into .cache/providers (`scripts/pg-provider.sh DIR` into another mirror), or set PREVIEWD_TEST_PROVIDER_MIRROR")
}

// mirrorOf returns PREVIEWD_TEST_PROVIDER_MIRROR, or .cache/providers
// under root, when it holds provider (namespace/type) under Terraform's
// registry name; how says how to get it when it does not.
func mirrorOf(t testing.TB, root, provider, how string) string {
	t.Helper()
	dir := os.Getenv("PREVIEWD_TEST_PROVIDER_MIRROR")
	if dir == "" {
		dir = filepath.Join(root, ".cache", "providers")
	}
	abs, err := filepath.Abs(dir)
	if err == nil {
		_, err = os.Stat(filepath.Join(abs, "registry.terraform.io", filepath.FromSlash(provider)))
	}
	need(t, err, "no provider mirror with "+provider, how)
	return abs
}

// MirrorConfig writes a Terraform CLI configuration file installing every
// provider from mirror and none from the network, and returns its path.
func MirrorConfig(t testing.TB, mirror string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "terraform.tfrc")
	body := fmt.Sprintf("provider_installation {\n  filesystem_mirror {\n    path = %q\n  }\n}\n", mirror)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// LockProviders writes dir's dependency lock file as production would,
// with bin's `providers lock` from mirror for this platform.
func LockProviders(t testing.TB, bin, dir, mirror string) {
	t.Helper()
	cmd := exec.Command(bin, "providers", "lock", "-fs-mirror="+mirror, "-platform="+runtime.GOOS+"_"+runtime.GOARCH)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+MirrorConfig(t, mirror), "CHECKPOINT_DISABLE=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s providers lock: %v\n%s", bin, err, out)
	}
}
