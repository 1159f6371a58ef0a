// Package provisioner applies and destroys preview environments by running
// Terraform (or OpenTofu) through terraform-exec on the same module
// production uses.
//
// # One directory per environment
//
// Every environment owns DataDir/envs/<name>/ and shares nothing mutable with
// another:
//
//	envs/<name>/
//	  module/                 copy of Module.Root (default Module.Dir); Terraform's cwd
//	  module.manifest.json    the paths the last sync copied from the source
//	  .terraform/             TF_DATA_DIR: backend config, modules, providers
//	  terraform.tfstate       the environment's state (plus .backup and lock info)
//	  previewd.tfvars.json    the generated variables, mode 0600
//
// The production module directory is only ever read. Before each run its tree
// is synced into module/: every file is copied except Terraform's runtime data
// and any local state (.terraform/, *.tfstate, *.tfstate.*, terraform.tfstate.d/,
// .git/), so a state file someone left in production's checkout never reaches
// a preview.
//
// Terraform runs with the copy as its working directory because that is the
// only way path.module, path.cwd, relative module sources and *.auto.tfvars
// behave as they do in production. Modules may write there: the example
// module keeps its server's pid and URL files under path.cwd, and they must
// survive from apply to destroy. So the sync deletes from the copy only what
// an earlier sync copied and the source no longer has (recorded in
// module.manifest.json); files a module created itself are left alone. Files
// are compared by size and modification time, as rsync does, so a re-sync of
// an unchanged module copies nothing.
//
// # State
//
// State is forced local and per environment by an override file written into
// the copy, zz_previewd_override.tf.json, holding
// terraform { backend "local" { path = ".../envs/<name>/terraform.tfstate" } }.
// An override backend replaces whatever backend or cloud block the module
// declares, so a module whose production state lives in S3 or HCP Terraform
// can never reach production's state from a preview. The deprecated
// -state/-state-out flags were not used: they only affect the local backend,
// so a module declaring a remote backend would still have reached
// production's state. Giving each environment a key in a remote backend is
// left to a later change.
//
// # Variables
//
// The module's declared variables are read with terraform-config-inspect. The
// module must declare "environment"; pr_number, branch, head_sha and repo are
// passed when declared. Module.VarFiles are passed first, in order, then one
// generated JSON var file holding Module.Vars and the per-pull-request
// values, so those win. No value is ever passed on the command line, where
// ps would show it.
//
// # Terraform's environment
//
// Terraform gets an allowlist, never previewd's own environment: a fixed set
// of harmless names (PATH, HOME, proxies, locale, …), the names configured in
// Config.EnvPassthrough, Config.Env, and TF_DATA_DIR, TF_PLUGIN_CACHE_DIR and
// CHECKPOINT_DISABLE=1 set here. Names starting with PREVIEWD_ or GITHUB_ never
// pass, whatever the configuration says. terraform-exec itself adds
// TF_IN_AUTOMATION=1, empties TF_LOG*, sets TF_APPEND_USER_AGENT (appending
// previewd's own TF_APPEND_USER_AGENT, if any) and refuses TF_VAR_*,
// TF_CLI_ARGS* and the other names it manages.
//
// # Runs
//
// Apply runs init, apply and output; Destroy runs init and destroy, or
// nothing when the environment has no state. One *tfexec.Terraform is built
// per call. Runs of one environment are serialised; when a plugin cache is
// configured, inits of all environments are serialised too, since Terraform's
// cache is not safe for concurrent installs. Cancelling ctx sends Terraform
// SIGINT, and SIGKILL after Config.WaitDelay; Terraform then stops its
// provisioners and writes the state it has. If previewd itself dies,
// terraform-exec's parent-death signal kills Terraform at once.
package provisioner
