// Command producer is the HTTP ingestion service of a StreamProcessor: it takes
// records over HTTP and writes them, KPL-aggregated, to a Kinesis stream. See
// docs/producer.md.
package main

import (
	"os"

	"github.com/kdp-io/streamprocessor-operator/workloads/producer"
)

func main() { os.Exit(producer.Main(os.Args[1:])) }
