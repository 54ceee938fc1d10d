// Package dashboard builds the CloudWatch dashboard of one StreamProcessor: a
// pure function of its names, region and bounds, so the reconciler can tell
// by comparing bodies whether the dashboard in CloudWatch is current.
//
// Every metric it plots is one that is published: AWS/Kinesis (stream-level
// metrics, which Kinesis publishes for every stream), AWS/ECS (service
// CPUUtilization, published for every Fargate service), ECS/ContainerInsights
// (DesiredTaskCount and RunningTaskCount per service, published only when
// Container Insights is enabled on the cluster: the prerequisites stack's
// cluster has it), the producer's namespace (workloads/producer
// CloudWatchMetrics) or the consumer's (workloads/consumer
// CloudWatchMetrics): the producer's refused records (429/503) beside its
// ingest rate, the consumer's failed attempts and dead letters beside records
// processed; and, when the operator publishes them (its --cloudwatch-metrics,
// Input.OperatorMetrics), the operator's own (OperatorNamespace: shard counts,
// reshard calls left, target tasks). What only the operator's status or
// /metrics holds when it does not publish them is not plotted; the text widget
// says where to find it.
package dashboard

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// Namespaces the workloads publish to (their default CLOUDWATCH_NAMESPACE,
// which the operator's task definitions do not change).
const (
	ProducerNamespace = "StreamProcessor/Producer"
	ConsumerNamespace = "StreamProcessor/Consumer"
)

// ContainerInsightsNamespace holds ECS's task counts per service
// (DesiredTaskCount, RunningTaskCount, PendingTaskCount; dimensions
// ClusterName, ServiceName), published only for clusters with Container
// Insights enabled (containerInsights: enabled or enhanced).
const ContainerInsightsNamespace = "ECS/ContainerInsights"

// Input is what the dashboard depends on. A change of any field changes the
// body.
type Input struct {
	// Namespace and Name of the StreamProcessor, for the title.
	Namespace, Name string
	Region          string
	Stream          string
	Cluster         string
	// Producer and Consumer are the ECS service names.
	Producer, Consumer string
	// Application is the consumer's KCL application name (lease table).
	Application string
	// Bounds of the spec, shown in the text widget.
	MinShards, MaxShards               int32
	ProducerMinTasks, ProducerMaxTasks int32
	ConsumerMinTasks, ConsumerMaxTasks int32
	Period                             int32 // seconds; 60 when 0
	// OperatorMetrics: the operator publishes OperatorMetrics for this
	// object (its --cloudwatch-metrics), and the dashboard plots them.
	OperatorMetrics bool
}

// URL is the CloudWatch console address of the dashboard name in region (the
// aws partition's console; China and GovCloud have their own hosts).
func URL(region, name string) string {
	return fmt.Sprintf("https://%s.console.aws.amazon.com/cloudwatch/home?region=%s#dashboards/dashboard/%s",
		region, url.QueryEscape(region), url.PathEscape(name))
}

// Widget and the types below are the parts of CloudWatch's dashboard body
// structure the operator writes (docs: CloudWatch-Dashboard-Body-Structure).
type Widget struct {
	Type       string     `json:"type"`
	X          int        `json:"x"`
	Y          int        `json:"y"`
	Width      int        `json:"width"`
	Height     int        `json:"height"`
	Properties Properties `json:"properties"`
}

// Properties of a metric or text widget.
type Properties struct {
	Markdown string  `json:"markdown,omitempty"`
	Title    string  `json:"title,omitempty"`
	View     string  `json:"view,omitempty"`
	Region   string  `json:"region,omitempty"`
	Period   int32   `json:"period,omitempty"`
	Stat     string  `json:"stat,omitempty"`
	Stacked  *bool   `json:"stacked,omitempty"`
	Metrics  [][]any `json:"metrics,omitempty"`
}

// Body is the dashboard's JSON body.
type Body struct {
	Widgets []Widget `json:"widgets"`
}

// metric is one plotted series: namespace, name, dimensions (name, value
// pairs) and rendering options ({"stat":…, "label":…, "id":…, "visible":…}).
func metric(ns, name string, dims []string, opts map[string]any) []any {
	m := []any{ns, name}
	for _, d := range dims {
		m = append(m, d)
	}
	if len(opts) > 0 {
		m = append(m, opts)
	}
	return m
}

// expression is a metric math series.
func expression(expr, label string) []any {
	return []any{map[string]any{"expression": expr, "label": label, "id": "e1"}}
}

