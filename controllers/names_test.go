package controllers

import (
	"regexp"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
)

var (
	streamNameRE  = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,128}$`)
	serviceNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,255}$`)
	tableNameRE   = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)
)

// TestDefaultNamesDoNotCollide: pairs that read the same once joined with '-'
// (a-b/c and a/b-c) or once '.' becomes '-' (x.y and x-y) get different
// names for every resource, and every default fits AWS's rules, even for the
// longest namespace and name Kubernetes allows.
func TestDefaultNamesDoNotCollide(t *testing.T) {
	pairs := [][2][2]string{
		{{"a-b", "c"}, {"a", "b-c"}},
		{{"team", "x.y"}, {"team", "x-y"}},
		{{strings.Repeat("n", 63), strings.Repeat("a", 253)}, {strings.Repeat("n", 63), strings.Repeat("a", 252) + "b"}},
	}
	for _, p := range pairs {
		a, b := defaultNames(p[0][0], p[0][1]), defaultNames(p[1][0], p[1][1])
		for _, c := range [][2]string{{a.Stream, b.Stream}, {a.Producer, b.Producer}, {a.Consumer, b.Consumer}, {a.LeaseTable, b.LeaseTable}, {a.Dashboard, b.Dashboard}} {
			if c[0] == c[1] {
				t.Errorf("%s/%s and %s/%s both get %q", p[0][0], p[0][1], p[1][0], p[1][1], c[0])
			}
		}
		for _, n := range []Names{a, b} {
			if !streamNameRE.MatchString(n.Stream) {
				t.Errorf("stream name %q (%d chars) is not a Kinesis name", n.Stream, len(n.Stream))
			}
			for _, s := range []string{n.Producer, n.Consumer, n.Dashboard} {
				if !serviceNameRE.MatchString(s) {
					t.Errorf("service name %q (%d chars) is not an ECS name", s, len(s))
				}
			}
			if !tableNameRE.MatchString(n.LeaseTable) {
				t.Errorf("lease table %q is not a DynamoDB table name", n.LeaseTable)
			}
		}
	}
	if got := defaultNames("a-b", "c").Stream; !strings.HasPrefix(got, "a-b-c-") || len(got) != len("a-b-c-")+hashLen {
		t.Errorf("default stream name of a-b/c = %q, want a-b-c-<8 hex>", got)
	}
	if a, b := defaultNames("ns", "x"), defaultNames("ns", "x"); a != b {
		t.Errorf("default names are not deterministic: %v, %v", a, b)
	}
}

// TestNamesAreRecordedAndKept: a new object gets the defaults (or its
// spec.stream.name); recorded names win over both, and an object from before
// names were recorded keeps the names its ARNs show.
func TestNamesAreRecordedAndKept(t *testing.T) {
	sp := &streamingv1alpha1.StreamProcessor{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "orders"}}
	def := defaultNames("ns", "orders")
	if got := recordNames(sp); got != def {
		t.Fatalf("new object: names %+v, want the defaults %+v", got, def)
	}
	if sp.Status.Stream.Name != def.Stream || sp.Status.Producer.ServiceName != def.Producer || sp.Status.LeaseTable.Name != def.LeaseTable {
		t.Errorf("names not recorded in status: %+v", sp.Status)
	}

	sp.Spec.Stream.Name = "later.renamed" // the CRD forbids it; the recorded name wins anyway
	if got := namesOf(sp); got != def {
		t.Errorf("recorded names changed: %+v, want %+v", got, def)
	}

	named := &streamingv1alpha1.StreamProcessor{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "orders"}}
	named.Spec.Stream.Name = "shared.stream"
	if got := namesOf(named); got.Stream != "shared.stream" || got.Producer != def.Producer {
		t.Errorf("spec.stream.name: names %+v; want the stream from the spec and services from the object", got)
	}

	// Created by an operator version that named services <stream>-<workload>
	// and recorded only the stream name and ARNs.
	legacy := &streamingv1alpha1.StreamProcessor{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "orders"}}
	legacy.Status.Stream.Name = "ns-orders"
	legacy.Status.Producer.ServiceARN = "arn:aws:ecs:us-east-1:123456789012:service/cluster/ns-orders-producer"
	legacy.Status.Consumer.ServiceARN = "arn:aws:ecs:us-east-1:123456789012:service/cluster/ns-orders-consumer"
	want := Names{Stream: "ns-orders", Producer: "ns-orders-producer", Consumer: "ns-orders-consumer", LeaseTable: "ns-orders-consumer", Dashboard: defaultNames("ns", "orders").Dashboard, LogGroup: defaultNames("ns", "orders").LogGroup}
	if got := recordNames(legacy); got != want {
		t.Errorf("legacy object: names %+v, want %+v", got, want)
	}
}

// TestOwnerOf: the uid tag decides; the older namespace.name tag counts only
// without it; no tags is unowned.
func TestOwnerOf(t *testing.T) {
	sp := &streamingv1alpha1.StreamProcessor{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "first", UID: "uid-1"}}
	tests := []struct {
		name string
		tags map[string]string
		want Ownership
		who  string
	}{
		{"own tags", ownerTags(sp), Ours, "a/first"},
		{"another uid", map[string]string{TagOwnerUID: "uid-2", TagOwnerNamespace: "b", TagOwnerName: "second"}, Others, "b/second"},
		{"same name, other uid (created again)", map[string]string{TagOwnerUID: "uid-0", TagOwnerNamespace: "a", TagOwnerName: "first"}, Others, "a/first"},
		{"legacy tag of this object", map[string]string{TagStreamProcessor: "a.first"}, Ours, "a/first"},
		{"legacy tag of another", map[string]string{TagStreamProcessor: "b.first.v2"}, Others, "b/first.v2"},
		{"uid beats legacy", map[string]string{TagStreamProcessor: "a.first", TagOwnerUID: "uid-2", TagOwnerNamespace: "b", TagOwnerName: "x"}, Others, "b/x"},
		{"no tags", nil, Unowned, "/"},
		{"only user tags", map[string]string{"team": "data", TagManagedBy: managedByValue}, Unowned, "/"},
	}
	for _, tt := range tests {
		o := ownerOf(sp, tt.tags)
		if o.Ownership != tt.want || (tt.want != Unowned && o.String() != tt.who) {
			t.Errorf("%s: ownerOf = %v %q, want %v %q", tt.name, o.Ownership, o.String(), tt.want, tt.who)
		}
	}
}
