package main

import (
	"bufio"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// wrkScript posts the same bodies as the Go load generator, with record ids
// from a range the benchmark reserves per run, and keeps the 2xx answers.
//
//go:embed wrk.lua
var wrkScript []byte

// wrkThreads is one wrk thread per core of the development VM.
const wrkThreads = 2

// wrkIDsPerThread bounds the requests of one wrk thread in one run (ids are
// reserved from the server's id space, which the double indexes up to 2^28).
const wrkIDsPerThread = 1_000_000

// wrkTool is the wrk binary and a directory for its script and answers.
type wrkTool struct {
	bin, dir, script string
}

// findWrk looks for wrk on PATH (make bench-producer installs it).
func findWrk() (*wrkTool, error) {
	bin, err := exec.LookPath("wrk")
	if err != nil {
		return nil, fmt.Errorf("wrk not found (apt-get install -y wrk, or -wrk=false to skip the wrk rows): %w", err)
	}
	dir, err := os.MkdirTemp("", "bench-producer-wrk-")
	if err != nil {
		return nil, err
	}
	script := filepath.Join(dir, "bench.lua")
	if err := os.WriteFile(script, wrkScript, 0o644); err != nil {
		return nil, err
	}
	return &wrkTool{bin: bin, dir: dir, script: script}, nil
}

func (w *wrkTool) close() { os.RemoveAll(w.dir) }

// wrkAnswer is what a 2xx answer of the producer says about its record.
type wrkAnswer struct {
	PartitionKey   string `json:"partitionKey"`
	SequenceNumber string `json:"sequenceNumber"`
}

// drive is the Go client's drive with wrk as the client: a warm-up run, then
// measured() and the measured run (both in whole seconds, at least 1). The answers of both are kept for the delivery check:
// "partitionKey|sequenceNumber" for a 200, the partition key for a 202.
func (w *wrkTool) drive(s *server, o options, conc int, res *result, measured func()) error {
	if _, err := w.run(s, o, conc, o.warmup); err != nil {
		return err
	}
	measured()
	r, err := w.run(s, o, conc, o.duration)
	if err != nil {
		return err
	}
	*res = *r
	return nil
}

// run is one wrk run of d against s.
func (w *wrkTool) run(s *server, o options, conc int, d time.Duration) (*result, error) {
	block := uint64(wrkThreads * wrkIDsPerThread)
	first := s.nextID.Add(block) - block
	out := filepath.Join(w.dir, fmt.Sprintf("answers-%d", first))
	defer os.Remove(out)
	args := []string{"-t", strconv.Itoa(wrkThreads), "-c", strconv.Itoa(max(conc, wrkThreads)), "-d", fmt.Sprintf("%ds", wrkSeconds(d)),
		"--timeout", "30s", "-s", w.script, s.base + "/" + s.query,
		"--", "/" + s.query, strconv.FormatUint(first, 10), strconv.Itoa(wrkIDsPerThread), strconv.Itoa(o.recordSize), strconv.Itoa(s.keys), out}
	cmd := exec.Command(w.bin, args...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("wrk %s: %w\n%s", strings.Join(args, " "), err, stdout)
	}
	r := &result{}
	for _, line := range strings.Split(string(stdout), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 8 && f[0] == "WRK":
			n := make([]int64, 7)
			for i := range n {
				n[i], _ = strconv.ParseInt(f[i+1], 10, 64)
			}
			// duration µs, requests, connect, read, write, status (non-2xx/3xx), timeout
			r.secs = float64(n[0]) / 1e6
			r.errs = n[2] + n[3] + n[4] + n[6]
			r.refused = n[5] // 429/503 and any other status: counted below
			r.ok = n[1] - n[5]
		case len(f) > 1 && f[0] == "WRKLAT":
			for _, v := range f[1:] {
				us, _ := strconv.ParseFloat(v, 64)
				r.lat = append(r.lat, time.Duration(us*float64(time.Microsecond)))
			}
		}
	}
	if r.secs == 0 {
		return nil, fmt.Errorf("wrk printed no summary:\n%s", stdout)
	}
	if r.ok+r.refused == 0 {
		r.lat = nil // an empty histogram reads 0 at every quantile
	}
	f, err := os.Open(out)
	if err != nil {
		return nil, fmt.Errorf("wrk answers: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	var keys []string
	var answers int64
	for sc.Scan() {
		answers++
		if s.kind != "producer" {
			continue
		}
		var a wrkAnswer
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil || a.PartitionKey == "" {
			return nil, fmt.Errorf("wrk: a 2xx answer without a partition key: %q", sc.Text())
		}
		keys = append(keys, answerKey(a.PartitionKey, a.SequenceNumber))
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if answers != r.ok {
		// wrk's counts and the answers the script kept must agree, or the
		// delivery check would be checking something else.
		return nil, fmt.Errorf("wrk counted %d 2xx answers, the script kept %d", r.ok, answers)
	}
	s.ackMu.Lock()
	s.ackedKeys = append(s.ackedKeys, keys...)
	s.ackMu.Unlock()
	return r, nil
}

// wrkSeconds is d in whole seconds, rounded up, at least 1: wrk takes no
// finer duration.
func wrkSeconds(d time.Duration) int64 { return max(int64((d+time.Second-1)/time.Second), 1) }

// answerKey names a record acknowledged to wrk: its partition key, and for a
// durable answer the sequence number of the Kinesis record that carries it.
func answerKey(partitionKey, sequenceNumber string) string {
	if sequenceNumber == "" {
		return partitionKey
	}
	return partitionKey + "|" + sequenceNumber
}