// Build returns the dashboard body of in.
func Build(in Input) Body {
	period := in.Period
	if period <= 0 {
		period = 60
	}
	stream := []string{"StreamName", in.Stream}
	app := []string{"StreamName", in.Stream, "ApplicationName", in.Application}
	svc := func(name string) []string { return []string{"ClusterName", in.Cluster, "ServiceName", name} }
	k := func(name, stat, label string) []any {
		return metric("AWS/Kinesis", name, stream, map[string]any{"stat": stat, "label": label})
	}
	graph := func(title, stat string, metrics ...[]any) Properties {
		return Properties{Title: title, View: "timeSeries", Region: in.Region, Period: period, Stat: stat, Stacked: new(bool), Metrics: metrics}
	}
	props := []Properties{
		// The seed's widgets.
		graph("Producer and consumer CPU (%)", "Average",
			metric("AWS/ECS", "CPUUtilization", svc(in.Producer), map[string]any{"label": "producer"}),
			metric("AWS/ECS", "CPUUtilization", svc(in.Consumer), map[string]any{"label": "consumer"})),
		graph("Consumer lag (ms)", "Maximum",
			metric(ConsumerNamespace, "MillisBehindLatest", app, map[string]any{"label": "MillisBehindLatest (consumer)"}),
			k("GetRecords.IteratorAgeMilliseconds", "Maximum", "iterator age (Kinesis)")),
		graph("PutRecords records", "Sum",
			k("PutRecords.TotalRecords", "Sum", "total"),
			k("PutRecords.SuccessfulRecords", "Sum", "successful"),
			k("PutRecords.FailedRecords", "Sum", "failed"),
			k("PutRecords.ThrottledRecords", "Sum", "throttled")),
		graph("PutRecords success (%)", "Sum",
			expression("100 * ok / total", "success %"),
			metric("AWS/Kinesis", "PutRecords.SuccessfulRecords", stream, map[string]any{"id": "ok", "visible": false}),
			metric("AWS/Kinesis", "PutRecords.TotalRecords", stream, map[string]any{"id": "total", "visible": false})),
		graph("Write and read throttling", "Sum",
			k("WriteProvisionedThroughputExceeded", "Sum", "WriteProvisionedThroughputExceeded"),
			k("ReadProvisionedThroughputExceeded", "Sum", "ReadProvisionedThroughputExceeded")),
		graph("User records put (producer, after the HTTP answer)", "Sum",
			metric(ProducerNamespace, "IngestRecords", stream, map[string]any{"label": "user records accepted"})),
		// Beyond the seed.
		graph("Producer ingest rate and refused records (all tasks, per second)", "Sum",
			[]any{map[string]any{"expression": "records / PERIOD(records)", "label": "records/s accepted", "id": "e1"}},
			[]any{map[string]any{"expression": "refused / PERIOD(refused)", "label": "records/s refused (429/503)", "id": "e3"}},
			[]any{map[string]any{"expression": "bytes / PERIOD(bytes)", "label": "bytes/s", "id": "e2", "yAxis": "right"}},
			metric(ProducerNamespace, "IngestRecords", stream, map[string]any{"id": "records", "visible": false}),
			metric(ProducerNamespace, "RefusedRecords", stream, map[string]any{"id": "refused", "visible": false}),
			metric(ProducerNamespace, "IngestBytes", stream, map[string]any{"id": "bytes", "visible": false})),
		graph("Stream traffic", "Sum",
			k("IncomingRecords", "Sum", "incoming records"),
			k("GetRecords.Records", "Sum", "records read")),
		graph("Producer tasks (desired and running)", "Average",
			metric(ContainerInsightsNamespace, "DesiredTaskCount", svc(in.Producer), map[string]any{"label": "desired"}),
			metric(ContainerInsightsNamespace, "RunningTaskCount", svc(in.Producer), map[string]any{"label": "running"})),
		graph("Consumer tasks (desired and running)", "Average",
			metric(ContainerInsightsNamespace, "DesiredTaskCount", svc(in.Consumer), map[string]any{"label": "desired"}),
			metric(ContainerInsightsNamespace, "RunningTaskCount", svc(in.Consumer), map[string]any{"label": "running"})),
		graph("Consumer records processed, failures, dead letters and blocked shards", "Sum",
			metric(ConsumerNamespace, "RecordsProcessed", app, map[string]any{"label": "records processed"}),
			metric(ConsumerNamespace, "RecordFailures", app, map[string]any{"label": "failed attempts"}),
			metric(ConsumerNamespace, "RecordsDeadLettered", app, map[string]any{"label": "dead-lettered"}),
			metric(ConsumerNamespace, "RecordsBlocked", app, map[string]any{"stat": "Maximum", "label": "shards blocked", "yAxis": "right"})),
	}
	props = append(props, operatorGraphs(in, graph)...)
	widgets := []Widget{{Type: "text", X: 0, Y: 0, Width: 24, Height: 4, Properties: Properties{Markdown: markdown(in)}}}
	for i, p := range props {
		widgets = append(widgets, Widget{Type: "metric", X: (i % 2) * 12, Y: 4 + (i/2)*6, Width: 12, Height: 6, Properties: p})
	}
	return Body{Widgets: widgets}
}

