// Package provisioner applies and destroys preview environments by running
// Terraform (or OpenTofu) on the same module production uses. Commands run
// as terraform-exec runs them, through commandRunner, which spares the
// `terraform version` terraform-exec runs before init and show;
// terraform-exec itself checks Terraform's environment and pushes
// recovered state.
//
// # One directory per environment
//
// Every environment owns DataDir/envs/<name>/ and shares nothing mutable with
// another:
//
//	envs/<name>/
//	  module/                 copy of Module.Root (default Module.Dir); Terraform's cwd
//	  module.manifest.json    the paths the last sync copied from the source
//	  .terraform/             TF_DATA_DIR: backend config, modules, providers, the selected workspace
//	  terraform.tfstate       the environment's local state (plus .backup and lock info)
//	  previewd.tfvars.json    the generated variables, mode 0600
//	  previewd.tfbackend      a remote backend's settings, read by init, mode 0600
//	  init.digest             what the last successful init depended on
//	  applied.tfplan          the plan the last apply applied, until the parity check reads it
//
// Beside envs/, DataDir/init/ keeps the result of init per module version
// for other environments to copy (see initCache), DataDir/scratch/ holds
// the short-lived directories production's shape is planned in, and
// DataDir/errored/ keeps every errored.tfstate Terraform left.
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
// Each environment's state is its own, pinned by an override file written
// into the copy, zz_previewd_override.tf.json (zz_previewd_override.tofu.json
// would win over it with OpenTofu, so a module holding a file of that name
// is refused). An override backend replaces whatever backend or cloud block
// the module declares, so a preview can never reach production's state. The
// deprecated -state/-state-out flags are not used: they only affect the
// local backend, so a module declaring a remote backend would still reach
// production's state. A module whose own override file sets a backend or a
// cloud block is refused, since it could sort after previewd's.
//
// By default (Module.State empty or "local") the override holds
// terraform { backend "local" { path = "…/terraform.tfstate" } }, the
// environment's state file given relative to the working directory, so
// every environment of a module inits alike.
//
// With a remote backend (State.Backend "s3", "gcs", "pg" …) the override
// holds an empty block of that type, and the settings go in
// previewd.tfbackend, which init reads (-backend-config=FILE): no value is
// on a command line. The environment's state is then the workspace
// WorkspacePrefix+name, selected by writing TF_DATA_DIR/environment after
// init and before every command that reads or writes state, so none of
// them touches production's "default" workspace; a destroy deletes the
// workspace once its state is empty. StateProblem says which
// backends and settings are refused (http, remote and cloud have no
// workspaces previewd can choose), and LockProblem which leave the state
// unlocked, which replicas sharing a store do not accept.
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
// Config.EnvPassthrough, Config.Env, and TF_DATA_DIR, TF_PLUGIN_CACHE_DIR,
// TF_CLI_CONFIG_FILE and CHECKPOINT_DISABLE=1 set here. Names starting with
// PREVIEWD_ or GITHUB_ never pass, whatever the configuration says, and
// neither do TF_VAR_*, TF_CLI_ARGS*, TF_LOG* and the other names
// terraform-exec manages. Every command runs with TF_IN_AUTOMATION=1.
//
// # Runs
//
// Apply runs init, plan -out, apply of that saved plan, and reads the
// outputs from the state (the local file, or state pull); the plan is kept
// for the parity check (PlanApplied), so what is checked is what was
// applied. Destroy runs init and destroy, or nothing when the environment
// has no state, and removes the environment's directory once its state is
// empty. Init runs only when the module copy, the binary or the settings
// changed since the environment's last one, and an environment whose module
// another environment already initialised copies that result; with a
// dependency lock file, init may not change it (-lockfile=readonly). Every
// run first recovers an errored.tfstate an earlier run left, by keeping it
// under DataDir/errored/ and pushing it as the state.
//
// One *tfexec.Terraform is built per call. Runs of one environment are
// serialised; when a plugin cache is configured, inits of all environments
// are serialised too, since Terraform's cache is not safe for concurrent
// installs. Cancelling ctx sends Terraform SIGINT, and SIGKILL after
// Config.WaitDelay; Terraform then stops its provisioners and writes the
// state it has. Terraform runs in a process group of its own, which its
// providers and local-exec commands join, so the kill stops them all; if
// previewd itself dies, the parent-death signal kills Terraform at once.
package provisioner
