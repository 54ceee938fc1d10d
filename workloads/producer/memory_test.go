package producer

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kdp-io/streamprocessor-operator/internal/shardmap"
	"github.com/kdp-io/streamprocessor-operator/internal/shardmap/shardmaptest"
	"github.com/kdp-io/streamprocessor-operator/workloads/kpl"
)

// countingKinesis accepts every PutRecords at once and keeps only the count
// of user records, so a memory test measures the producer, not its double.
type countingKinesis struct {
	shards []types.Shard
	users  atomic.Int64
}

func (c *countingKinesis) ListShards(context.Context, *kinesis.ListShardsInput, ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	return &kinesis.ListShardsOutput{Shards: c.shards}, nil
}

func (c *countingKinesis) PutRecords(_ context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	m, err := newShardMap(c.shards)
	if err != nil {
		return nil, err
	}
	out := &kinesis.PutRecordsOutput{}
	for i, r := range in.Records {
		users, err := kpl.Deaggregate(aws.ToString(r.PartitionKey), r.Data)
		if err != nil {
			return nil, err
		}
		c.users.Add(int64(len(users)))
		id := m.Shard(m.Lookup(shardmap.PartitionKeyHash(aws.ToString(r.PartitionKey)))).ID // routed as Kinesis does
		out.Records = append(out.Records, types.PutRecordsResultEntry{ShardId: aws.String(id), SequenceNumber: aws.String(fmt.Sprint(i + 1))})
	}
	return out, nil
}

// heapWatch samples the heap every millisecond while it runs.
type heapWatch struct {
	base, peak  uint64
	totalAlloc0 uint64
	stop        chan struct{}
	done        chan struct{}
}

