package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestArchiveAndManifest(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho plugin\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	a, err := WriteArchive(bin, dir, "linux", "arm64")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "kubectl-sp_linux_arm64.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != a.SHA256 {
		t.Errorf("reported sha256 %s is not the file's %x", a.SHA256, sum)
	}
	again, err := WriteArchive(bin, t.TempDir(), "linux", "arm64")
	if err != nil || again.SHA256 != a.SHA256 {
		t.Errorf("the same binary gave another archive (%s vs %s, %v)", again.SHA256, a.SHA256, err)
	}
	gz, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	h, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(tr)
	if h.Name != "kubectl-sp" || h.Mode != 0o755 || string(body) != "#!/bin/sh\necho plugin\n" {
		t.Errorf("archive holds %s mode %o: %q", h.Name, h.Mode, body)
	}

	m, err := Manifest("v0.2.0", "https://example.com/rel/", []Archive{a})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct{ Name string }
		Spec       struct {
			Version   string
			Platforms []struct {
				Selector struct{ MatchLabels map[string]string } `json:"selector"`
				URI      string                                  `json:"uri"`
				SHA256   string                                  `json:"sha256"`
				Bin      string                                  `json:"bin"`
			}
		}
	}
	if err := yaml.Unmarshal(m, &got); err != nil {
		t.Fatal(err)
	}
	p := got.Spec.Platforms
	if got.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || got.Kind != "Plugin" || got.Metadata.Name != "sp" || got.Spec.Version != "v0.2.0" ||
		len(p) != 1 || p[0].URI != "https://example.com/rel/v0.2.0/kubectl-sp_linux_arm64.tar.gz" || p[0].SHA256 != a.SHA256 || p[0].Bin != "kubectl-sp" ||
		p[0].Selector.MatchLabels["os"] != "linux" || p[0].Selector.MatchLabels["arch"] != "arm64" {
		t.Errorf("manifest:\n%s", m)
	}
	if _, err := Manifest("0.2.0", "https://example.com", nil); err == nil {
		t.Error("a version without v was accepted")
	}
}
