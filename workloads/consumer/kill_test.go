package consumer

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
	"github.com/kdp-io/streamprocessor-operator/workloads/kcl"
)

// TestMain lets the test binary act as a consumer process (as cmd/consumer
// does) when CONSUMER_TEST_CHILD=1, so tests can kill -9 a real process.
func TestMain(m *testing.M) {
	if os.Getenv("CONSUMER_TEST_CHILD") == "1" {
		os.Exit(runChild())
	}
	if mode := os.Getenv("MULTILANG_FAKE"); mode != "" {
		os.Exit(runFakeProcessor(mode))
	}
	os.Exit(m.Run())
}

func runChild() int {
	level := slog.LevelWarn
	if os.Getenv("PROCESSOR_COMMAND") != "" || os.Getenv("PROPERTIES_FILE") != "" {
		level = slog.LevelInfo // MultiLang tests read the processors' stderr from the log
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	cfg, err := LoadConfig(nil, os.Getenv)
	if err != nil {
		log.Error("config", "error", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	awsCfg, err := awsconfig.Load(ctx, "")
	if err != nil {
		log.Error("aws", "error", err)
		return 2
	}
	svc, err := New(cfg, Deps{Kinesis: kinesis.NewFromConfig(awsCfg), DynamoDB: dynamodb.NewFromConfig(awsCfg), Logger: log})
	if err != nil {
		log.Error("new", "error", err)
		return 2
	}
	if err := svc.Run(ctx); err != nil {
		log.Error("run", "error", err)
		return 1
	}
	return 0
}

// Two consumer processes share a 4-shard stream; one is killed with SIGKILL
// in the middle of a steady stream of records. The survivor takes the dead
// one's leases after they expire, every record reaches an output file, and a
// SIGTERM then stops the survivor cleanly with its leases released.
func TestKillDashNineOneOfTwoProcesses(t *testing.T) {
	c := newClients(t)
	stream := c.createStream(t, 4)
	app := stream + "-app"
	t.Cleanup(func() {
		_, _ = c.db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(app)})
	})
	dir := t.TempDir()
	start := func(id string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "CONSUMER_TEST_CHILD=1", "STREAM_NAME="+stream, "APPLICATION_NAME="+app, "WORKER_ID="+id,
			"OUTPUT="+filepath.Join(dir, id+".jsonl"), "LEASE_DURATION=2s", "SHARD_SYNC_INTERVAL=1s", "POLL_INTERVAL=200ms",
			"HTTP_ADDR=127.0.0.1:0", "CLOUDWATCH_ENABLED=false", "SHUTDOWN_TIMEOUT=10s")
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	owned := func() map[string]int {
		leases, err := (&kcl.LeaseStore{DB: c.db, Table: app}).List(context.Background())
		if err != nil {
			return nil
		}
		m := map[string]int{}
		for _, l := range leases {
			m[l.Owner]++
		}
		return m
	}
	waitUntil := func(d time.Duration, what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(d); !cond(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s (owners %v)", what, owned())
			}
		}
	}

	// A steady producer through the whole test.
	stop, stopped := make(chan struct{}), make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				stopped <- n
				return
			case <-time.After(50 * time.Millisecond):
			}
			var entries []ktypes.PutRecordsRequestEntry
			for i := n; i < n+20; i++ {
				entries = append(entries, ktypes.PutRecordsRequestEntry{Data: []byte(fmt.Sprintf("k-%d", i)), PartitionKey: aws.String(fmt.Sprint(i * 7919))})
			}
			if out, err := c.kin.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries}); err == nil && aws.ToInt32(out.FailedRecordCount) == 0 {
				n += 20
			}
		}
	}()

	a, b := start("a"), start("b")
	waitUntil(30*time.Second, "a 2/2 split between the processes", func() bool { o := owned(); return o["a"] == 2 && o["b"] == 2 })
	time.Sleep(time.Second)
	if err := a.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = a.Wait()
	killed := time.Now()
	waitUntil(20*time.Second, "b to hold all 4 leases", func() bool { return owned()["b"] == 4 })
	takeover := time.Since(killed)
	time.Sleep(time.Second)
	stop <- struct{}{}
	total := <-stopped

	// Let b drain, then stop it with SIGTERM.
	time.Sleep(3 * time.Second)
	if err := b.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := b.Wait(); err != nil {
		t.Fatalf("survivor did not exit cleanly on SIGTERM: %v", err)
	}
	if o := owned(); o["b"] != 0 {
		t.Errorf("after SIGTERM the survivor still owns %d leases; want them released", o["b"])
	}
	seen := map[string]int{}
	for _, id := range []string{"a", "b"} {
		for _, l := range readLines(t, filepath.Join(dir, id+".jsonl")) {
			seen[l.Data]++
		}
	}
	missing := 0
	for i := 0; i < total; i++ {
		if seen[fmt.Sprintf("k-%d", i)] == 0 {
			missing++
		}
	}
	dups := 0
	for _, n := range seen {
		dups += n - 1
	}
	if missing > 0 {
		t.Fatalf("%d of %d records in no output file after kill -9", missing, total)
	}
	if takeover < time.Second {
		t.Errorf("leases taken %v after kill -9: before they could expire", takeover)
	}
	t.Logf("%d records, %d duplicates; takeover %v after kill -9", total, dups, takeover.Round(time.Millisecond))
}
