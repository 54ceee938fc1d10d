package devstack_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack"
)

// TestLocalizeMultiLangSample: config/samples' MultiLang sample, pointed at
// the local account, names the account's cluster, network, roles and target
// group and keeps everything else — image, processor, sizes — as it is.
func TestLocalizeMultiLangSample(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", "streaming_v1alpha1_streamprocessor_multilang.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	local, err := devstack.LocalizeSample(data, acct, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	var orig, got streamingv1alpha1.StreamProcessor
	if err := yaml.UnmarshalStrict(data, &orig); err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(local, &got); err != nil {
		t.Fatalf("localized sample: %v\n%s", err, local)
	}
	e := got.Spec.ECS
	if got.Spec.Region != "eu-west-1" || e.Cluster != acct.Cluster || !reflect.DeepEqual(e.Subnets, acct.SubnetIDs) ||
		!reflect.DeepEqual(e.SecurityGroups, acct.SecurityGroupIDs) || e.ExecutionRoleARN != acct.ExecutionRoleARN ||
		e.TaskRoleARN != acct.TaskRoleARN || got.Spec.Producer.TargetGroupARN != acct.TargetGroupARN {
		t.Errorf("not pointed at the account:\n%s", local)
	}
	// The rest is the sample's.
	got.Spec.Region, got.Spec.ECS, got.Spec.Producer.TargetGroupARN = orig.Spec.Region, orig.Spec.ECS, orig.Spec.Producer.TargetGroupARN
	if !reflect.DeepEqual(got, orig) {
		t.Errorf("localizing changed more than the account's ids:\n got %+v\nwant %+v", got.Spec, orig.Spec)
	}
	if got.Spec.Consumer.Processor == nil {
		t.Error("the MultiLang sample has no processor")
	}
	if img, err := devstack.SampleConsumerImage(data); err != nil || img != orig.Spec.Consumer.Image {
		t.Errorf("SampleConsumerImage = %q, %v", img, err)
	}
	if _, err := devstack.LocalizeSample([]byte("kind: ConfigMap\n"), acct, "r"); err == nil || !strings.Contains(err.Error(), "want StreamProcessor") {
		t.Errorf("a ConfigMap: error %v", err)
	}
}