func watchHeap() *heapWatch {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	w := &heapWatch{base: ms.HeapAlloc, peak: ms.HeapAlloc, totalAlloc0: ms.TotalAlloc, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			w.peak = max(w.peak, ms.HeapAlloc)
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// end stops sampling and returns the peak heap above the start and the bytes
// allocated in between.
func (w *heapWatch) end() (peakAbove, allocated uint64) {
	close(w.stop)
	<-w.done
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	w.peak = max(w.peak, ms.HeapAlloc)
	return w.peak - w.base, ms.TotalAlloc - w.totalAlloc0
}

const mib = 1 << 20

// TestZerosBodyStopsAtRecordLimit: a 5 MiB body of [0,0,0,…] (2.6 million
// values) is refused with 413 after the 10,001st value, without allocating
// for the rest. Before streaming decode it allocated about 333 MiB.
func TestZerosBodyStopsAtRecordLimit(t *testing.T) {
	cfg := testConfig()
	h, _ := newTestHandler(t, cfg, &countingKinesis{shards: shardmaptest.Even(1, 0)})
	body := make([]byte, 0, cfg.MaxRequestBytes)
	body = append(body, '[')
	for len(body) < int(cfg.MaxRequestBytes)-3 {
		body = append(body, '0', ',')
	}
	body = append(body, '0', ']')
	for _, ctype := range []string{"application/json", "application/x-ndjson"} {
		b := body
		if ctype != "application/json" {
			b = bytes.ReplaceAll(body[1:len(body)-1], []byte(","), []byte("\n"))
		}
		w := watchHeap()
		rec := do(h, "POST", "/records", ctype, string(b))
		peak, alloc := w.end()
		t.Logf("%s: %d-byte body of zeros: status %d, peak heap +%.1f MiB, allocated %.1f MiB", ctype, len(b), rec.Code, float64(peak)/mib, float64(alloc)/mib)
		if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "records exceed") {
			t.Fatalf("status %d body %s, want 413 records exceed", rec.Code, rec.Body.String())
		}
		// The string conversion in do() copies the body once (5 MiB).
		if alloc > 16*mib {
			t.Fatalf("allocated %.1f MiB for a refused body; the decode does not stop at the record limit", float64(alloc)/mib)
		}
	}
}

// batchBody streams a JSON array of n records of size bytes of data without
// holding it in memory.
type batchBody struct {
	rec  []byte
	n, i int
	buf  bytes.Buffer
}

func newBatchBody(n, size int, key string) *batchBody {
	rec := fmt.Sprintf(`{"data":"%s","partitionKey":"%s"}`, strings.Repeat("x", size), key)
	return &batchBody{rec: []byte(rec), n: n}
}

func (b *batchBody) length() int64 { return int64(2 + b.n*len(b.rec) + b.n - 1) }

func (b *batchBody) Read(p []byte) (int, error) {
	for b.buf.Len() < len(p) && b.i <= b.n {
		switch {
		case b.i == 0:
			b.buf.WriteByte('[')
		case b.i > 1:
			b.buf.WriteByte(',')
		}
		if b.i > 0 {
			b.buf.Write(b.rec)
		}
		if b.i == b.n {
			b.buf.WriteByte(']')
		}
		b.i++
	}
	if b.buf.Len() == 0 {
		return 0, io.EOF
	}
	return b.buf.Read(p)
}

// TestMemoryOfConcurrentMaximumBodies: 64 clients post maximum-size bodies
// (10,000 records of about 490 bytes: the worst case, many small records) at
// once to a producer configured for a 512 MiB task, with the Go memory limit
// that Main sets for it. Every answer is 200 or 429 (a client may see its
// upload cut instead, when the 429 came before it finished writing: counted as
// 0), the heap stays under the limit, and every record answered 200 reaches
// Kinesis.
func TestMemoryOfConcurrentMaximumBodies(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 320 MiB through the handler")
	}
	const taskMem = 512 * mib
	cfg := testConfig()
	cfg.MaxInflightBytes = InflightBytesFor(cfg, taskMem)
	// Memory is what is measured, not time: on a loaded machine 64 bodies
	// of 10,000 records can take longer than testConfig's 5 s to be
	// acknowledged, and ACK_TIMEOUT's 503 (records written, answer lost) is
	// the handler's documented answer then, not a fault here.
	cfg.AckTimeout = 2 * time.Minute
	old := debug.SetMemoryLimit(MemoryLimit(taskMem))
	defer debug.SetMemoryLimit(old)
	kin := &countingKinesis{shards: shardmaptest.Even(4, 0)}
	h, _ := newTestHandler(t, cfg, kin)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: ReadHeaderTimeout}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/records"

	const clients = 64
	var mu sync.Mutex
	codes := map[int]int{}
	var okRecords int64
	w := watchHeap()
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := newBatchBody(MaxRecordsPerRequest, 480, fmt.Sprintf("k%d", c))
			req, _ := http.NewRequest("POST", url, body)
			req.ContentLength = body.length()
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				// Refused before its body was read: the server answered 429 and
				// closed while the client was still writing (broken pipe).
				mu.Lock()
				codes[0]++
				mu.Unlock()
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mu.Lock()
			defer mu.Unlock()
			codes[resp.StatusCode]++
			if resp.StatusCode == http.StatusOK {
				okRecords += MaxRecordsPerRequest
			}
		}()
	}
	wg.Wait()
	peak, alloc := w.end()
	t.Logf("%d clients × %.2f MiB bodies, MAX_INFLIGHT_BYTES %.0f MiB, Go memory limit %.0f MiB: answers %v, peak heap +%.0f MiB, allocated %.0f MiB",
		clients, float64(newBatchBody(MaxRecordsPerRequest, 480, "k0").length())/mib, float64(cfg.MaxInflightBytes)/mib,
		float64(MemoryLimit(taskMem))/mib, codes, float64(peak)/mib, float64(alloc)/mib)
	for code := range codes {
		if code != http.StatusOK && code != http.StatusTooManyRequests && code != 0 {
			t.Errorf("answer %d: want only 200 and 429 (or a refused upload, 0)", code)
		}
	}
	if codes[http.StatusOK] == 0 || codes[http.StatusTooManyRequests] == 0 {
		t.Errorf("answers %v: want some admitted and some refused with 429", codes)
	}
	if peak > uint64(MemoryLimit(taskMem)) {
		t.Errorf("peak heap %.0f MiB above the memory limit %.0f MiB", float64(peak)/mib, float64(MemoryLimit(taskMem))/mib)
	}
	if got := kin.users.Load(); got != okRecords {
		t.Errorf("Kinesis got %d user records, %d were answered 200", got, okRecords)
	}
}
