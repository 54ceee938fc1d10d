package controllers

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
)

// Workload names, used in service, family and container names.
const (
	producer = "producer"
	consumer = "consumer"
)

// AWS name limits the defaults must fit.
const (
	maxStreamName  = 128 // Kinesis: [a-zA-Z0-9_.-]
	maxServiceName = 255 // ECS service and task definition family: letters, digits, '-', '_'
	hashLen        = 8
)

// Names are the AWS names of one StreamProcessor's resources.
type Names struct {
	// Stream is the Kinesis stream.
	Stream string
	// Producer and Consumer are the ECS services, also their task definition families.
	Producer, Consumer string
	// LeaseTable is the consumer's KCL application name, which names its DynamoDB table.
	LeaseTable string
	// Dashboard is the CloudWatch dashboard ([A-Za-z0-9_-], at most 255).
	Dashboard string
	// LogGroup is the CloudWatch Logs group the operator creates for the
	// tasks' output (see operatorLogGroup; [-._/#A-Za-z0-9], at most 512).
	LogGroup string
}

// namesOf returns the names sp uses: those recorded in status, else the
// defaults. Names are chosen once: an object whose status records a name (or,
// from before names were recorded, a service ARN) keeps it, so a change of
// the naming rule never moves an existing pipeline.
func namesOf(sp *streamingv1alpha1.StreamProcessor) Names {
	st := &sp.Status
	d := defaultNames(sp.Namespace, sp.Name)
	n := Names{Stream: st.Stream.Name, LeaseTable: st.LeaseTable.Name}
	if n.Stream == "" {
		n.Stream = sp.Spec.Stream.Name
	}
	if n.Stream == "" {
		n.Stream = d.Stream
	}
	n.Producer = recordedService(st.Producer, legacyServiceName(n.Stream, producer), d.Producer)
	n.Consumer = recordedService(st.Consumer, legacyServiceName(n.Stream, consumer), d.Consumer)
	if n.LeaseTable == "" {
		n.LeaseTable = n.Consumer
	}
	// Objects from before dashboards get the default: it depends only on
	// namespace and name, so it is the same in every pass until recorded.
	n.Dashboard = cmp.Or(st.DashboardName, d.Dashboard)
	n.LogGroup = cmp.Or(st.LogGroupName, d.LogGroup)
	return n
}

// recordNames writes the names sp uses into its status, where they stay.
func recordNames(sp *streamingv1alpha1.StreamProcessor) Names {
	n := namesOf(sp)
	st := &sp.Status
	st.Stream.Name, st.Producer.ServiceName, st.Consumer.ServiceName, st.LeaseTable.Name = n.Stream, n.Producer, n.Consumer, n.LeaseTable
	st.DashboardName = n.Dashboard
	if operatorLogGroup(sp) {
		st.LogGroupName = n.LogGroup
	}
	return n
}

// recordedService is the service name in status; for an object from before
// names were recorded that has a service, the name it was created under
// (<stream>-<workload>); else the default.
func recordedService(s streamingv1alpha1.ServiceStatus, legacy, def string) string {
	switch {
	case s.ServiceName != "":
		return s.ServiceName
	case s.ServiceARN != "":
		if i := strings.LastIndexByte(s.ServiceARN, '/'); i >= 0 && i < len(s.ServiceARN)-1 {
			return s.ServiceARN[i+1:]
		}
		return legacy
	}
	return def
}

// legacyServiceName is the name the operator gave services before names were
// recorded: <stream>-<workload> with '.' replaced by '-'.
func legacyServiceName(stream, workload string) string {
	return strings.ReplaceAll(stream, ".", "-") + "-" + workload
}

// defaultNames are the names of a new StreamProcessor: <namespace>-<name>-<hash>
// for the stream, <namespace>-<name>-<hash>-<workload> for the services and
// the lease table, <namespace>-<name>-<hash> (ECS's characters, which are
// CloudWatch's dashboard characters) for the dashboard, the stream's for the
// log group (Kubernetes names are valid log group names), where hash is the first 8 hex digits of SHA-256 over
// "<namespace>/<name>". The hash keeps pairs apart that read the same once
// joined (a-b/c and a/b-c) or once '.' becomes '-' for ECS (x.y and x-y); the
// readable prefix is shortened to fit AWS's limits (stream 128, service 255),
// which the hash also keeps apart. Kubernetes names are [a-z0-9.-], all valid
// in stream and table names; ECS names lose the '.'.
func defaultNames(namespace, name string) Names {
	sum := sha256.Sum256([]byte(namespace + "/" + name))
	hash := hex.EncodeToString(sum[:])[:hashLen]
	prefix := namespace + "-" + name
	stream := truncate(prefix, maxStreamName-1-hashLen) + "-" + hash
	base := truncate(strings.ReplaceAll(prefix, ".", "-"), maxServiceName-1-hashLen-1-len(consumer)) + "-" + hash
	return Names{
		Stream:     stream,
		Producer:   base + "-" + producer,
		Consumer:   base + "-" + consumer,
		LeaseTable: base + "-" + consumer,
		Dashboard:  base,
		LogGroup:   stream,
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// streamName is the stream's name; see namesOf.
func streamName(sp *streamingv1alpha1.StreamProcessor) string { return namesOf(sp).Stream }

// serviceName is the deterministic name of a workload's ECS service, also its
// task definition family; see namesOf. Deterministic names make a crash
// between create and status write harmless: the next pass finds the service,
// born with this object's owner tags, and keeps it.
func serviceName(sp *streamingv1alpha1.StreamProcessor, workload string) string {
	if workload == producer {
		return namesOf(sp).Producer
	}
	return namesOf(sp).Consumer
}

// applicationName is the consumer's KCL application name, which names its
// DynamoDB lease table.
func applicationName(sp *streamingv1alpha1.StreamProcessor) string {
	return namesOf(sp).LeaseTable
}
