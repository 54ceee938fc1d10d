// Command kubectl-sp is the kubectl plugin for StreamProcessors: copy it onto
// PATH and run `kubectl sp --help` (internal/kubectlsp has the commands).
package main

import (
	"os"

	"github.com/kdp-io/streamprocessor-operator/internal/kubectlsp"
)

func main() {
	os.Exit(kubectlsp.Main(os.Args[1:], os.Stdout, os.Stderr))
}
