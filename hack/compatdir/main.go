// Command compatdir prints the directory of the MultiLang compatibility
// fixtures as the tests find it (internal/compatfixtures), or, exiting 1,
// why there is none. hack/test.sh runs it to export SP_COMPAT_DIR and to say
// in make test's output when the MultiLang tests are skipped.
package main

import (
	"fmt"
	"os"

	"github.com/kdp-io/streamprocessor-operator/internal/compatfixtures"
)

func main() {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	dir, err := compatfixtures.Find(wd, os.Getenv)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println(dir)
}
