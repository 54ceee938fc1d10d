// Package faults is the data plane's fault suite: the producer and the
// consumer run against kinesis-local and dynalite behind fault-injecting
// proxies (internal/faultproxy), under bounded load, and every record is
// counted — sent, acknowledged, delivered, duplicated, lost. The suite prints
// one table at the end (go test -v ./test/faults, or make test-faults);
// docs/reliability.md keeps the latest.
package faults

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
	"github.com/kdp-io/streamprocessor-operator/internal/faultproxy"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv"
	"github.com/kdp-io/streamprocessor-operator/workloads/kpl"
)

// row is one line of the fault table.
type row struct {
	scenario, faults                         string
	sent, acked, delivered, duplicated, lost int
	outcome                                  string
}

var table struct {
	mu   sync.Mutex
	rows []row
}

func record(r row) {
	table.mu.Lock()
	defer table.mu.Unlock()
	table.rows = append(table.rows, r)
}

func TestMain(m *testing.M) {
	code := m.Run()
	table.mu.Lock()
	defer table.mu.Unlock()
	if len(table.rows) > 0 {
		sort.SliceStable(table.rows, func(i, j int) bool { // producer rows first, then by name
			pi, pj := strings.HasPrefix(table.rows[i].scenario, "producer"), strings.HasPrefix(table.rows[j].scenario, "producer")
			if pi != pj {
				return pi
			}
			return table.rows[i].scenario < table.rows[j].scenario
		})
		var b strings.Builder
		b.WriteString("| scenario | faults injected | sent | acknowledged | delivered | duplicated | lost | outcome |\n|---|---|---|---|---|---|---|---|\n")
		for _, r := range table.rows {
			fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %d | %d | %s |\n", r.scenario, r.faults, r.sent, r.acked, r.delivered, r.duplicated, r.lost, r.outcome)
		}
		fmt.Print("\nFault table\n\n" + b.String())
		if path := os.Getenv("SP_FAULTS_TABLE"); path != "" {
			_ = os.WriteFile(path, []byte(b.String()), 0o644)
		}
	}
	os.Exit(code)
}

// outcome is "pass" or the test's failure, for the table.
func outcome(t *testing.T) string {
	if t.Failed() {
		return "FAIL"
	}
	return "pass"
}

// describe lists the faults a proxy injected, e.g. "throttle ×3, 5xx ×2".
func describe(ps ...*faultproxy.Proxy) string {
	total := map[faultproxy.Fault]int{}
	for _, p := range ps {
		for f, n := range p.Injected() {
			total[f] += n
		}
	}
	var parts []string
	for f, n := range total {
		parts = append(parts, fmt.Sprintf("%s ×%d", f, n))
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func awsConfig(t *testing.T) aws.Config {
	t.Helper()
	cfg, err := awsconfig.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func quietLogger() *slog.Logger {
	if os.Getenv("FAULTS_LOG") != "" {
		return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewJSONHandler(io.Discard, nil))
}

func proxyFor(t *testing.T, endpointVar string) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.New(os.Getenv(endpointVar))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// createStream creates a stream of n shards, waits until it is ACTIVE and
// deletes it at the end of the test.
func createStream(t *testing.T, kc *kinesis.Client, prefix string, n int32) string {
	t.Helper()
	name := testenv.UniqueName(prefix)
	ctx := context.Background()
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(n)}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	t.Cleanup(func() {
		kc.DeleteStream(context.Background(), &kinesis.DeleteStreamInput{StreamName: aws.String(name)})
	})
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		out, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == ktypes.StreamStatusActive {
			return name
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %s never became ACTIVE: %v", name, err)
		}
	}
}

// readAll reads every shard from TRIM_HORIZON to its tip and returns the
// deaggregated user records in stream order per shard.
func readAll(t *testing.T, kc *kinesis.Client, stream string) []kpl.UserRecord {
	t.Helper()
	ctx := context.Background()
	shards, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatal(err)
	}
	var out []kpl.UserRecord
	for _, s := range shards.Shards {
		it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: s.ShardId, ShardIteratorType: ktypes.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		iter := it.ShardIterator
		for iter != nil {
			res, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(10000)})
			if err != nil {
				t.Fatalf("read shard %s: %v", aws.ToString(s.ShardId), err)
			}
			for _, r := range res.Records {
				urs, err := kpl.Deaggregate(aws.ToString(r.PartitionKey), r.Data)
				if err != nil {
					t.Fatalf("deaggregate: %v", err)
				}
				out = append(out, urs...)
			}
			iter = res.NextShardIterator
			if len(res.Records) == 0 && aws.ToInt64(res.MillisBehindLatest) == 0 {
				break
			}
		}
	}
	return out
}

// eventually polls cond every 100 ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

func httpGet(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}
