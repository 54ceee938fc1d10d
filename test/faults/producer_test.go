package faults

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kdp-io/streamprocessor-operator/internal/faultproxy"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv"
	"github.com/kdp-io/streamprocessor-operator/workloads/producer"
)

// TestProducerUnderKinesisFaults: durable clients post batches with caller
// keys while Kinesis (kinesis-local behind the proxy) throttles, answers 5xx,
// black-holes calls and loses the answers of calls that took effect. Every
// record answered 200 must be in the stream, duplicates are counted, and the
// records of each key are stored in the order they were accepted.
func TestProducerUnderKinesisFaults(t *testing.T) {
	t.Parallel() // they wait on the emulators more than they compute
	testenv.Require(t, testenv.Kinesis)
	awsCfg := awsConfig(t)
	direct := kinesis.NewFromConfig(awsCfg)
	stream := createStream(t, direct, "faults-producer", 2)
	proxy := proxyFor(t, testenv.Kinesis)
	kin := kinesis.NewFromConfig(awsCfg, func(o *kinesis.Options) {
		o.RetryMaxAttempts = 1 // as producer.NewKinesisClient: the pipeline retries
		o.BaseEndpoint = aws.String(proxy.URL())
	})

	cfg := producer.DefaultConfig()
	cfg.StreamName, cfg.CloudWatchInterval = stream, 0
	cfg.KinesisCallTimeout, cfg.AckTimeout, cfg.StopTimeout = 2*time.Second, 4*time.Second, 20*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- producer.Run(ctx, cfg, producer.Deps{Kinesis: kin, Listener: ln}, quietLogger()) }()
	defer func() { stop(); <-runErr }()
	url := "http://" + ln.Addr().String()
	eventually(t, 30*time.Second, "producer ready", func() bool {
		resp, err := http.Get(url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})

	// Load: 6 clients, each with 3 keys of its own, post 4 records per request
	// one request after the other; data is "<key>:<n>" with n counting per key.
	const clients, batch = 6, 4
	var mu sync.Mutex
	sent, acked := 0, map[string]bool{}
	stopLoad := make(chan struct{})
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := map[string]int{}
			for i := 0; ; i++ {
				select {
				case <-stopLoad:
					return
				default:
				}
				var body bytes.Buffer
				var datas []string
				body.WriteByte('[')
				for j := 0; j < batch; j++ {
					key := fmt.Sprintf("c%d-k%d", c, (i+j)%3)
					d := fmt.Sprintf("%s:%d", key, next[key])
					next[key]++
					datas = append(datas, d)
					if j > 0 {
						body.WriteByte(',')
					}
					fmt.Fprintf(&body, `{"data":%q,"partitionKey":%q}`, d, key)
				}
				body.WriteByte(']')
				resp, err := http.Post(url+"/records", "application/json", &body)
				mu.Lock()
				sent += batch
				if err == nil && resp.StatusCode == http.StatusOK {
					for _, d := range datas {
						acked[d] = true
					}
				}
				mu.Unlock()
				if err == nil {
					resp.Body.Close()
				} else {
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	phases := []struct {
		rules []faultproxy.Rule
		d     time.Duration
	}{
		{[]faultproxy.Rule{{Op: "PutRecords", Fault: faultproxy.Throttle, Every: 2}}, 3 * time.Second},
		{[]faultproxy.Rule{{Op: "PutRecords", Fault: faultproxy.ServerError, Every: 2}}, 3 * time.Second},
		{[]faultproxy.Rule{{Op: "PutRecords", Fault: faultproxy.Reset, Limit: 2}}, 2 * time.Second},
		{[]faultproxy.Rule{{Op: "PutRecords", Fault: faultproxy.BlackHole, Limit: 2}}, 4 * time.Second},
		{[]faultproxy.Rule{{Op: "PutRecords", Fault: faultproxy.Ambiguous, Limit: 2}}, 4 * time.Second},
		{nil, 2 * time.Second},
	}
	for _, ph := range phases {
		proxy.Set(ph.rules...)
		time.Sleep(ph.d)
	}
	close(stopLoad)
	wg.Wait()
	stop() // SIGTERM: flush what is buffered
	if err := <-runErr; err != nil {
		// Only records never answered 200 can be left (their callers got
		// 503): the count below still holds the producer to its promise.
		t.Logf("producer stopped with %v", err)
	}
	runErr <- nil

	stored := readAll(t, direct, stream)
	seen := map[string]int{}
	lastPerKey := map[string]int{}
	orderBroken := 0
	for _, u := range stored {
		d := string(u.Data)
		seen[d]++
		if seen[d] > 1 {
			continue // a duplicate: order is judged on first copies
		}
		key, n := splitData(t, d)
		if last, ok := lastPerKey[key]; ok && n <= last {
			orderBroken++
		}
		lastPerKey[key] = n
	}
	dups, lost := 0, 0
	for _, n := range seen {
		dups += n - 1
	}
	for d := range acked {
		if seen[d] == 0 {
			lost++
		}
	}
	t.Logf("sent %d, acknowledged %d, in the stream %d (+%d duplicates), lost %d, order broken %d; faults %s",
		sent, len(acked), len(seen), dups, lost, orderBroken, describe(proxy))
	if lost > 0 {
		t.Errorf("%d records answered 200 are not in the stream", lost)
	}
	if orderBroken > 0 {
		t.Errorf("%d records stored before an earlier record of their key", orderBroken)
	}
	inj := proxy.Injected()
	for _, f := range []faultproxy.Fault{faultproxy.Throttle, faultproxy.ServerError, faultproxy.Reset, faultproxy.BlackHole, faultproxy.Ambiguous} {
		if inj[f] == 0 {
			t.Errorf("no %s was injected: the load was too small to test it", f)
		}
	}
	if len(acked) == 0 {
		t.Error("no record was acknowledged")
	}
	record(row{"producer: Kinesis throttling, 5xx, resets, black holes, ambiguous timeouts (6 durable clients, 18 s)", describe(proxy),
		sent, len(acked), len(seen), dups, lost, outcome(t)})
}

func splitData(t *testing.T, d string) (string, int) {
	i := strings.LastIndexByte(d, ':')
	n, err := strconv.Atoi(d[i+1:])
	if i < 0 || err != nil {
		t.Fatalf("unexpected record %q in the stream", d)
	}
	return d[:i], n
}
