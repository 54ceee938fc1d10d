package consumer

import (
	"os/exec"
	"syscall"
)

// setChildAttrs makes the kernel kill a processor subprocess when the consumer
// dies, even by SIGKILL, so no processor outlives its consumer and keeps
// working on a shard whose lease has moved.
func setChildAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
