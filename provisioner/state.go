package provisioner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/previewd/previewd/internal/atomicfile"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/hashicorp/terraform-exec/tfexec"
	preview "github.com/previewd/previewd"
	"github.com/zclconf/go-cty/cty"
)

// State is where the environments of a module keep their Terraform state.
type State struct {
	// Backend is a Terraform backend type: "s3", "gcs", "azurerm", "pg",
	// "consul", "kubernetes" …; "" or "local" keeps each environment's state
	// in a local file under DataDir, the default.
	Backend string
	// Config is the backend's settings, written to a backend configuration
	// file that init reads (-backend-config=FILE), so no value is ever on a
	// command line. Credentials belong in Terraform's environment
	// (terraform.env_passthrough), not here.
	Config map[string]string
}

// Remote reports whether s keeps state outside DataDir.
func (s State) Remote() bool { return s.Backend != "" && s.Backend != "local" }

// WorkspacePrefix starts the Terraform workspace of every environment under
// a remote backend: an environment's state is the workspace
// WorkspacePrefix+name, which carries its name and is never production's
// "default" (or any name production could use without the prefix).
const WorkspacePrefix = "previewd-"

var (
	backendName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
	settingName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
)

// unsupportedBackends cannot give each environment a workspace of its own.
var unsupportedBackends = map[string]string{
	"remote": "picks its workspaces from its own workspaces block, not per environment",
	"cloud":  "picks its workspaces from its own workspaces block, not per environment",
	"http":   "has no workspaces, so every environment would share one state",
	"local":  "takes no settings: each environment's state file is DATA_DIR/envs/<name>/terraform.tfstate",
}

// notEmpty names, per backend, the settings that would put every
// workspace's state in production's place when empty.
var notEmpty = map[string][]string{"s3": {"workspace_key_prefix"}}

// LockProblem says why s cannot keep two Terraform processes of one
// environment apart, or "" when its backend locks the state: the local
// backend's lock is a file only one machine sees, and s3 locks only with a
// DynamoDB table or a lock file. Replicas sharing a store need the lock
// (see the controller's leases): it is the last guard should two of them
// ever run one environment at once.
func LockProblem(s State) string {
	switch {
	case !s.Remote():
		return "local state is a file on one replica's disk, locked only there"
	case s.Backend == "s3" && strings.TrimSpace(s.Config["dynamodb_table"]) == "" && s.Config["use_lockfile"] != "true":
		return `the s3 backend locks nothing without dynamodb_table or use_lockfile: "true"`
	}
	return ""
}

// StateProblem says why s is refused, or "": an unknown-looking or
// unsupported backend, a malformed setting name, settings for the local
// backend, or a setting that would put every environment's state, or
// production's, in one place.
func StateProblem(s State) string {
	if !s.Remote() {
		if len(s.Config) > 0 {
			return "the local backend " + unsupportedBackends["local"]
		}
		return ""
	}
	if !backendName.MatchString(s.Backend) {
		return fmt.Sprintf("backend %q is not a Terraform backend type", s.Backend)
	}
	if why, ok := unsupportedBackends[s.Backend]; ok {
		return fmt.Sprintf("backend %q %s", s.Backend, why)
	}
	for _, k := range slices.Sorted(maps.Keys(s.Config)) {
		if !settingName.MatchString(k) {
			return fmt.Sprintf("setting %q is not a backend setting name", k)
		}
		if k == "workspace" || k == "workspaces" {
			return fmt.Sprintf("setting %q would choose the workspace, which previewd gives each environment", k)
		}
		if slices.Contains(notEmpty[s.Backend], k) && strings.TrimSpace(s.Config[k]) == "" {
			return fmt.Sprintf("setting %q may not be empty: every environment's state would be production's key", k)
		}
	}
	return ""
}

// backendFile renders s's settings as a backend configuration file in
// HCL's native syntax, every value a quoted string with "${" and "%{"
// escaped. Not JSON: Terraform reads a JSON file's strings literally and
// OpenTofu as templates, while both read native strings as templates, so
// only there does "${" in a password reach both engines as "${".
func backendFile(s State) []byte {
	f := hclwrite.NewEmptyFile()
	for _, k := range slices.Sorted(maps.Keys(s.Config)) {
		f.Body().SetAttributeValue(k, cty.StringVal(s.Config[k]))
	}
	return f.Bytes()
}

// backendOverrideFor returns the override file pinning the module's backend
// to s: for the local backend, this environment's own state file at
// statePath (relative to the working directory); for another, an empty
// block of its type, which the backend configuration file fills at init.
func backendOverrideFor(s State, statePath string) ([]byte, error) {
	if !s.Remote() {
		return backendOverride(statePath)
	}
	return json.MarshalIndent(map[string]any{
		"//": "Written by previewd: this environment's own state. Do not edit.",
		"terraform": map[string]any{
			"backend": map[string]any{s.Backend: map[string]any{}},
		},
	}, "", "  ")
}

// selectWorkspace makes the environment's own workspace the one Terraform
// runs in, by writing it where Terraform reads it (TF_DATA_DIR/environment).
// It is written before every command that reads or writes state, after
// init: init runs in the default workspace, because Terraform's init
// refuses a selected workspace the backend does not hold yet, and a state
// command creates it.
func (r *run) selectWorkspace(name string) error {
	if !r.state.Remote() {
		return nil
	}
	return atomicfile.WriteFile(filepath.Join(r.ws.dataDir(), workspaceFile), []byte(WorkspacePrefix+name), 0o600)
}

