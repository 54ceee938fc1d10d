package consumer

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kdp-io/streamprocessor-operator/workloads/kcl"
)

// A processor that fails on every batch (the fake's "die" mode: exit 3) is
// restarted with a backoff that doubles (500 ms, 1 s, 2 s, 4 s…) instead of at
// every lease poll; each failure is one log line without a stack, and counted
// in processor_failures_total; the lease is released at each failure, so a
// second worker whose processor works takes it at once (not after expiry)
// and handles every record.
func TestMultiLangFailingProcessorBacksOffAndReleases(t *testing.T) {
	c := newClients(t)
	stream := c.createStream(t, 1)
	app := stream + "-app"
	t.Cleanup(func() {
		_, _ = c.db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(app)})
	})
	const n = 20
	var entries []ktypes.PutRecordsRequestEntry
	for i := 0; i < n; i++ {
		entries = append(entries, ktypes.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprint(i)), Data: []byte(fmt.Sprintf("r-%d", i))})
	}
	c.put(t, stream, entries...)

	start := func(id string, f *multiLangFactory, logs *syncBuffer) *kcl.Worker {
		t.Helper()
		w, err := kcl.NewWorker(kcl.Config{
			ApplicationName: app, StreamName: stream, WorkerID: id,
			LeaseDuration: 2 * time.Second, ShardSyncInterval: time.Second, IdleTimeBetweenReads: 200 * time.Millisecond,
			ProcessorRetryBackoff: 500 * time.Millisecond, MaxProcessorRetryBackoff: 30 * time.Second,
			Observer: f.metrics, Logger: slog.New(slog.NewJSONHandler(logs, nil)),
		}, f, c.kin, c.db)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		if err := w.Start(ctx); err != nil {
			cancel()
			t.Fatal(err)
		}
		t.Cleanup(func() {
			sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
			defer c()
			_ = w.Shutdown(sctx)
			cancel()
		})
		return w
	}
	starts := func(logPath string) int {
		b, _ := os.ReadFile(logPath)
		return strings.Count(string(b), `"action":"initialize"`)
	}

	failing, failLog := fakeFactory(t, "die", 10*time.Second)
	var logs1 syncBuffer
	began := time.Now()
	start("w1", failing, &logs1)
	// Watch the lease: at each failure it is released (no owner), not left
	// to expire.
	store := &kcl.LeaseStore{DB: c.db, Table: app}
	released := false
	for time.Since(began) < 7*time.Second {
		if ls, err := store.List(context.Background()); err == nil && len(ls) == 1 && ls[0].Owner == "" && starts(failLog) > 0 {
			released = true
		}
		time.Sleep(50 * time.Millisecond)
	}
	n1 := starts(failLog)
	// Backoff 0.5+1+2 s (each rounded up to a lease poll, 0.67 s) fits four
	// starts in 7 s, five at most; restarting at every poll gives about ten.
	if n1 < 3 || n1 > 5 {
		t.Errorf("failing processor started %d times in 7 s; want 3 to 5 (backoff 0.5, 1, 2, 4 s)", n1)
	}
	if !released {
		t.Error("the lease was never seen without an owner after a failure: not released")
	}
	lines := strings.Split(strings.TrimSpace(logs1.String()), "\n")
	failures := 0
	for _, l := range lines {
		if strings.Contains(l, `"msg":"Record processor failed; releasing the lease"`) {
			failures++
			if !strings.Contains(l, "exit status 3") || !strings.Contains(l, `"retryIn"`) {
				t.Errorf("failure line without the cause or the retry delay: %s", l)
			}
		}
		if strings.Contains(l, `"stack"`) || strings.Contains(l, "panicked") {
			t.Errorf("a processor failure logged a panic: %s", l)
		}
	}
	if failures < n1-1 || failures > n1 {
		t.Errorf("%d failure log lines for %d starts; want one per failure", failures, n1)
	}
	if got := testCounter(t, failing.metrics, "streamprocessor_consumer_processor_failures_total"); int(got) != failures {
		t.Errorf("processor_failures_total = %v; want %d (one per failure)", got, failures)
	}

	// A second worker with a working processor takes the released lease at
	// its first poll, while w1 backs off, and handles every record.
	working, okLog := fakeFactory(t, "ok", 10*time.Second)
	var logs2 syncBuffer
	joined := time.Now()
	w2 := start("w2", working, &logs2)
	deadline := time.Now().Add(20 * time.Second)
	seen := map[string]bool{}
	for len(seen) < n && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		b, _ := os.ReadFile(okLog)
		for _, d := range strings.Split(string(b), `"data":"`)[1:] {
			raw, _ := base64.StdEncoding.DecodeString(d[:strings.IndexByte(d, '"')])
			seen[string(raw)] = true
		}
	}
	if len(seen) != n {
		t.Fatalf("w2's working processor got %d of %d records", len(seen), n)
	}
	if len(w2.HeldShards()) != 1 {
		t.Errorf("w2 holds %v; want the shard", w2.HeldShards())
	}
	t.Logf("failing processor: %d starts, %d failures in 7 s; w2 had all %d records %v after joining",
		n1, failures, n, time.Since(joined).Round(time.Millisecond))
}
