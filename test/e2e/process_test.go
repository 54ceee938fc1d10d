package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildWorkloads builds cmd/producer and cmd/consumer into dir and returns
// their paths. It runs in the background so that the build overlaps with the
// operator's work; the returned function waits for it.
func buildWorkloads(dir string) func() (producer, consumer string, err error) {
	done := make(chan error, 1)
	go func() {
		cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "./cmd/producer", "./cmd/consumer")
		cmd.Dir = repoRoot
		out, err := cmd.CombinedOutput()
		if err != nil {
			err = fmt.Errorf("go build ./cmd/producer ./cmd/consumer: %w\n%s", err, out)
		}
		done <- err
	}()
	return func() (string, string, error) {
		err := <-done
		done <- err // let a second call see the same result
		return filepath.Join(dir, "producer"), filepath.Join(dir, "consumer"), err
	}
}

// process is a workload binary running as a child of the test, standing in
// for one ECS task.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string        // its stdout and stderr
	done    chan struct{} // closed when it has exited
	waitErr error         // what Wait returned; read after done
}

// startProcess starts bin with exactly env (no other variables) and its output
// in a log file under dir. When t ends a process still running is killed by
// its PID, and the tail of its log is shown if t failed.
func startProcess(t *testing.T, dir, name, bin string, env []string) *process {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("create log of %s: %v", name, err)
	}
	cmd := exec.Command(bin)
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	t.Logf("Started %s (pid %d)", name, cmd.Process.Pid)
	t.Cleanup(func() {
		if !p.exited() {
			_ = cmd.Process.Kill()
			<-p.done
			t.Logf("Killed %s (pid %d) at cleanup", name, cmd.Process.Pid)
		}
		if t.Failed() {
			t.Logf("Last lines of the log of %s:\n%s", name, p.tail(30))
		}
	})
	return p
}

// exited reports whether the process has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// terminate sends SIGTERM, as ECS does to stop a task, and waits up to
// timeout (the task's stop timeout) for the process to exit. It returns the
// exit code and how long the exit took, or an error if the process was still
// running at the timeout (it is then killed, as ECS would).
func (p *process) terminate(timeout time.Duration) (code int, took time.Duration, err error) {
	start := time.Now()
	if p.exited() {
		return p.exitCode(), 0, fmt.Errorf("%s had already exited before SIGTERM", p.name)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return -1, 0, fmt.Errorf("SIGTERM %s: %w", p.name, err)
	}
	select {
	case <-p.done:
		return p.exitCode(), time.Since(start), nil
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return -1, time.Since(start), fmt.Errorf("%s still running %s after SIGTERM: killed", p.name, timeout)
	}
}

// exitCode is the exit status once exited (-1 for a signal).
func (p *process) exitCode() int {
	var ee *exec.ExitError
	if p.waitErr == nil {
		return 0
	}
	if errors.As(p.waitErr, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// tail returns the last n lines of the process's log.
func (p *process) tail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// freePort returns a TCP port on the loopback interface nobody listens on.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// httpGet returns the status and body of GET url.
func httpGet(ctx context.Context, hc *http.Client, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", fmt.Errorf("GET %s: %w", url, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, "", fmt.Errorf("read GET %s: %w", url, err)
	}
	return resp.StatusCode, string(body), nil
}

// httpPost posts body with contentType to url and returns the status and
// response body.
func httpPost(ctx context.Context, hc *http.Client, url, contentType string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("POST %s: %w", url, err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("POST %s: %w", url, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("read POST %s: %w", url, err)
	}
	return resp.StatusCode, out, nil
}

// waitReady polls GET base/readyz until it answers 200, the process exits
// (an error with its log) or timeout passes.
func (p *process) waitReady(hc *http.Client, base string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		if p.exited() {
			return fmt.Errorf("%s exited with code %d before it was ready:\n%s", p.name, p.exitCode(), p.tail(20))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		code, body, err := httpGet(ctx, hc, base+"/readyz")
		cancel()
		if err == nil && code == http.StatusOK {
			return nil
		}
		last = fmt.Sprintf("%d %s %v", code, strings.TrimSpace(body), err)
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after %s (last /readyz: %s):\n%s", p.name, timeout, last, p.tail(20))
}

// gauge reads an unlabelled gauge from the Prometheus text at base/metrics.
func gauge(ctx context.Context, hc *http.Client, base, name string) (float64, error) {
	code, body, err := httpGet(ctx, hc, base+"/metrics")
	if err != nil {
		return 0, err
	}
	if code != http.StatusOK {
		return 0, fmt.Errorf("GET %s/metrics: status %d", base, code)
	}
	for line := range strings.SplitSeq(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, fmt.Errorf("metric %s: %w", name, err)
			}
			return f, nil
		}
	}
	return 0, fmt.Errorf("metric %s not in %s/metrics", name, base)
}
