# streamprocessor-operator — run `make help` for the targets.

# Go 1.26 is required (go.mod). Everything else is installed by the targets that need it.
SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

IMG ?= ghcr.io/kdp-io/streamprocessor-operator:v0.1.0
PRODUCER_IMG ?= ghcr.io/kdp-io/streamprocessor-producer:v0.1.0
CONSUMER_IMG ?= ghcr.io/kdp-io/streamprocessor-consumer:v0.1.0
CONTROLLER_TOOLS_VERSION ?= v0.23.0
K8S_VERSION ?= v1.35.4
# Image builds: version label/tag, the commit, and a fixed time so that the same
# inputs give the same digests.
VERSION ?= v0.1.0
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
PLATFORMS ?= linux/amd64,linux/arm64
REGISTRY ?=

LOCALBIN := $(CURDIR)/bin
CONTROLLER_GEN := $(LOCALBIN)/tools/controller-gen-$(CONTROLLER_TOOLS_VERSION)
TRACES ?= ../shared/traces
# PEAKS: the peak loads (MiB/s) bench-scaling replays every trace at; issue 13 judges at all three.
PEAKS ?= 40 5 400
# SEEDS: the seeds (CloudWatch's delays, synthetic noise) bench-judge judges at, e.g. SEEDS=1-4.
SEEDS ?= 1
# StreamProcessors of make bench-operator.
OBJECTS ?= 1000
# The manager on this host: no leader election, metrics (plain HTTP, no token:
# loopback only) and probes on loopback ports that leave 8080 to a local producer.
RUN_FLAGS ?= --leader-elect=false --metrics-bind-address=127.0.0.1:8090 --metrics-secure=false --health-probe-bind-address=127.0.0.1:8091

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate the CRD and RBAC manifests from the markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./api/..." paths="./controllers/..." output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac

.PHONY: generate
generate: controller-gen ## Generate the deepcopy code from the markers.
	$(CONTROLLER_GEN) object paths="./api/..."

.PHONY: fmt
fmt: ## Run go fmt.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: test
test: ## Run every test: unit, fuzz seeds, envtest + AWS emulators (installs and starts what it needs).
	hack/test.sh

.PHONY: test-e2e
test-e2e: ## Only the end-to-end test: operator on envtest + emulators, producer and consumers run from their task definitions.
	KUBEBUILDER_ASSETS="$$(hack/control-plane.sh)" SP_REQUIRE_EMULATORS=1 hack/with-emulators.sh go test ./test/e2e/... -count=1 -v

.PHONY: test-faults
test-faults: ## Only the fault suite (test/faults): producer, consumer and operator (AWS faults, leader failover) behind fault-injecting proxies; prints the fault table.
	KUBEBUILDER_ASSETS="$$(hack/control-plane.sh)" SP_REQUIRE_EMULATORS=1 hack/with-emulators.sh go test ./test/faults/... -count=1 -v -timeout 20m

.PHONY: test-unit
test-unit: ## Run the tests that need no emulator or control plane.
	go test -short ./...

##@ Benchmarks (numbers side by side with their baseline; they never pass or fail on time)

.PHONY: bench-producer
bench-producer: ## Producer over loopback vs a bare net/http handler (durable and async), against kinesis-local and a Kinesis double; Go client and wrk.
	@command -v wrk >/dev/null || { echo "bench-producer: wrk not found, installing it: apt-get install -y wrk"; \
		if [ "$$(id -u)" = 0 ]; then apt-get install -y wrk; else sudo apt-get install -y wrk; fi; }
	hack/with-emulators.sh go run ./hack/bench/producer $(ARGS)

.PHONY: bench-consumer
bench-consumer: ## Consumer records/s on one shard and lease takeover times, against kinesis-local + dynalite.
	hack/with-emulators.sh go run ./hack/bench/consumer

.PHONY: bench-scaling
bench-scaling: ## Replay every trace in $(TRACES) and synthetic ones at each of $(PEAKS) MiB/s: operator vs seed (as deployed), seed-raised, fixed-peak, on-demand, clairvoyant, one table and issue 13's goal lines per peak.
	for p in $(PEAKS); do go run ./cmd/simulate -bench -traces $(TRACES) -peak-mibps $$p || exit 1; done

.PHONY: bench-judge
bench-judge: ## Judge the operator on issue 13's goals at every $(PEAKS) x $(SEEDS): each goal part met/missed with its figure, parts missed per peak (ARGS="-json > after.json", "-baseline before.json", "-workers N").
	@go run ./cmd/simulate -judge -traces $(TRACES) -peaks "$(PEAKS)" -seeds "$(SEEDS)" $(ARGS)

.PHONY: bench-frontier
bench-frontier: ## Issue 13's spiky-trace goals against an idealised reactive family, at 5, 40 and 400 MiB/s (slow: several minutes per peak).
	for p in 5 40 400; do go run ./cmd/simulate -frontier -traces $(TRACES) -peak-mibps $$p || exit 1; done

.PHONY: bench-operator
bench-operator: ## The operator at scale: $(OBJECTS) StreamProcessors on envtest against in-memory AWS fakes with AWS's per-account rates (ARGS="-interval 60s -timeout 15m").
	KUBEBUILDER_ASSETS="$$(K8S_VERSION=$(K8S_VERSION) hack/control-plane.sh)" go run ./hack/bench/operator -objects $(OBJECTS) $(ARGS)

