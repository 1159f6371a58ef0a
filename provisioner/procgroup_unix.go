//go:build unix

package provisioner

import (
	"os/exec"
	"syscall"
)

// ownGroup starts cmd in a process group of its own, which the providers
// and local-exec commands Terraform starts join: killGroup stops them all.
func ownGroup(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	dieWithParent(cmd.SysProcAttr)
}

// killGroup kills every process left in the group cmd leads.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
