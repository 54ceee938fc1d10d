// Command krew builds the release archives of the kubectl plugin (one
// kubectl-sp binary per os/arch, in a .tar.gz) and the Krew plugin manifest
// that installs them: `kubectl krew install --manifest=sp.yaml` (or from a
// custom index once the archives are uploaded to the release at -base-url).
//
//	go run ./hack/krew -out bin/krew -version v0.1.0
//
// The archives are reproducible: -trimpath binaries, fixed owner and time.
package main

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

func main() {
	out := flag.String("out", "bin/krew", "Directory for the archives and sp.yaml.")
	version := flag.String("version", "v0.1.0", "Plugin version (a semver tag, v-prefixed).")
	baseURL := flag.String("base-url", "https://github.com/kdp-io/streamprocessor-operator/releases/download", "Where the archives are published: <base-url>/<version>/<archive>.")
	platforms := flag.String("platforms", "linux/amd64,linux/arm64,darwin/amd64,darwin/arm64", "Comma-separated os/arch list.")
	flag.Parse()
	if err := run(*out, *version, *baseURL, strings.Split(*platforms, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "krew:", err)
		os.Exit(1)
	}
}

func run(out, version, baseURL string, platforms []string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	var archives []Archive
	for _, p := range platforms {
		goos, goarch, ok := strings.Cut(strings.TrimSpace(p), "/")
		if !ok {
			return fmt.Errorf("platform %q is not os/arch", p)
		}
		bin := filepath.Join(out, "kubectl-sp-"+goos+"-"+goarch)
		cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", bin, "./cmd/kubectl-sp")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
		if msg, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/kubectl-sp for %s: %w\n%s", p, err, msg)
		}
		a, err := WriteArchive(bin, out, goos, goarch)
		if err != nil {
			return err
		}
		if err := os.Remove(bin); err != nil {
			return err
		}
		archives = append(archives, a)
		fmt.Printf("%s  %s\n", a.SHA256, filepath.Join(out, a.File))
	}
	m, err := Manifest(version, baseURL, archives)
	if err != nil {
		return err
	}
	path := filepath.Join(out, "sp.yaml")
	fmt.Println("wrote", path)
	return os.WriteFile(path, m, 0o644)
}

// Archive is one platform's release archive.
type Archive struct {
	OS, Arch, File, SHA256 string
}

// binName is the plugin binary inside each archive.
const binName = "kubectl-sp"

// WriteArchive writes <dir>/kubectl-sp_<os>_<arch>.tar.gz holding bin as
// kubectl-sp (mode 0755, owner 0, time 0) and returns its name and SHA-256.
func WriteArchive(bin, dir, goos, goarch string) (Archive, error) {
	a := Archive{OS: goos, Arch: goarch, File: fmt.Sprintf("kubectl-sp_%s_%s.tar.gz", goos, goarch)}
	data, err := os.ReadFile(bin)
	if err != nil {
		return a, err
	}
	f, err := os.Create(filepath.Join(dir, a.File))
	if err != nil {
		return a, err
	}
	defer f.Close()
	h := sha256.New()
	gz := gzip.NewWriter(io.MultiWriter(f, h))
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: binName, Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return a, err
	}
	if _, err := tw.Write(data); err != nil {
		return a, err
	}
	if err := tw.Close(); err != nil {
		return a, err
	}
	if err := gz.Close(); err != nil {
		return a, err
	}
	a.SHA256 = hex.EncodeToString(h.Sum(nil))
	return a, f.Close()
}

// Manifest is the Krew plugin manifest (krew.googlecontainertools.github.com/v1alpha2)
// of the archives, published at <baseURL>/<version>/<file>.
func Manifest(version, baseURL string, archives []Archive) ([]byte, error) {
	if !strings.HasPrefix(version, "v") {
		return nil, fmt.Errorf("version %q: Krew wants a v-prefixed semver", version)
	}
	type selector struct {
		MatchLabels map[string]string `json:"matchLabels"`
	}
	type platform struct {
		Selector selector `json:"selector"`
		URI      string   `json:"uri"`
		SHA256   string   `json:"sha256"`
		Bin      string   `json:"bin"`
	}
	var ps []platform
	for _, a := range archives {
		ps = append(ps, platform{
			Selector: selector{MatchLabels: map[string]string{"os": a.OS, "arch": a.Arch}},
			URI:      strings.TrimSuffix(baseURL, "/") + "/" + version + "/" + a.File,
			SHA256:   a.SHA256,
			Bin:      binName,
		})
	}
	m := map[string]any{
		"apiVersion": "krew.googlecontainertools.github.com/v1alpha2",
		"kind":       "Plugin",
		"metadata":   map[string]any{"name": "sp"},
		"spec": map[string]any{
			"version":          version,
			"homepage":         "https://github.com/kdp-io/streamprocessor-operator",
			"shortDescription": "See and steer StreamProcessors (Kinesis + ECS pipelines)",
			"description": "Status, pause/resume, dry run, history, shard and task pins and a top view " +
				"for the StreamProcessor resources of streamprocessor-operator (streaming.kdp.io/v1alpha1).",
			"platforms": ps,
		},
	}
	return yaml.Marshal(m)
}
