//go:build !linux

package consumer

import "os/exec"

// setChildAttrs: only Linux can tie a child's life to its parent's; elsewhere
// the consumer kills its processors when it stops (multiLangFactory.killAll).
func setChildAttrs(*exec.Cmd) {}
