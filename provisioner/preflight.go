package provisioner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	preview "github.com/previewd/previewd"
)

// PreflightWorkspacePrefix starts the name of the scratch workspace
// CheckState creates and deletes again.
const PreflightWorkspacePrefix = WorkspacePrefix + "preflight-"

// CheckState initialises the state backend s as a run would, with
// Terraform's allowlisted environment, in a scratch directory under
// DataDir holding an empty module, then creates the workspace
// PreflightWorkspacePrefix+<random> in it and deletes it again, so missing
// or wrong credentials show before the first pull request does. Local
// state needs nothing and returns nil. The error, with the backend's
// setting values redacted, is Terraform's (init, workspace new or delete).
// It blocks until Terraform is done.
func (p *Provisioner) CheckState(ctx context.Context, s State) error {
	return p.checkState(ctx, s, true)
}

// InitState is CheckState without the scratch workspace: it writes
// nothing to the backend, so a process killed meanwhile leaves nothing
// behind (serve's start-up checks, which every replica runs as it starts).
func (p *Provisioner) InitState(ctx context.Context, s State) error {
	return p.checkState(ctx, s, false)
}

func (p *Provisioner) checkState(ctx context.Context, s State, scratchWorkspace bool) error {
	if !s.Remote() {
		return nil
	}
	if problem := StateProblem(s); problem != "" {
		return preview.Errorf(preview.EINVALID, "%s", problem)
	}
	scratchRoot := filepath.Join(p.dataDir, "scratch")
	if err := os.MkdirAll(scratchRoot, 0o700); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(scratchRoot, "preflight-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ws := workspace{root: dir}
	work := filepath.Join(dir, "module")
	if err := os.MkdirAll(work, 0o700); err != nil {
		return err
	}
	main := fmt.Sprintf("terraform {\n  backend %q {}\n}\n", s.Backend)
	if err := os.WriteFile(filepath.Join(work, "main.tf"), []byte(main), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(ws.backendConfigPath(), backendFile(s), 0o600); err != nil {
		return err
	}
	values := slices.Collect(func(yield func(string) bool) {
		for _, v := range s.Config {
			if len(v) > 3 && !yield(v) {
				return
			}
		}
	})
	secrets := preview.NewSecrets(values...)
	_, cmds, err := p.terraform(work, ws, io.Discard, secrets)
	if err != nil {
		return err
	}
	return checkWorkspace(ctx, cmds, ws.backendConfigPath(), secrets, scratchWorkspace)
}

// checkWorkspace runs init, then, with scratch, creates a scratch
// workspace and deletes it with the default one selected.
func checkWorkspace(ctx context.Context, cmds commandRunner, backendConfig string, secrets preview.Secrets, scratch bool) error {
	fail := func(command string, err error) error {
		return fmt.Errorf("terraform %s: %s", command, secrets.Redact(errorTail(err.Error())))
	}
	if err := retryContended(ctx, func() error { return cmds.init(ctx, false, backendConfig) }); err != nil {
		return fail("init", err)
	}
	if !scratch {
		return nil
	}
	name, err := preflightWorkspace()
	if err != nil {
		return err
	}
	if err := cmds.run(ctx, io.Discard, "workspace", "new", "-no-color", "-lock-timeout="+stateLockTimeout.String(), name); err != nil {
		return fail("workspace new", err)
	}
	err = cmds.runEnv(ctx, io.Discard, map[string]string{"TF_WORKSPACE": "default"},
		"workspace", "delete", "-force", "-no-color", "-lock-timeout="+stateLockTimeout.String(), name)
	if err != nil {
		return fail("workspace delete "+name, err)
	}
	return nil
}

// preflightWorkspace returns a fresh scratch workspace name.
func preflightWorkspace() (string, error) {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return PreflightWorkspacePrefix + strings.ToLower(hex.EncodeToString(b)), nil
}
