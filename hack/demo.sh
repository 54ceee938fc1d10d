#!/usr/bin/env bash
# `make demo`: the sample StreamProcessor scaling itself on the local stack.
# Uses what `make dev` runs when it runs; otherwise starts the stack
# (hack/local-up.sh) and the operator in the background, and stops what it
# started at the end. Then hack/demo drives the load and prints the timeline;
# it ends by itself within 15 minutes (DEMO_FLAGS, e.g. "-mibps 4 -deadline 10m").
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "${ROOT}"
STATE="${LOCAL_STATE_DIR:-${ROOT}/.local}"
OPERATOR_PID="${STATE}/pids/operator.pid"
RUN_FLAGS="${RUN_FLAGS:---leader-elect=false --metrics-bind-address=127.0.0.1:8090 --metrics-secure=false --health-probe-bind-address=127.0.0.1:8091}"

operator_running() { [[ -f "${OPERATOR_PID}" ]] && kill -0 "$(cat "${OPERATOR_PID}")" 2>/dev/null; }

started_stack=0
if ! operator_running; then
  [[ -f "${STATE}/env" ]] || started_stack=1
  hack/local-up.sh
  # shellcheck disable=SC1091
  source "${STATE}/env"
  kubectl apply -f "${STATE}/sample.yaml"
  go build -o bin/manager ./cmd/manager
  # shellcheck disable=SC2086
  nohup bin/manager ${RUN_FLAGS} >"${STATE}/logs/operator.log" 2>&1 &
  echo $! >"${OPERATOR_PID}"
  echo "demo: started the operator (pid $(cat "${OPERATOR_PID}"), log ${STATE}/logs/operator.log)" >&2
  stop_operator() {
    kill "$(cat "${OPERATOR_PID}")" 2>/dev/null || true
    rm -f "${OPERATOR_PID}"
    if [[ ${started_stack} == 1 ]]; then hack/local-down.sh; fi
  }
  trap stop_operator EXIT
fi
# shellcheck disable=SC1091
source "${STATE}/env"
# shellcheck disable=SC2086
go run ./hack/demo ${DEMO_FLAGS:-}