.PHONY: bench-loop
bench-loop: ## One short load through the local stack (`make dev` running) and the simulator, timelines side by side (≤ 15 min; ARGS=-sim-only: the model alone).
	if [ -f .local/env ]; then source .local/env; fi; go run ./hack/bench/loop $(ARGS)

.PHONY: bench
bench: bench-scaling bench-producer bench-consumer bench-operator ## Run every benchmark.

##@ Build

.PHONY: build
build: manifests generate fmt vet ## Build every binary into bin/.
	CGO_ENABLED=0 go build -trimpath -o $(LOCALBIN)/ ./cmd/...

.PHONY: kubectl-plugin
kubectl-plugin: ## Build the kubectl plugin into bin/kubectl-sp; copy it onto PATH and run `kubectl sp --help`.
	CGO_ENABLED=0 go build -trimpath -o $(LOCALBIN)/kubectl-sp ./cmd/kubectl-sp

.PHONY: kubectl-plugin-release
kubectl-plugin-release: ## Release archives of kubectl-sp per platform and the Krew manifest bin/krew/sp.yaml (upload the archives to the $(VERSION) release).
	go run ./hack/krew -out bin/krew -version $(VERSION)

.PHONY: run
run: manifests generate ## Run the manager on this host against $KUBECONFIG (source .local/env first for the local stack).
	go run ./cmd/manager $(RUN_FLAGS)

.PHONY: dev
dev: manifests generate ## The whole pipeline on this machine in the foreground: control plane, emulators, Kinesis meter, local Fargate and ALB, the sample, the operator; Ctrl-C stops it all.
	RUN_FLAGS="$(RUN_FLAGS)" hack/dev.sh

.PHONY: demo
demo: manifests generate ## Load the sample until it reshards twice and adds consumers, then watch it scale back down (≤ 15 min; uses `make dev` if running).
	RUN_FLAGS="$(RUN_FLAGS)" hack/demo.sh

.PHONY: loadgen
loadgen: ## Send records to $$LOCAL_PRODUCER_URL: make loadgen ARGS="-rate 500 -duration 1m".
	go run ./cmd/loadgen $(ARGS)

.PHONY: local-up
local-up: manifests ## Start the local stack (control plane + AWS emulators) and write .local/env.
	hack/local-up.sh

.PHONY: local-down
local-down: ## Stop everything local-up started.
	hack/local-down.sh

.PHONY: docker-build
docker-build: ## Build the operator, producer and consumer images (needs a Docker engine).
	docker build --target manager -t $(IMG) .
	docker build --target producer -t $(PRODUCER_IMG) .
	docker build --target consumer -t $(CONSUMER_IMG) .

.PHONY: images
images: ## Build the manager, producer and consumer images for $(PLATFORMS) as OCI layouts in dist/images/ (no Docker engine needed).
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) go run ./hack/images -out dist/images -version $(VERSION) -revision "$(REVISION)" -platforms $(PLATFORMS)

.PHONY: images-push
images-push: ## Build the images and push them to $(REGISTRY) as $(REGISTRY)/streamprocessor-{operator,producer,consumer}:$(VERSION).
	@test -n "$(REGISTRY)" || { echo "set REGISTRY, e.g. make images-push REGISTRY=ghcr.io/kdp-io" >&2; exit 1; }
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) go run ./hack/images -out dist/images -version $(VERSION) -revision "$(REVISION)" -platforms $(PLATFORMS) -registry $(REGISTRY)

##@ Deployment

.PHONY: build-installer
build-installer: manifests ## Write dist/install.yaml (CRD, namespace, RBAC, manager with image $(IMG)) and the Helm chart dist/chart/.
	go run ./hack/installer -out dist -img $(IMG)

.PHONY: install
install: manifests ## Install the CRD into the cluster of $KUBECONFIG.
	kubectl apply -k config/crd

.PHONY: uninstall
uninstall: manifests ## Remove the CRD (and every StreamProcessor) from the cluster.
	kubectl delete --ignore-not-found -k config/crd

.PHONY: deploy
deploy: manifests ## Deploy the operator to the cluster of $KUBECONFIG.
	kubectl apply -k config/default

.PHONY: kind-deploy
kind-deploy: ## With Docker and kind: a kind cluster, the three images built and loaded, dist/install.yaml applied with them.
	kind get clusters | grep -qx streamprocessor || kind create cluster --name streamprocessor
	$(MAKE) docker-build IMG=$(IMG) PRODUCER_IMG=$(PRODUCER_IMG) CONSUMER_IMG=$(CONSUMER_IMG)
	kind load docker-image --name streamprocessor $(IMG) $(PRODUCER_IMG) $(CONSUMER_IMG)
	go run ./hack/installer -out $(LOCALBIN)/kind -img $(IMG)
	kubectl --context kind-streamprocessor apply --server-side -f $(LOCALBIN)/kind/install.yaml

.PHONY: undeploy
undeploy: ## Remove the operator from the cluster.
	kubectl delete --ignore-not-found -k config/default

##@ Tools

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Install controller-gen (pinned) into bin/tools.
$(CONTROLLER_GEN):
	mkdir -p $(LOCALBIN)/tools
	GOBIN=$(LOCALBIN)/tools go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	mv $(LOCALBIN)/tools/controller-gen $(CONTROLLER_GEN)

.PHONY: control-plane
control-plane: ## Build (once, then cached) a real kube-apiserver and etcd for envtest.
	K8S_VERSION=$(K8S_VERSION) hack/control-plane.sh
