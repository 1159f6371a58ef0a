package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/previewd/previewd/provisioner"
)

// planCache keeps the plan of production's shape per repository, module
// contents and production inputs: it does not depend on the pull request,
// so every preview of the same module version compares with one plan
// instead of planning production again after each apply.
type planCache struct {
	mu    sync.Mutex
	plans map[string]provisioner.PlanResult // key → plan
}

func newPlanCache() *planCache { return &planCache{plans: map[string]provisioner.PlanResult{}} }

// get returns a PlanProduction that answers from the cache when the module
// in moduleDir and the inputs are unchanged, and plans (and remembers) when
// they are not. A module that cannot be read is planned every time.
func (c *planCache) get(prov *provisioner.Provisioner, moduleDir string, varFiles []string) func(context.Context, string, map[string]any, io.Writer) (provisioner.PlanResult, error) {
	return func(ctx context.Context, repo string, vars map[string]any, log io.Writer) (provisioner.PlanResult, error) {
		key, err := planKey(repo, moduleDir, varFiles, vars)
		if err != nil {
			return prov.PlanProduction(ctx, repo, vars, log)
		}
		c.mu.Lock()
		res, ok := c.plans[key]
		c.mu.Unlock()
		if ok {
			fmt.Fprintf(log, "# previewd: production's shape of this module version was planned before; reusing that plan\n")
			return res, nil
		}
		res, err = prov.PlanProduction(ctx, repo, vars, log)
		if err != nil {
			return res, err
		}
		c.mu.Lock()
		if len(c.plans) > 64 { // a handful of module versions live at once
			clear(c.plans)
		}
		c.plans[key] = res
		c.mu.Unlock()
		return res, nil
	}
}

// planKey digests the repository, every file of the module directory,
// production's var files (wherever they are) and the inputs.
func planKey(repo, moduleDir string, varFiles []string, vars map[string]any) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00", repo)
	in, err := json.Marshal(vars) // map keys are sorted
	if err != nil {
		return "", err
	}
	h.Write(in)
	for _, f := range varFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "\x00%s\x00%d\x00", f, len(data))
		h.Write(data)
	}
	err = filepath.WalkDir(moduleDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".terraform" || d.Name() == ".git") {
			return filepath.SkipDir
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(moduleDir, path)
		fmt.Fprintf(h, "\x00%s\x00%d\x00", rel, len(data))
		h.Write(data)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}
