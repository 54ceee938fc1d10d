// Command installer writes the install artefacts of the operator, as
// kubebuilder v4 projects ship them (`make build-installer`):
//
//   - dist/install.yaml: `kustomize build config/default` with the manager's
//     image set to -img — the CRD, the namespace, RBAC and the Deployment in
//     one file for `kubectl apply -f`;
//   - dist/chart/: a Helm chart from the sources in hack/installer/chart, with
//     the CRD (crds/) and the manager's ClusterRole rules taken from config/,
//     so the chart and the bundle grant the same.
//
// Both are generated; edit config/ or hack/installer/chart and run
// `make build-installer`. The tests check that dist/ is up to date.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	var root, out, img string
	flag.StringVar(&root, "root", ".", "Module root (holds config/).")
	flag.StringVar(&out, "out", "dist", "Directory for install.yaml and chart/.")
	flag.StringVar(&img, "img", DefaultImage, "Manager image for install.yaml.")
	flag.Parse()
	if err := Write(root, out, img); err != nil {
		fmt.Fprintln(os.Stderr, "installer:", err)
		os.Exit(1)
	}
}
