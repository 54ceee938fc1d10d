package dashboard

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/kdp-io/streamprocessor-operator/workloads/consumer"
	"github.com/kdp-io/streamprocessor-operator/workloads/producer"
)

// published is, per namespace, every metric its publisher sends and the
// dimensions (sorted, comma-joined) it sends it with.
type published map[string]map[string]string

// publishers lists what is published: AWS/Kinesis stream-level metrics and
// AWS/ECS service metrics as the AWS documentation lists them
// (kinesis/latest/dev/monitoring-with-cloudwatch.html, "Stream-level
// Metrics"; AmazonECS/latest/developerguide/available-metrics.html, service
// dimensions ClusterName, ServiceName), the service-level task counts of
// Container Insights (AmazonCloudWatch/latest/monitoring/Container-Insights-metrics-ECS.html:
// DesiredTaskCount, PendingTaskCount, RunningTaskCount with dimensions
// ClusterName, ServiceName), and the workloads' own lists, which their tests
// keep equal to what they send.
func publishers() published {
	p := published{"AWS/Kinesis": {}, "AWS/ECS": {}, ContainerInsightsNamespace: {}, ProducerNamespace: {}, ConsumerNamespace: {}}
	for _, m := range []string{
		"GetRecords.Bytes", "GetRecords.IteratorAgeMilliseconds", "GetRecords.Latency", "GetRecords.Records", "GetRecords.Success",
		"IncomingBytes", "IncomingRecords", "PutRecord.Bytes", "PutRecord.Latency", "PutRecord.Success",
		"PutRecords.Bytes", "PutRecords.Latency", "PutRecords.Success", "PutRecords.TotalRecords",
		"PutRecords.SuccessfulRecords", "PutRecords.FailedRecords", "PutRecords.ThrottledRecords",
		"ReadProvisionedThroughputExceeded", "WriteProvisionedThroughputExceeded",
	} {
		p["AWS/Kinesis"][m] = "StreamName"
	}
	for _, m := range []string{"CPUUtilization", "MemoryUtilization"} {
		p["AWS/ECS"][m] = "ClusterName,ServiceName"
	}
	for _, m := range []string{"DesiredTaskCount", "PendingTaskCount", "RunningTaskCount"} {
		p[ContainerInsightsNamespace][m] = "ClusterName,ServiceName"
	}
	for _, m := range producer.CloudWatchMetrics {
		p[ProducerNamespace][m] = strings.Join(slices.Sorted(slices.Values(producer.CloudWatchDimensions)), ",")
	}
	for _, m := range consumer.CloudWatchMetrics {
		p[ConsumerNamespace][m] = strings.Join(slices.Sorted(slices.Values(consumer.CloudWatchDimensions)), ",")
	}
	// The operator's own (controllers.MetricsPublisher, with
	// --cloudwatch-metrics; TestPublisherSendsOperatorMetrics keeps it
	// equal to this list).
	p[OperatorNamespace] = map[string]string{}
	for _, m := range OperatorMetrics {
		p[OperatorNamespace][m] = strings.Join(slices.Sorted(slices.Values(OperatorDimensions)), ",")
	}
	return p
}

var sample = Input{
	Namespace: "team-a", Name: "clicks", Region: "eu-west-1", Stream: "team-a-clicks-1a2b3c4d", Cluster: "streaming",
	Producer: "team-a-clicks-1a2b3c4d-producer", Consumer: "team-a-clicks-1a2b3c4d-consumer", Application: "team-a-clicks-1a2b3c4d-consumer",
	MinShards: 1, MaxShards: 8, ProducerMinTasks: 1, ProducerMaxTasks: 4, ConsumerMinTasks: 1, ConsumerMaxTasks: 8,
}

// plotted is one metric of a widget as read back from the JSON.
type plotted struct {
	widget, namespace, name string
	dims                    map[string]string
}

