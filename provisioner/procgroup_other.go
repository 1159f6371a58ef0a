//go:build unix && !linux

package provisioner

import "syscall"

func dieWithParent(*syscall.SysProcAttr) {}
