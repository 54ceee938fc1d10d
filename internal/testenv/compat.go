package testenv

import (
	"errors"
	"os"
	"os/exec"
	"testing"

	"github.com/kdp-io/streamprocessor-operator/internal/compatfixtures"
)

// CompatFixtures returns the directory of the MultiLang compatibility
// fixtures (the seed's consumer and amazon_kclpy), found as
// internal/compatfixtures searches. Without them it skips t, saying where it
// looked (hack/test.sh says so in make test's output too); an SP_COMPAT_DIR
// without them fails t.
func CompatFixtures(t testing.TB) string {
	t.Helper()
	wd, _ := os.Getwd()
	dir, err := compatfixtures.Find(wd, os.Getenv)
	if errors.Is(err, compatfixtures.ErrNotFound) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// Python3 returns the path of python3 on PATH, skipping t without one.
func Python3(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not on PATH")
	}
	return p
}