// metricsOf parses body as CloudWatch does and returns every metric it plots
// (expressions are checked to name only ids of the same widget).
func metricsOf(t *testing.T, body string) []plotted {
	t.Helper()
	var b struct {
		Widgets []struct {
			Type       string `json:"type"`
			Properties struct {
				Title   string            `json:"title"`
				Region  string            `json:"region"`
				Metrics []json.RawMessage `json:"metrics"`
			} `json:"properties"`
		} `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatalf("body is not JSON: %v", err)
	}
	var out []plotted
	for _, w := range b.Widgets {
		if w.Type != "metric" {
			continue
		}
		if w.Properties.Region != sample.Region {
			t.Errorf("widget %q: region %q, want %q", w.Properties.Title, w.Properties.Region, sample.Region)
		}
		for _, raw := range w.Properties.Metrics {
			var parts []any
			if err := json.Unmarshal(raw, &parts); err != nil {
				t.Fatalf("widget %q: metric %s: %v", w.Properties.Title, raw, err)
			}
			if len(parts) == 1 {
				if _, ok := parts[0].(map[string]any)["expression"]; !ok {
					t.Errorf("widget %q: %s is neither a metric nor an expression", w.Properties.Title, raw)
				}
				continue
			}
			var strs []string
			for _, p := range parts {
				if s, ok := p.(string); ok {
					strs = append(strs, s)
				}
			}
			if len(strs) < 2 || len(strs)%2 != 0 {
				t.Errorf("widget %q: metric %s: want namespace, name and dimension pairs", w.Properties.Title, raw)
				continue
			}
			p := plotted{widget: w.Properties.Title, namespace: strs[0], name: strs[1], dims: map[string]string{}}
			for i := 2; i < len(strs); i += 2 {
				p.dims[strs[i]] = strs[i+1]
			}
			out = append(out, p)
		}
	}
	return out
}

// TestEveryMetricIsPublished: every metric the dashboard plots is one that
// AWS, the producer or the consumer publishes, with the same dimensions, and
// the dimensions' values are this object's names; with and without the
// operator's own metrics.
func TestEveryMetricIsPublished(t *testing.T) {
	withOperator := sample
	withOperator.OperatorMetrics = true
	checkPublished(t, sample)
	checkPublished(t, withOperator)
}

func checkPublished(t *testing.T, sample Input) {
	t.Helper()
	pub := publishers()
	values := map[string]string{"StreamName": sample.Stream, "ApplicationName": sample.Application, "ClusterName": sample.Cluster,
		"Namespace": sample.Namespace, "Name": sample.Name}
	ms := metricsOf(t, JSON(sample))
	if len(ms) < 15 {
		t.Fatalf("only %d metrics plotted", len(ms))
	}
	for _, m := range ms {
		want, ok := pub[m.namespace][m.name]
		if !ok {
			t.Errorf("widget %q plots %s %s, which nobody publishes", m.widget, m.namespace, m.name)
			continue
		}
		if got := strings.Join(slices.Sorted(keys(m.dims)), ","); got != want {
			t.Errorf("widget %q plots %s %s with dimensions %s; it is published with %s", m.widget, m.namespace, m.name, got, want)
		}
		for k, v := range m.dims {
			if w, ok := values[k]; ok && v != w {
				t.Errorf("widget %q: %s %s = %q, want %q", m.widget, m.name, k, v, w)
			}
			if k == "ServiceName" && v != sample.Producer && v != sample.Consumer {
				t.Errorf("widget %q: ServiceName %q is neither service", m.widget, v)
			}
		}
	}
}

func keys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestSeedWidgetsArePlotted: the seed's widgets and the additions
// that someone publishes are all there.
func TestSeedWidgetsArePlotted(t *testing.T) {
	have := map[string]bool{}
	for _, m := range metricsOf(t, JSON(sample)) {
		have[m.namespace+" "+m.name+" "+m.dims["ServiceName"]] = true
	}
	for _, want := range []string{
		"AWS/ECS CPUUtilization " + sample.Producer, "AWS/ECS CPUUtilization " + sample.Consumer,
		ConsumerNamespace + " MillisBehindLatest ", "AWS/Kinesis GetRecords.IteratorAgeMilliseconds ",
		"AWS/Kinesis PutRecords.SuccessfulRecords ", "AWS/Kinesis PutRecords.TotalRecords ",
		"AWS/Kinesis WriteProvisionedThroughputExceeded ", "AWS/Kinesis ReadProvisionedThroughputExceeded ",
		ProducerNamespace + " IngestRecords ", ProducerNamespace + " IngestBytes ",
		ConsumerNamespace + " RecordsProcessed ",
		ContainerInsightsNamespace + " DesiredTaskCount " + sample.Producer, ContainerInsightsNamespace + " RunningTaskCount " + sample.Producer,
		ContainerInsightsNamespace + " DesiredTaskCount " + sample.Consumer, ContainerInsightsNamespace + " RunningTaskCount " + sample.Consumer,
	} {
		if !have[want] {
			t.Errorf("no widget plots %s", want)
		}
	}
}

// TestDemandAndFailuresBesideTheirRates: the producer's refused records are
// in the widget of its ingest rate, the consumer's failed attempts and dead
// letters in the widget of records processed.
func TestDemandAndFailuresBesideTheirRates(t *testing.T) {
	widgetOf := map[string]string{}
	for _, m := range metricsOf(t, JSON(sample)) {
		widgetOf[m.namespace+" "+m.name] = m.widget
	}
	for _, pair := range [][2]string{
		{ProducerNamespace + " RefusedRecords", ProducerNamespace + " IngestBytes"},
		{ConsumerNamespace + " RecordFailures", ConsumerNamespace + " RecordsProcessed"},
		{ConsumerNamespace + " RecordsDeadLettered", ConsumerNamespace + " RecordsProcessed"},
	} {
		got, ok := widgetOf[pair[0]]
		if !ok {
			t.Errorf("no widget plots %s", pair[0])
			continue
		}
		if got != widgetOf[pair[1]] {
			t.Errorf("%s is in widget %q, %s in %q: want them together", pair[0], got, pair[1], widgetOf[pair[1]])
		}
	}
}

// TestNamespacesAreTheWorkloads': the namespaces plotted are those the
// workloads publish to by default (the operator does not change them).
func TestNamespacesAreTheWorkloads(t *testing.T) {
	if got := producer.DefaultConfig().CloudWatchNamespace; got != ProducerNamespace {
		t.Errorf("producer publishes to %q, dashboard reads %q", got, ProducerNamespace)
	}
	if consumer.DefaultCloudWatchNamespace != ConsumerNamespace {
		t.Errorf("consumer publishes to %q, dashboard reads %q", consumer.DefaultCloudWatchNamespace, ConsumerNamespace)
	}
}

// TestBodyFollowsInput: the body is a pure function of the input, and every
// name and bound in it changes it.
func TestBodyFollowsInput(t *testing.T) {
	if JSON(sample) != JSON(sample) {
		t.Fatal("the same input gave two bodies")
	}
	for i, change := range []func(*Input){
		func(in *Input) { in.Stream = "other" }, func(in *Input) { in.Cluster = "other" },
		func(in *Input) { in.Producer = "other" }, func(in *Input) { in.Consumer = "other" },
		func(in *Input) { in.Application = "other" }, func(in *Input) { in.Region = "us-east-1" },
		func(in *Input) { in.MaxShards = 9 }, func(in *Input) { in.ConsumerMaxTasks = 9 },
	} {
		in := sample
		change(&in)
		if Equal(JSON(in), JSON(sample)) {
			t.Errorf("change %d left the body unchanged", i)
		}
	}
	if !Equal(`{"widgets": [ ]}`, `{"widgets":[]}`) || Equal(`{`, `{`) {
		t.Error("Equal compares JSON values, and nothing equals an unparseable body")
	}
	if got := len(JSON(sample)); got > 100_000 {
		t.Errorf("body is %d bytes", got)
	}
}

func TestURL(t *testing.T) {
	want := "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards/dashboard/team-a-clicks-1a2b3c4d"
	if got := URL("eu-west-1", "team-a-clicks-1a2b3c4d"); got != want {
		t.Errorf("URL = %s, want %s", got, want)
	}
}
