package provisioner

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"

	"github.com/previewd/previewd/internal/atomicfile"
)

// init runs terraform init, one environment at a time when a plugin cache is
// shared. With a dependency lock file in the module, init may not change it
// (-lockfile=readonly): a preview runs the providers production runs. The
// backend is always the one previewd writes (-reconfigure: no state is ever
// migrated).
//
// An environment whose module copy, binary and settings are those of its
// last successful init is not initialised again: init would do nothing
// but cost a Terraform process. One whose module another environment initialised takes a copy of
// that init's result (see initCache).
func (p *Provisioner) init(ctx context.Context, r *run) error {
	key := p.initKey(r)
	if key != "" {
		if done, err := os.ReadFile(r.ws.initDigestPath()); err == nil && string(done) == key {
			if _, err := os.Stat(r.ws.dataDir()); err == nil {
				fmt.Fprintf(r.log, "# previewd: the module and its providers are as the last init left them; not running terraform init\n")
				return nil
			}
		}
	}
	os.Remove(r.ws.initDigestPath()) // an init cut short leaves nothing to trust
	if err := r.unselectWorkspace(); err != nil {
		return err
	}
	if key != "" {
		restored, err := p.inits.restore(key, r)
		if err != nil {
			p.logger.Warn("could not copy a kept init; running terraform init", "dir", r.ws.root, "err", err)
		} else if restored {
			r.restoredInit = p.inits.entry(key)
			fmt.Fprintf(r.log, "# previewd: this module was initialised for another environment; copied that init instead of running terraform init\n")
			return atomicfile.WriteFile(r.ws.initDigestPath(), []byte(key), 0o600)
		}
	}
	if p.initSem != nil {
		select {
		case p.initSem <- struct{}{}:
			defer func() { <-p.initSem }()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := retryContended(ctx, func() error { return r.cmds.init(ctx, r.locked, r.backendConfigArg()) }); err != nil {
		return r.commandError(ctx, "init", err)
	}
	if key == "" {
		return nil
	}
	if err := p.inits.keep(key, r); err != nil {
		p.logger.Warn("could not keep an init for other environments", "dir", r.ws.root, "err", err)
	}
	return atomicfile.WriteFile(r.ws.initDigestPath(), []byte(key), 0o600)
}

// initKey is what an init's result depends on: the module copy, where in it
// Terraform runs, the binary, the plugin cache, the CLI configuration (where
// providers come from), the backend's settings and whether the lock file is
// read-only; "" when the run synced no module. The environment is not part
// of it: the backend's path is relative (see backendOverride).
func (p *Provisioner) initKey(r *run) string {
	if r.moduleDigest == "" {
		return ""
	}
	rel, _ := filepath.Rel(r.ws.root, r.tf.WorkingDir())
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", r.state.Backend)
	h.Write(backendFile(r.state))
	if p.cfg.CLIConfigFile != "" {
		cli, err := os.ReadFile(p.cfg.CLIConfigFile)
		if err != nil {
			return "" // init, and keep nothing
		}
		fmt.Fprintf(h, "\n%s\n", p.cfg.CLIConfigFile)
		h.Write(cli)
	}
	return fmt.Sprintf("v3 %s %s %s %s %t %x", r.moduleDigest, rel, p.bin, p.cfg.PluginCacheDir, r.locked, h.Sum(nil)[:12])
}

// backendConfigArg is the backend configuration file as init's
// -backend-config takes it (relative to the working directory, like the
// local state's path, so every environment inits alike), or "".
func (r *run) backendConfigArg() string {
	if !r.state.Remote() {
		return ""
	}
	rel, err := filepath.Rel(r.tf.WorkingDir(), r.ws.backendConfigPath())
	if err != nil {
		return r.ws.backendConfigPath()
	}
	return rel
}
