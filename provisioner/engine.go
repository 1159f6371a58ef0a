package provisioner

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// EngineBanner returns the first line `version` prints for the configured
// binary: "Terraform v1.5.7" or "OpenTofu v1.8.2". It runs the binary the
// first time, with Terraform's allowlisted environment, and remembers the
// answer.
func (p *Provisioner) EngineBanner(ctx context.Context) (string, error) {
	p.engineMu.Lock()
	defer p.engineMu.Unlock()
	if p.engine != "" {
		return p.engine, nil
	}
	cmd := exec.CommandContext(ctx, p.bin, "version")
	for k, v := range terraformEnv(os.Environ(), p.cfg.EnvPassthrough, p.cfg.Env, nil) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s version: %w", p.bin, err)
	}
	line, _, _ := strings.Cut(strings.TrimSpace(out.String()), "\n")
	p.engine = line
	return line, nil
}

// FindTerraform resolves the configured binary, then ./bin/terraform, then
// terraform on PATH.
func FindTerraform(configured string) (string, error) {
	if configured != "" {
		p, err := exec.LookPath(configured)
		if err != nil {
			return "", fmt.Errorf("terraform.bin (PREVIEWD_TERRAFORM_BIN): %w", err)
		}
		return filepath.Abs(p)
	}
	if p, err := filepath.Abs(filepath.Join("bin", "terraform")); err == nil {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	p, err := exec.LookPath("terraform")
	if err != nil {
		return "", fmt.Errorf("terraform.bin (PREVIEWD_TERRAFORM_BIN): no terraform in ./bin or on PATH; run `make terraform`")
	}
	return p, nil
}
