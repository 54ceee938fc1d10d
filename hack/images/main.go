// Command images builds the manager, producer and consumer images without a
// Docker engine: each is a static Go binary on an empty (scratch) base with
// the host's CA certificates and an /etc/passwd whose only login user is
// nonroot (65532), written as a multi-platform OCI image layout under
// -out/<name>/, and pushed with -registry when one is reachable.
//
// The same sources, version, revision and SOURCE_DATE_EPOCH give the same
// digests: the binaries are built with -trimpath and no VCS stamp, every file
// in the layer has a fixed owner and time, and the image's creation time is
// SOURCE_DATE_EPOCH (the last commit's time in the Makefile).
//
//	go run ./hack/images -out dist/images -version v0.1.0 -revision $(git rev-parse HEAD)
//	go run ./hack/images -out dist/images -registry ghcr.io/kdp-io   # also push
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

func main() {
	var (
		opts      Options
		platforms string
		images    string
		registry  string
	)
	flag.StringVar(&opts.Out, "out", "dist/images", "Directory for the OCI image layouts (one per image).")
	flag.StringVar(&opts.Version, "version", "v0.1.0", "Version: the image tag, the org.opencontainers.image.version label and the binaries' -version.")
	flag.StringVar(&opts.Revision, "revision", "", "Source revision (git commit) for the org.opencontainers.image.revision label.")
	flag.StringVar(&opts.Source, "source", "https://github.com/kdp-io/streamprocessor-operator", "org.opencontainers.image.source label.")
	flag.StringVar(&opts.CACerts, "ca-certs", "/etc/ssl/certs/ca-certificates.crt", "CA bundle copied into the images.")
	flag.Int64Var(&opts.Created, "created", envInt("SOURCE_DATE_EPOCH"), "Image creation time, seconds since the epoch (default $SOURCE_DATE_EPOCH, else 0).")
	flag.StringVar(&platforms, "platforms", "linux/amd64,linux/arm64", "Comma-separated os/arch list.")
	flag.StringVar(&images, "images", "manager,producer,consumer", "Comma-separated images to build.")
	flag.StringVar(&registry, "registry", "", "Push each image as REGISTRY/streamprocessor-<name>:VERSION (credentials from ~/.docker/config.json).")
	flag.Parse()

	for _, p := range strings.Split(platforms, ",") {
		os, arch, ok := strings.Cut(strings.TrimSpace(p), "/")
		if !ok {
			fatalf("platform %q is not os/arch", p)
		}
		opts.Platforms = append(opts.Platforms, Platform{OS: os, Arch: arch})
	}
	for _, name := range strings.Split(images, ",") {
		spec, ok := Specs[strings.TrimSpace(name)]
		if !ok {
			fatalf("unknown image %q (manager, producer, consumer)", name)
		}
		built, err := Build(spec, opts)
		if err != nil {
			fatalf("%v", err)
		}
		fmt.Printf("%s\t%s\t%s\n", spec.Name, built.Digest, built.Layout)
		if registry != "" {
			ref := fmt.Sprintf("%s/%s:%s", strings.TrimSuffix(registry, "/"), spec.Repository, opts.Version)
			if err := Push(built, ref); err != nil {
				fatalf("%v", err)
			}
			fmt.Printf("pushed %s@%s\n", ref, built.Digest)
		}
	}
}

func envInt(name string) int64 {
	var n int64
	if v := os.Getenv(name); v != "" {
		if _, err := fmt.Sscan(v, &n); err != nil {
			fatalf("%s=%q is not a number", name, v)
		}
	}
	return n
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "images: "+format+"\n", args...)
	os.Exit(1)
}
