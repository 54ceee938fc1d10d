// Package localimage stands in, on the local stack, for container images that
// carry more than our workload binaries — today a consumer image with a KCL
// MultiLang record processor (docs/multilang.md's Dockerfile). Local Fargate
// runs every consumer task as a process of the host's consumer binary; the
// files the image would add (the processor, its properties file, Python
// packages) live in a directory per image instead:
//
//	<images dir>/<name>/<tag>/rootfs/…   the image's files at their image paths
//	<images dir>/<name>/<tag>/env        the image's ENV, one KEY=VALUE a line
//
// where name is the last path element of the image's repository
// (123456789012.dkr.ecr.us-east-1.amazonaws.com/seed-record-processor:v1 →
// seed-record-processor/v1). Image.Overrides maps a task's PROCESSOR_COMMAND
// and PROPERTIES_FILE into rootfs; everything else about the task is as on
// Fargate. The interpreter (python3) is the host's, which the stand-in's PATH leads to.
package localimage

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Image is the local stand-in of one container image.
type Image struct {
	// Dir is <images dir>/<name>/<tag>; Root is Dir/rootfs.
	Dir, Root string
	// Env is the image's ENV.
	Env map[string]string
}

// DirName is the directory of image under an images directory: the last
// path element of the repository, then the tag ("latest" if none; a digest
// is dropped) — two elements, as ':' would split PATH-like variables that
// name files in the stand-in.
func DirName(image string) string {
	image, _, _ = strings.Cut(image, "@")
	name := path.Base(image)
	repo, tag, ok := strings.Cut(name, ":")
	if !ok || tag == "" {
		tag = "latest"
	}
	return filepath.Join(repo, tag)
}

// Load reads the stand-in of image under imagesDir; found is false (and err
// nil) when there is none.
func Load(imagesDir, image string) (img *Image, found bool, err error) {
	dir := filepath.Join(imagesDir, DirName(image))
	st, err := os.Stat(filepath.Join(dir, "rootfs"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("local image %s: %w", image, err)
	}
	if !st.IsDir() {
		return nil, false, fmt.Errorf("local image %s: %s is not a directory", image, filepath.Join(dir, "rootfs"))
	}
	env, err := readEnv(filepath.Join(dir, "env"))
	if err != nil {
		return nil, false, fmt.Errorf("local image %s: %w", image, err)
	}
	return &Image{Dir: dir, Root: filepath.Join(dir, "rootfs"), Env: env}, true, nil
}

// readEnv parses KEY=VALUE lines; # starts a comment line. A missing file is
// an empty ENV.
func readEnv(file string) (map[string]string, error) {
	env := map[string]string{}
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return env, nil
	}
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s:%d: %q is not KEY=VALUE", file, n, line)
		}
		env[k] = v
	}
	return env, sc.Err()
}

// ProcessorVars are the consumer variables that name files in the image.
var ProcessorVars = []string{"PROCESSOR_COMMAND", "PROPERTIES_FILE"}

// Overrides are the variables a task of this image gets on the local stack
// beyond its task definition's environment (container): the image's ENV
// where the task definition does not set the name (ECS: the task definition
// wins), and PROCESSOR_COMMAND and PROPERTIES_FILE with every word that is an
// absolute path present in rootfs replaced by its host path. Words not in
// rootfs (python3, flags) stay as they are.
func (img *Image) Overrides(container map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range img.Env {
		if _, set := container[k]; !set {
			out[k] = v
		}
	}
	for _, k := range ProcessorVars {
		v, ok := container[k]
		if !ok {
			v, ok = img.Env[k]
		}
		if ok {
			out[k] = img.mapWords(v)
		}
	}
	return out
}

// mapWords maps each blank-separated word (the consumer splits the command
// so too) that is an absolute path present under Root.
func (img *Image) mapWords(s string) string {
	words := strings.Fields(s)
	for i, w := range words {
		if !filepath.IsAbs(w) {
			continue
		}
		host := filepath.Join(img.Root, w)
		if _, err := os.Stat(host); err == nil {
			words[i] = host
		}
	}
	return strings.Join(words, " ")
}
