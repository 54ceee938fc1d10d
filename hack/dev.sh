#!/usr/bin/env bash
# `make dev`: the whole pipeline on this machine, in the foreground.
#
#   1. hack/local-up.sh: control plane, AWS emulators, the emulated account and
#      the local data plane (Kinesis meter, local Fargate, local ALB), all on
#      127.0.0.1, in the background, stopped by PID
#   2. the sample StreamProcessor (.local/sample.yaml) applied
#   3. the operator (cmd/manager) in the foreground
#   4. one log stream: every component's log, each line prefixed with its name
#
# Ctrl-C stops the operator and everything local-up started (hack/local-down.sh).
# While it runs, in another terminal:
#   source .local/env
#   curl --location --request POST "$LOCAL_PRODUCER_URL" --header 'Content-Type: application/json' \
#        --data-raw '{"data":"This is a load testing record"}'
#   cat "$LOCAL_CONSUMER_OUTPUT_DIR"/*.jsonl
#   kubectl get sp -w
#
# Environment: RUN_FLAGS (the manager's flags, from the Makefile), DEV_KEEP=1 keeps
# the stack running after Ctrl-C (only the operator stops).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "${ROOT}"
STATE="${LOCAL_STATE_DIR:-${ROOT}/.local}"
RUN_FLAGS="${RUN_FLAGS:---leader-elect=false --metrics-bind-address=127.0.0.1:8090 --metrics-secure=false --health-probe-bind-address=127.0.0.1:8091}"

hack/local-up.sh
# shellcheck disable=SC1091
source "${STATE}/env"
kubectl apply -f "${STATE}/sample.yaml"

echo "dev: building the operator" >&2
go build -o bin/manager ./cmd/manager

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo "dev: stopping" >&2
  for pid in "${pids[@]}"; do kill "${pid}" 2>/dev/null || true; done
  pkill -TERM -P $$ 2>/dev/null || true   # the tails and prefixes
  wait 2>/dev/null || true
  rm -f "${STATE}/pids/operator.pid"
  if [[ "${DEV_KEEP:-0}" != 1 ]]; then hack/local-down.sh; fi
}
trap cleanup INT TERM EXIT

# prefix NAME: every line of stdin as "[NAME] line".
prefix() { sed -u "s/^/[$1] /"; }

# The background parts' logs, from now on, one prefix each.
for f in control-plane kinesis moto dynamodb dataplane; do
  [[ -f "${STATE}/logs/${f}.log" ]] || continue
  tail -n0 -F "${STATE}/logs/${f}.log" 2>/dev/null | prefix "${f}" &
  pids+=($!)
done

cat >&2 <<MSG
dev: the operator is starting; Ctrl-C stops everything.
  producer      ${LOCAL_PRODUCER_URL:-?}   (the local ALB)
  consumer out  ${LOCAL_CONSUMER_OUTPUT_DIR:-?}
  task logs     ${STATE}/tasks/<service>/<task>.log
  try           curl --location --request POST "\$LOCAL_PRODUCER_URL" --header 'Content-Type: application/json' --data-raw '{"data":"This is a load testing record"}'
MSG
# shellcheck disable=SC2086
bin/manager ${RUN_FLAGS} > >(prefix operator) 2>&1 &
echo $! >"${STATE}/pids/operator.pid"
pids+=($!)
wait "${pids[-1]}"
