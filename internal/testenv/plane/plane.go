// Package plane starts the local data plane (internal/devstack/dataplane:
// metered Kinesis, local Fargate, local ALB) for integration tests that run
// the operator's pipeline end to end on the emulators, and reads what its
// tasks left behind.
package plane

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"

	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack/dataplane"
)

// Start builds the producer and consumer from the module at root (as seen
// from the test's directory) and starts the data plane in front of the
// emulators of the environment for cluster; it stops when t ends, showing
// the tasks' last log lines if t failed.
func Start(t *testing.T, root, cluster string) *dataplane.Plane {
	t.Helper()
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+string(filepath.Separator), "./cmd/producer", "./cmd/consumer")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build the workloads: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, err := awsconfig.Load(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := dataplane.Start(context.Background(), dataplane.Options{
		KinesisUpstream: os.Getenv("AWS_ENDPOINT_URL_KINESIS"), ECSUpstream: os.Getenv("AWS_ENDPOINT_URL_ECS"),
		AWS: cfg, Clusters: []string{cluster}, StateDir: t.TempDir(), TaskEnv: dataplane.AWSEnv(os.Environ()),
		ProducerBinary: filepath.Join(bin, "producer"), ConsumerBinary: filepath.Join(bin, "consumer"),
		StartDelay: time.Second,
		Log:        funcr.New(func(prefix, args string) { t.Log(prefix, args) }, funcr.Options{}),
	})
	if err != nil {
		t.Fatalf("start the data plane: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("data plane: %v", err)
		}
		if t.Failed() {
			showTaskLogs(t, p.TaskLogDir)
		}
	})
	return p
}

// ProducerURL waits up to a minute for the local ALB's listener of the
// producer's target group.
func ProducerURL(t *testing.T, p *dataplane.Plane, targetGroup string) string {
	t.Helper()
	if p.Balancer == nil {
		t.Fatal("the data plane runs no load balancer")
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if u := p.Balancer.Listeners()[targetGroup]; u != "" {
			return u
		}
	}
	t.Fatalf("no listener for target group %s; listeners: %v", targetGroup, p.Balancer.Listeners())
	return ""
}

// WaitForLines waits until every string of want is in file, failing t after
// timeout with those still missing and the file.
func WaitForLines(t *testing.T, file string, want []string, timeout time.Duration) {
	t.Helper()
	var missing []string
	for deadline := time.Now().Add(timeout); ; time.Sleep(500 * time.Millisecond) {
		b, _ := os.ReadFile(file)
		missing = missing[:0]
		for _, w := range want {
			if !strings.Contains(string(b), w) {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d expected lines not in %s after %s (first %q); it has:\n%s", len(missing), len(want), file, timeout, missing[0], b)
		}
	}
}

func showTaskLogs(t *testing.T, dir string) {
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(path)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		t.Logf("--- %s (last lines)\n%s", path, strings.Join(lines[max(0, len(lines)-15):], "\n"))
		return nil
	})
}
