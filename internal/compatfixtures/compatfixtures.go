// Package compatfixtures finds the third-party compatibility fixtures — the
// seed's consumer (seed-consumer/) and amazon_kclpy (amazon_kclpy/) — that
// the MultiLang tests and `make bench-consumer` run. They are kept outside
// the repository (docs/multilang.md), so one search, used by the tests, the
// benchmark and hack/test.sh alike, decides where they are:
//
//  1. $SP_COMPAT_DIR, if set (an error if it lacks the fixtures: a path the
//     user gave is never passed over silently);
//  2. shared/compat in the start directory or any of its parents (a clone at
//     /work/ci/x finds /work/shared/compat);
//  3. streamprocessor-operator/compat in the user cache directory
//     ($XDG_CACHE_HOME, else ~/.cache), beside the cached control plane, for
//     clones with no such parent (e.g. under /tmp).
package compatfixtures

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// EnvVar names the directory explicitly.
const EnvVar = "SP_COMPAT_DIR"

// marker is a file every complete fixture directory has.
var markers = []string{
	filepath.Join("amazon_kclpy", "amazon_kclpy", "kcl.py"),
	filepath.Join("seed-consumer", "record_processor.py"),
}

// ErrNotFound is returned, wrapped with the places searched, when no fixture
// directory is found.
var ErrNotFound = errors.New("compatibility fixtures (seed-consumer, amazon_kclpy) not found")

// Find returns the fixture directory for a process working in start (any
// directory of a checkout), searching as the package comment says. getenv is
// os.Getenv outside tests.
func Find(start string, getenv func(string) string) (string, error) {
	if d := getenv(EnvVar); d != "" {
		if !complete(d) {
			return "", fmt.Errorf("%s=%s lacks %s", EnvVar, d, strings.Join(markers, " or "))
		}
		return d, nil
	}
	var searched []string
	if abs, err := filepath.Abs(start); err == nil {
		for d := abs; ; d = filepath.Dir(d) {
			c := filepath.Join(d, "shared", "compat")
			if complete(c) {
				return c, nil
			}
			if d == filepath.Dir(d) {
				break
			}
		}
		searched = append(searched, "shared/compat in "+abs+" and each parent")
	}
	if c := cacheDir(getenv); c != "" {
		if complete(c) {
			return c, nil
		}
		searched = append(searched, c)
	}
	return "", fmt.Errorf("%w: %s unset; looked for %s; see docs/multilang.md#tests", ErrNotFound, EnvVar, strings.Join(searched, ", "))
}

// cacheDir is the documented per-user location, "" if there is no home.
func cacheDir(getenv func(string) string) string {
	base := getenv("XDG_CACHE_HOME")
	if base == "" {
		home := getenv("HOME")
		if home == "" {
			return ""
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "streamprocessor-operator", "compat")
}

func complete(dir string) bool {
	for _, m := range markers {
		if _, err := os.Stat(filepath.Join(dir, m)); err != nil {
			return false
		}
	}
	return true
}
