package localimage

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdp-io/streamprocessor-operator/internal/testenv"
)

func TestDirName(t *testing.T) {
	for in, want := range map[string]string{
		"123456789012.dkr.ecr.us-east-1.amazonaws.com/seed-record-processor:v1": "seed-record-processor/v1",
		"seed-record-processor:v1":                        "seed-record-processor/v1",
		"ghcr.io/kdp-io/app@sha256:0123":                  "app/latest",
		"ghcr.io/kdp-io/app":                              "app/latest",
		"registry.local:5000/team/processor:2026-11-27.1": "processor/2026-11-27.1",
	} {
		if got := DirName(in); got != want {
			t.Errorf("DirName(%q) = %q, want %q", in, got, want)
		}
	}
}

// fakeImage writes a stand-in with files at the given image paths and env.
func fakeImage(t *testing.T, images, image, env string, files ...string) *Image {
	t.Helper()
	dir := filepath.Join(images, DirName(image))
	for _, f := range files {
		p := filepath.Join(dir, "rootfs", f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "env"), []byte(env), 0o644); err != nil {
		t.Fatal(err)
	}
	img, found, err := Load(images, image)
	if err != nil || !found {
		t.Fatalf("Load = %v, %v", found, err)
	}
	return img
}

func TestOverrides(t *testing.T) {
	images := t.TempDir()
	img := fakeImage(t, images, "acct.dkr.ecr/x/proc:v1", "# ENV\nPYTHONPATH=/host/kclpy\nPYTHONUNBUFFERED=1\nPROPERTIES_FILE=/app/sample.properties\n",
		"app/record_processor.py", "app/sample.properties")
	root := img.Root
	tests := []struct {
		name      string
		container map[string]string
		want      map[string]string
	}{
		{"image ENV and its properties file, mapped", map[string]string{"STREAM_NAME": "s"},
			map[string]string{"PYTHONPATH": "/host/kclpy", "PYTHONUNBUFFERED": "1", "PROPERTIES_FILE": root + "/app/sample.properties"}},
		{"task definition's command: interpreter kept, script mapped, flags kept",
			map[string]string{"PROCESSOR_COMMAND": "python3 /app/record_processor.py --verbose /tmp/absent"},
			map[string]string{"PYTHONPATH": "/host/kclpy", "PYTHONUNBUFFERED": "1", "PROPERTIES_FILE": root + "/app/sample.properties",
				"PROCESSOR_COMMAND": "python3 " + root + "/app/record_processor.py --verbose /tmp/absent"}},
		{"task definition wins over the image's ENV, still mapped",
			map[string]string{"PYTHONUNBUFFERED": "0", "PROPERTIES_FILE": "/app/sample.properties"},
			map[string]string{"PYTHONPATH": "/host/kclpy", "PROPERTIES_FILE": root + "/app/sample.properties"}},
		{"a path not in the image stays", map[string]string{"PROPERTIES_FILE": "/etc/other.properties"},
			map[string]string{"PYTHONPATH": "/host/kclpy", "PYTHONUNBUFFERED": "1", "PROPERTIES_FILE": "/etc/other.properties"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := img.Overrides(tt.container); !maps.Equal(got, tt.want) {
				t.Errorf("Overrides:\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	images := t.TempDir()
	if img, found, err := Load(images, "none:v1"); img != nil || found || err != nil {
		t.Errorf("no stand-in: Load = %v, %v, %v; want nothing, no error", img, found, err)
	}
	dir := filepath.Join(images, "bad", "v1")
	if err := os.MkdirAll(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "env"), []byte("PYTHONPATH\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load(images, "bad:v1"); err == nil || !strings.Contains(err.Error(), `env:1: "PYTHONPATH" is not KEY=VALUE`) {
		t.Errorf("malformed env: error %v", err)
	}
}

// TestBuildSeedProcessor: the stand-in of docs/multilang.md's image holds the
// seed's processor changed in its log directory only, its properties file
// unchanged, amazon_kclpy, and the image's ENV.
func TestBuildSeedProcessor(t *testing.T) {
	compat := testenv.CompatFixtures(t)
	images := t.TempDir()
	img, err := BuildSeedProcessor(compat, images, "123456789012.dkr.ecr.us-east-1.amazonaws.com/seed-record-processor:v1")
	if err != nil {
		t.Fatal(err)
	}
	if img.Dir != filepath.Join(images, "seed-record-processor", "v1") {
		t.Errorf("stand-in in %s", img.Dir)
	}
	orig, _ := os.ReadFile(filepath.Join(compat, "seed-consumer", "record_processor.py"))
	got, err := os.ReadFile(filepath.Join(img.Root, "app", "record_processor.py"))
	if err != nil {
		t.Fatal(err)
	}
	ol, gl := strings.Split(string(orig), "\n"), strings.Split(string(got), "\n")
	if len(ol) != len(gl) {
		t.Fatalf("record_processor.py: %d lines, the seed's has %d", len(gl), len(ol))
	}
	var changed []string
	for i := range ol {
		if ol[i] != gl[i] {
			changed = append(changed, gl[i])
		}
	}
	wantLog := filepath.Join(img.Root, "app", "logs", "record_processor.log")
	if len(changed) != 1 || !strings.Contains(changed[0], "'"+wantLog+"'") {
		t.Errorf("changed lines %q; want only the log path, now %s", changed, wantLog)
	}
	props, _ := os.ReadFile(filepath.Join(img.Root, "app", "sample.properties"))
	seedProps, _ := os.ReadFile(filepath.Join(compat, "seed-consumer", "sample.properties"))
	if string(props) != string(seedProps) {
		t.Error("sample.properties differs from the seed's")
	}
	if _, err := os.Stat(filepath.Join(img.Root, "opt", "kclpy", "amazon_kclpy", "kcl.py")); err != nil {
		t.Errorf("amazon_kclpy: %v", err)
	}
	python, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"PYTHONPATH": filepath.Join(img.Root, "opt", "kclpy"), "PYTHONUNBUFFERED": "1",
		"PATH":            filepath.Dir(strings.TrimSpace(string(python))) + ":/usr/local/bin:/usr/bin:/bin",
		"PROPERTIES_FILE": "/app/sample.properties", "PROCESSOR_COMMAND": "python3 /app/record_processor.py"}
	if !maps.Equal(img.Env, want) {
		t.Errorf("ENV %v, want %v", img.Env, want)
	}
}
