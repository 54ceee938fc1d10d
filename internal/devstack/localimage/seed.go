package localimage

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// SeedLogDir is where the seed's record_processor.py logs, hard-coded.
const SeedLogDir = "/app/logs"

// BuildSeedProcessor writes, under imagesDir, the local stand-in of the
// image docs/multilang.md's Dockerfile builds — our consumer, amazon_kclpy
// and the seed's record_processor.py with its sample.properties — from the
// compatibility fixtures in compat (internal/compatfixtures):
//
//	rootfs/opt/kclpy/amazon_kclpy/   COPY amazon_kclpy/ /opt/kclpy/amazon_kclpy/
//	rootfs/app/record_processor.py   COPY record_processor.py /app/ (log path → rootfs/app/logs)
//	rootfs/app/sample.properties     COPY sample.properties /app/
//	rootfs/app/logs/                 RUN mkdir -p /app/logs
//	env                              ENV PATH, PYTHONPATH, PYTHONUNBUFFERED, PROPERTIES_FILE, PROCESSOR_COMMAND
//
// Local Fargate passes a task no variable of the host (as Fargate passes
// none of the machine's), so the stand-in's PATH leads to the host's Python
// interpreter itself — the one python3 on PATH runs, resolved through
// wrappers such as pyenv's shims, which need more of the host's environment.
// The one change to the seed's code is its hard-coded log directory,
// /app/logs, which becomes rootfs/app/logs (a host process cannot write
// /app); the processor's log is then rootfs/app/logs/record_processor.log.
// An existing stand-in of image is rebuilt; rootfs/app/logs is kept.
func BuildSeedProcessor(compat, imagesDir, image string) (*Image, error) {
	dir := filepath.Join(imagesDir, DirName(image))
	root := filepath.Join(dir, "rootfs")
	// Rebuilt in place; the processor's logs stay.
	if err := os.RemoveAll(filepath.Join(root, "opt", "kclpy")); err != nil {
		return nil, err
	}
	if err := copyTree(filepath.Join(compat, "amazon_kclpy", "amazon_kclpy"), filepath.Join(root, "opt", "kclpy", "amazon_kclpy")); err != nil {
		return nil, fmt.Errorf("copy amazon_kclpy: %w", err)
	}
	src, err := os.ReadFile(filepath.Join(compat, "seed-consumer", "record_processor.py"))
	if err != nil {
		return nil, err
	}
	logDir := filepath.Join(root, "app", "logs")
	if !strings.Contains(string(src), SeedLogDir+"/") {
		return nil, fmt.Errorf("record_processor.py no longer logs under %s: cannot redirect its log", SeedLogDir)
	}
	script := strings.ReplaceAll(string(src), SeedLogDir+"/", logDir+"/")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(root, "app", "record_processor.py"), []byte(script), 0o755); err != nil {
		return nil, err
	}
	props, err := os.ReadFile(filepath.Join(compat, "seed-consumer", "sample.properties"))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(root, "app", "sample.properties"), props, 0o644); err != nil {
		return nil, err
	}
	python, err := hostPython()
	if err != nil {
		return nil, err
	}
	env := strings.Join([]string{
		"# The image's ENV (docs/multilang.md), host paths for PATH and PYTHONPATH:",
		"# the image's python3 is the host's " + python + ".",
		"PATH=" + strings.Join([]string{filepath.Dir(python), "/usr/local/bin", "/usr/bin", "/bin"}, string(os.PathListSeparator)),
		"PYTHONPATH=" + filepath.Join(root, "opt", "kclpy"),
		"PYTHONUNBUFFERED=1",
		"PROPERTIES_FILE=/app/sample.properties",
		"PROCESSOR_COMMAND=python3 /app/record_processor.py",
	}, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "env"), []byte(env), 0o644); err != nil {
		return nil, err
	}
	img, _, err := Load(imagesDir, image)
	return img, err
}

// hostPython is the interpreter python3 on PATH runs (sys.executable).
func hostPython() (string, error) {
	out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		return "", fmt.Errorf("python3 on this host: %w", err)
	}
	p := strings.TrimSpace(string(out))
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("python3 on this host names no interpreter (sys.executable %q)", p)
	}
	return p, nil
}

// copyTree copies the regular files and directories under src to dst.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(target, b, 0o644)
		}
		return nil // sockets, symlinks: not part of a package
	})
}
