package provisioner

import "syscall"

// dieWithParent has the kernel kill Terraform when previewd dies, as
// terraform-exec has it: a replica killed mid-run leaves no Terraform
// running on behind the lease it no longer renews.
func dieWithParent(attr *syscall.SysProcAttr) { attr.Pdeathsig = syscall.SIGKILL }
