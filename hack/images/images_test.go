package main

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// TestImagesRunAndAreReproducible builds the three images for this machine's
// platform (`make images` adds arm64), opens each written OCI layout, extracts
// the image's layers and runs its entrypoint with -version; it checks the
// user, labels and files, and that a second build gives the same digests.
func TestImagesRunAndAreReproducible(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the images are linux binaries; this test runs them")
	}
	certs := "/etc/ssl/certs/ca-certificates.crt"
	if _, err := os.Stat(certs); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no CA bundle on this machine: %v", err)
		}
		t.Skipf("no CA bundle at %s (install ca-certificates)", certs)
	}
	opts := Options{
		Version: "v0.0.0-test", Revision: "0123456789abcdef", Source: "https://example.com/src",
		CACerts: certs, Created: 1700000000, ModuleDir: "../..",
		Platforms: []Platform{{OS: "linux", Arch: runtime.GOARCH}},
	}
	for _, name := range []string{"manager", "producer", "consumer"} {
		t.Run(name, func(t *testing.T) {
			spec := Specs[name]
			opts := opts
			opts.Out = t.TempDir()
			first, err := Build(spec, opts)
			if err != nil {
				t.Fatal(err)
			}
			opts.Out = t.TempDir()
			second, err := Build(spec, opts)
			if err != nil {
				t.Fatal(err)
			}
			if first.Digest != second.Digest {
				t.Errorf("same inputs, different digests: %s and %s", first.Digest, second.Digest)
			}

			img := openImage(t, first.Layout, runtime.GOARCH)
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			uid, _, _ := strings.Cut(cf.Config.User, ":")
			if uid == "" || uid == "0" || uid == "root" {
				t.Errorf("image runs as %q; want a non-root user", cf.Config.User)
			}
			if want := []string{"/" + name}; strings.Join(cf.Config.Entrypoint, " ") != want[0] {
				t.Errorf("entrypoint %q, want %q", cf.Config.Entrypoint, want)
			}
			for k, want := range map[string]string{
				"org.opencontainers.image.source":   opts.Source,
				"org.opencontainers.image.version":  opts.Version,
				"org.opencontainers.image.revision": opts.Revision,
			} {
				if got := cf.Config.Labels[k]; got != want {
					t.Errorf("label %s = %q, want %q", k, got, want)
				}
			}

			root := t.TempDir()
			extract(t, img, root)
			passwd, err := os.ReadFile(filepath.Join(root, "etc/passwd"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(passwd), ":"+uid+":") {
				t.Errorf("/etc/passwd has no entry for uid %s:\n%s", uid, passwd)
			}
			if fi, err := os.Stat(filepath.Join(root, "etc/ssl/certs/ca-certificates.crt")); err != nil || fi.Size() == 0 {
				t.Errorf("no CA certificates in the image: %v", err)
			}
			out, err := exec.Command(filepath.Join(root, cf.Config.Entrypoint[0]), "-version").CombinedOutput()
			if err != nil {
				t.Fatalf("%s -version from the image: %v\n%s", name, err, out)
			}
			if got := strings.TrimSpace(string(out)); got != name+" "+opts.Version {
				t.Errorf("%s -version printed %q, want %q", name, got, name+" "+opts.Version)
			}
		})
	}
}

// openImage reads the image for arch from the OCI layout at dir.
func openImage(t *testing.T, dir, arch string) v1.Image {
	t.Helper()
	lp, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	top, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	topManifest, err := top.IndexManifest()
	if err != nil || len(topManifest.Manifests) != 1 {
		t.Fatalf("layout %s: want one index, got %v (%v)", dir, topManifest, err)
	}
	idx, err := top.ImageIndex(topManifest.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range m.Manifests {
		if d.Platform != nil && d.Platform.OS == "linux" && d.Platform.Architecture == arch {
			img, err := idx.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			return img
		}
	}
	t.Fatalf("layout %s has no linux/%s image", dir, arch)
	return nil
}

// extract writes the image's flattened file system under root.
func extract(t *testing.T, img v1.Image, root string) {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(root, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o755|0o600)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(f, tr); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
}
