package devstack

import (
	"fmt"

	"sigs.k8s.io/yaml"
)

// LocalizeSample points a StreamProcessor sample of config/samples at the
// emulated account a in region: spec.region, spec.ecs's cluster, subnets,
// security groups and roles, and the producer's target group. Everything
// else — images, the consumer's processor, bounds — stays as the sample has
// it, so the local stack runs the same sample. A document that is not a
// StreamProcessor is an error.
func LocalizeSample(sample []byte, a Account, region string) ([]byte, error) {
	var obj map[string]any
	if err := yaml.Unmarshal(sample, &obj); err != nil {
		return nil, fmt.Errorf("sample: %w", err)
	}
	if obj["kind"] != "StreamProcessor" {
		return nil, fmt.Errorf("sample: kind %v, want StreamProcessor", obj["kind"])
	}
	spec, ok := obj["spec"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("sample: no spec")
	}
	ecs, _ := spec["ecs"].(map[string]any)
	if ecs == nil {
		ecs = map[string]any{}
		spec["ecs"] = ecs
	}
	spec["region"] = region
	ecs["cluster"] = a.Cluster
	ecs["subnets"] = a.SubnetIDs
	ecs["securityGroups"] = a.SecurityGroupIDs
	ecs["executionRoleArn"] = a.ExecutionRoleARN
	ecs["taskRoleArn"] = a.TaskRoleARN
	if producer, ok := spec["producer"].(map[string]any); ok {
		producer["targetGroupArn"] = a.TargetGroupARN
	}
	return yaml.Marshal(obj)
}

// SampleConsumerImage is the consumer image a sample names, "" if none.
func SampleConsumerImage(sample []byte) (string, error) {
	var obj struct {
		Spec struct {
			Consumer struct {
				Image string `json:"image"`
			} `json:"consumer"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(sample, &obj); err != nil {
		return "", fmt.Errorf("sample: %w", err)
	}
	return obj.Spec.Consumer.Image, nil
}
