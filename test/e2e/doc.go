// Package e2e tests the whole pipeline end to end: a real kube-apiserver and
// etcd (envtest) with the operator's manager running, the AWS emulators
// (kinesis-local, moto, dynalite), and the producer and consumer binaries
// started as processes with the environment of the task definitions the
// operator registered — moto runs no containers, so the test plays ECS.
//
// Run it with the emulators up and the control-plane binaries built:
//
//	source .local/emulators.env
//	SP_REQUIRE_EMULATORS=1 KUBEBUILDER_ASSETS=$PWD/bin/k8s/v1.35.4 go test ./test/e2e/ -count=1 -v
//
// The package holds only tests; it reads task definitions with internal/devstack/ecstask, as local Fargate does.
package e2e