// JSON is the body of in as CloudWatch takes it.
func JSON(in Input) string {
	b, err := json.Marshal(Build(in))
	if err != nil {
		panic(err) // only strings, numbers and bools: cannot fail
	}
	return string(b)
}

// Equal reports whether two dashboard bodies are the same JSON (CloudWatch
// may return the body re-encoded); an unparseable body equals nothing.
func Equal(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

func markdown(in Input) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# StreamProcessor %s/%s\n", in.Namespace, in.Name)
	fmt.Fprintf(&b, "Stream `%s` (%d–%d shards) · cluster `%s` · producer `%s` (%d–%d tasks) · consumer `%s` (%d–%d tasks) · application `%s` · %s\n\n",
		in.Stream, in.MinShards, in.MaxShards, in.Cluster, in.Producer, in.ProducerMinTasks, in.ProducerMaxTasks,
		in.Consumer, in.ConsumerMinTasks, in.ConsumerMaxTasks, in.Application, in.Region)
	b.WriteString(operatorText(in))
	b.WriteString(" Desired and running tasks: ECS/ContainerInsights, empty unless the cluster has Container Insights enabled. Refused records count the producer's 429/503 answers by record (1 per request refused before its body was read); other HTTP answers by code: the producer's `/metrics`.")
	return b.String()
}

// The operator's own metrics (controllers.MetricsPublisher, published only
// with the manager's --cloudwatch-metrics): its decisions about each
// StreamProcessor, with the dimensions OperatorDimensions.
const (
	OperatorNamespace         = "StreamProcessor/Operator"
	MetricOpenShards          = "OpenShards"
	MetricTargetShards        = "TargetShards"
	MetricReshardCallsLeft    = "ReshardCallsLeft"
	MetricProducerTargetTasks = "ProducerTargetTasks"
	MetricConsumerTargetTasks = "ConsumerTargetTasks"
)

// OperatorMetrics are every metric the operator publishes per StreamProcessor.
var OperatorMetrics = []string{MetricOpenShards, MetricTargetShards, MetricReshardCallsLeft, MetricProducerTargetTasks, MetricConsumerTargetTasks}

// OperatorDimensions are the dimensions of every OperatorMetrics datum, in
// order: the StreamProcessor's Kubernetes namespace and name.
var OperatorDimensions = []string{"Namespace", "Name"}

// operatorGraphs are the widgets of the operator's own metrics (namespace
// OperatorNamespace), when it publishes them; none otherwise.
func operatorGraphs(in Input, graph func(title, stat string, metrics ...[]any) Properties) []Properties {
	if !in.OperatorMetrics {
		return nil
	}
	obj := []string{OperatorDimensions[0], in.Namespace, OperatorDimensions[1], in.Name}
	op := func(name, label string) []any {
		return metric(OperatorNamespace, name, obj, map[string]any{"label": label})
	}
	return []Properties{
		graph("Shards (open and target, operator)", "Maximum",
			op(MetricOpenShards, "open"), op(MetricTargetShards, "target")),
		graph("Reshard calls left (rolling 24 h, operator)", "Minimum",
			op(MetricReshardCallsLeft, "UpdateShardCount calls left")),
		graph("Target tasks (operator)", "Maximum",
			op(MetricProducerTargetTasks, "producer"), op(MetricConsumerTargetTasks, "consumer")),
	}
}

// operatorText says where the operator's decisions are plotted or found.
func operatorText(in Input) string {
	if in.OperatorMetrics {
		return "Open and target shards, reshard calls left, target tasks: the operator's widgets below (" + OperatorNamespace + "), also `kubectl sp status` and the operator's `/metrics`."
	}
	return "Open and target shards, reshard calls, target tasks: `kubectl sp status` or the operator's `/metrics` " +
		"(not published to CloudWatch: the operator's --cloudwatch-metrics is off)."
}
