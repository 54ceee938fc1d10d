// Command producer is the HTTP ingestion service of a StreamProcessor: it takes
// records over HTTP and writes them, KPL-aggregated, to a Kinesis stream. See
// docs/producer.md.
package main

import (
	"fmt"
	"os"

	"github.com/kdp-io/streamprocessor-operator/workloads/producer"
)

// version is set at build time: -ldflags "-X main.version=v0.1.0".
var version = "dev"

func main() {
	if len(os.Args) == 2 && (os.Args[1] == "-version" || os.Args[1] == "--version") {
		fmt.Println("producer", version)
		return
	}
	os.Exit(producer.Main(os.Args[1:]))
}