// unselectWorkspace leaves the default workspace selected, for init.
func (r *run) unselectWorkspace() error {
	if !r.state.Remote() {
		return nil
	}
	err := os.Remove(filepath.Join(r.ws.dataDir(), workspaceFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// readState returns the environment's state as Terraform writes it, nil
// when it has none: the local file, or `terraform state pull` from a
// remote backend (its output is never logged).
func (r *run) readState(ctx context.Context) ([]byte, error) {
	if !r.state.Remote() {
		return readLocalState(r.ws)
	}
	var out bytes.Buffer
	err := retryContended(ctx, func() error {
		out.Reset()
		return r.cmds.run(ctx, &out, "state", "pull")
	})
	if err != nil {
		return nil, r.commandError(ctx, "state pull", err)
	}
	if len(bytes.TrimSpace(out.Bytes())) == 0 {
		return nil, nil
	}
	return out.Bytes(), nil
}

// stateDoc is what previewd reads of a state: its outputs and whether it
// holds resources.
type stateDoc struct {
	Outputs   map[string]tfexec.OutputMeta `json:"outputs"`
	Resources []json.RawMessage            `json:"resources"`
}

// noLocalState reports whether mod keeps its state in local files and ws's
// holds no resources: then Terraform has nothing to find, and need not
// start. A remote state is never known empty without Terraform.
func noLocalState(mod Module, ws workspace) (bool, error) {
	if mod.State.Remote() {
		return false, nil
	}
	b, err := readLocalState(ws)
	if err != nil {
		return false, err
	}
	doc, err := parseState(b)
	return len(doc.Resources) == 0, err
}

// readLocalState returns ws's local state file, nil when there is none.
func readLocalState(ws workspace) ([]byte, error) {
	b, err := os.ReadFile(ws.statePath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// stateEmpty reports whether the run's state holds no resources: the
// state ready pulled, the first time after it, else read now.
func (r *run) stateEmpty(ctx context.Context) (bool, error) {
	if doc := r.pulled; doc != nil {
		r.pulled = nil // a later ask follows commands that may change it
		return len(doc.Resources) == 0, nil
	}
	b, err := r.readState(ctx)
	if err != nil {
		return false, err
	}
	doc, err := parseState(b)
	return len(doc.Resources) == 0, err
}

// secrets returns the values of the sensitive outputs: what a destroy or a
// plan may print of them is redacted too.
func (doc stateDoc) secrets() []string {
	var secrets []string
	for _, o := range doc.Outputs {
		var v any
		if o.Sensitive && json.Unmarshal(o.Value, &v) == nil {
			secrets = append(secrets, preview.Leaves(v)...)
		}
	}
	return secrets
}

func parseState(b []byte) (stateDoc, error) {
	var doc stateDoc
	if len(b) == 0 {
		return doc, nil
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return stateDoc{}, fmt.Errorf("read state: %w", err)
	}
	return doc, nil
}

// deleteWorkspace removes the environment's workspace from the remote
// backend once its state is empty, so destroyed previews leave nothing
// behind. Without -force, Terraform refuses a workspace whose state still
// holds resources: a destroy that left any fails here rather than losing
// track of them. Terraform refuses to delete the selected workspace: the
// command runs with the default one selected through TF_WORKSPACE.
func (r *run) deleteWorkspace(ctx context.Context, name string) error {
	if !r.state.Remote() {
		return nil
	}
	err := retryContended(ctx, func() error {
		return r.cmds.runEnv(ctx, r.cmds.log.stdout(), map[string]string{"TF_WORKSPACE": "default"}, "workspace", "delete", "-no-color", "-lock-timeout="+stateLockTimeout.String(), WorkspacePrefix+name)
	})
	if err != nil {
		return r.commandError(ctx, "workspace delete", err)
	}
	return nil
}

// overrideBackend names an override file in dir that sets a backend or a
// cloud block: Terraform merges override files in name order, and one
// sorting after previewd's own would take the environment's state
// elsewhere (production's, say). OpenTofu's .tofu and .tofu.json override
// files count too. "" when there is none.
func overrideBackend(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	parser := hclparse.NewParser()
	for _, e := range entries {
		name := e.Name()
		base, isConfig := configName(name)
		if e.IsDir() || name == overrideFile || !isConfig || (base != "override" && !strings.HasSuffix(base, "_override")) {
			continue
		}
		var file *hcl.File
		var diags hcl.Diagnostics
		if strings.HasSuffix(name, ".json") {
			file, diags = parser.ParseJSONFile(filepath.Join(dir, name))
		} else {
			file, diags = parser.ParseHCLFile(filepath.Join(dir, name))
		}
		if diags.HasErrors() {
			return "", fmt.Errorf("read %s: %s", name, diags.Error())
		}
		content, _, _ := file.Body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "terraform"}}})
		for _, block := range content.Blocks {
			inner, _, _ := block.Body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "backend", LabelNames: []string{"type"}}, {Type: "cloud"}}})
			if len(inner.Blocks) > 0 {
				return name, nil
			}
		}
	}
	return "", nil
}

// Refused reports whether a plan failed at s, a remote state backend,
// rather than at the module: terraform init stopped while initialising the
// backend (most often for want of its credentials), or the state could not
// be read. tfLog is what Terraform printed.
func (s State) Refused(err error, tfLog string) bool {
	if !s.Remote() {
		return false
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "terraform state pull: "):
		return true
	case strings.Contains(msg, "terraform init: "):
		// init initialises the backend before the providers, and stops at
		// the backend when that fails.
		i := strings.LastIndex(tfLog, "Initializing the backend...")
		return i >= 0 && !strings.Contains(tfLog[i:], "Initializing provider plugins...")
	}
	return false
}
