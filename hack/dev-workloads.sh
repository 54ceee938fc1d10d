#!/usr/bin/env bash
# Runs a StreamProcessor's producer and consumer on this host, for the local
# stack (`make dev`, or hack/local-up.sh + the manager): moto, the ECS emulator,
# starts no containers, so nothing would serve HTTP or read the stream.
#
#   hack/dev-workloads.sh [start] [NAME] [NAMESPACE]   # default: clickstream default (the sample)
#   hack/dev-workloads.sh stop
#
# start reads each service's current task definition from the ECS emulator
# (hack/devworkloads) and starts the binary with exactly that container
# environment, plus the AWS credential and endpoint variables of this shell:
#   producer  on port 8080 (the task definition's PORT; PRODUCER_PORT overrides)
#   consumer  one task, JSON lines appended to .local/consumer.out (CONSUMER_OUTPUT;
#             "-" for its log), health and metrics on 127.0.0.1:8081 (CONSUMER_HTTP_ADDR)
# Logs go to .local/logs/dev-{producer,consumer}.log, PIDs to .local/pids/.
# start first stops what a previous start left running, so running it again
# picks up a changed task definition. The operator must be running (it writes
# the service ARNs into the StreamProcessor's status).
#
# Needs: go, kubectl, curl, and the local stack's environment — .local/env is
# sourced when AWS_ENDPOINT_URL_ECS or KUBECONFIG is unset.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "${ROOT}"
STATE="${LOCAL_STATE_DIR:-${ROOT}/.local}"
PIDS="${STATE}/pids"
LOGS="${STATE}/logs"
BIN="${STATE}/bin"
WORKLOADS=(producer consumer)

log() { echo "dev-workloads: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# is_ours PID WORKLOAD: the process runs our binary of that workload (not a
# reused PID). A rebuild replaces the file, so the running one may show as
# "<path> (deleted)".
is_ours() {
  local exe
  kill -0 "$1" 2>/dev/null || return 1
  exe="$(readlink "/proc/$1/exe" 2>/dev/null || true)"
  [[ "${exe}" == "${BIN}/$2" || "${exe}" == "${BIN}/$2 (deleted)" ]]
}

# stop_workload WORKLOAD: SIGTERM as ECS does, SIGKILL after its 30 s stop timeout.
stop_workload() {
  local w="$1" pidfile="${PIDS}/dev-$1.pid" pid
  [[ -f "${pidfile}" ]] || return 0
  pid="$(cat "${pidfile}")"
  if is_ours "${pid}" "${w}"; then
    log "stopping ${w} (pid ${pid})"
    kill -TERM "${pid}" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "${pid}" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "${pid}" 2>/dev/null; then
      log "${w} (pid ${pid}) still running 30 s after SIGTERM; sending SIGKILL"
      kill -KILL "${pid}" 2>/dev/null || true
    fi
  else
    log "${w} not running (stale pid file)"
  fi
  rm -f "${pidfile}"
}

stop_all() {
  local w
  for w in "${WORKLOADS[@]}"; do stop_workload "${w}"; done
}

# sp_field JSONPATH: a field of the StreamProcessor, "" when unset.
sp_field() {
  kubectl get streamprocessor "${NAME}" -n "${NAMESPACE}" -o "jsonpath=$1"
}

# start_workload WORKLOAD SERVICE_ARN KEY=VALUE...: start the binary with the
# task definition's environment and the given overrides.
start_workload() {
  local w="$1" service="$2" out
  shift 2
  local sets=()
  for kv in "$@"; do sets+=(-set "${kv}"); done
  out="$("${BIN}/devworkloads" -cluster "${CLUSTER}" -service "${service}" "${sets[@]}")" \
    || die "cannot read the task definition of ${service}"
  local env_vars=()
  mapfile -t env_vars <<<"${out}"
  nohup env -i "${env_vars[@]}" "${BIN}/${w}" >"${LOGS}/dev-${w}.log" 2>&1 </dev/null &
  echo $! >"${PIDS}/dev-${w}.pid"
  log "started ${w} (pid $!), log ${LOGS#"${ROOT}"/}/dev-${w}.log"
}

# wait_ready WORKLOAD URL: until GET URL/readyz answers 200 (30 s).
wait_ready() {
  local w="$1" url="$2" pid
  pid="$(cat "${PIDS}/dev-${w}.pid")"
  for _ in $(seq 1 150); do
    curl -fsS -o /dev/null --max-time 2 "${url}/readyz" 2>/dev/null && return 0
    if ! kill -0 "${pid}" 2>/dev/null; then
      tail -20 "${LOGS}/dev-${w}.log" >&2
      rm -f "${PIDS}/dev-${w}.pid"
      die "${w} exited during start-up; see ${LOGS}/dev-${w}.log"
    fi
    sleep 0.2
  done
  tail -20 "${LOGS}/dev-${w}.log" >&2
  die "${w} not ready at ${url}/readyz after 30 s; see ${LOGS}/dev-${w}.log"
}

cmd="start"
case "${1:-}" in
  start | stop) cmd="$1"; shift ;;
  -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
mkdir -p "${PIDS}" "${LOGS}" "${BIN}"
if [[ "${cmd}" == "stop" ]]; then
  stop_all
  exit 0
fi

NAME="${1:-clickstream}"
NAMESPACE="${2:-default}"
if [[ -z "${AWS_ENDPOINT_URL_ECS:-}" || -z "${KUBECONFIG:-}" ]]; then
  [[ -f "${STATE}/env" ]] || die "no local stack environment: run hack/local-up.sh (or make dev) first"
  # shellcheck disable=SC1091
  source "${STATE}/env"
fi
PRODUCER_PORT="${PRODUCER_PORT:-8080}"
CONSUMER_OUTPUT="${CONSUMER_OUTPUT:-${STATE}/consumer.out}"
CONSUMER_HTTP_ADDR="${CONSUMER_HTTP_ADDR:-127.0.0.1:8081}"

log "building producer, consumer and devworkloads into ${BIN#"${ROOT}"/}"
go build -o "${BIN}/" ./cmd/producer ./cmd/consumer ./hack/devworkloads

log "waiting for the operator to report the services of ${NAMESPACE}/${NAME}"
kubectl get streamprocessor "${NAME}" -n "${NAMESPACE}" >/dev/null \
  || die "no StreamProcessor ${NAMESPACE}/${NAME}: kubectl apply -f .local/sample.yaml"
for _ in $(seq 1 60); do
  PRODUCER_SERVICE="$(sp_field '{.status.producer.serviceArn}')"
  CONSUMER_SERVICE="$(sp_field '{.status.consumer.serviceArn}')"
  [[ -n "${PRODUCER_SERVICE}" && -n "${CONSUMER_SERVICE}" ]] && break
  sleep 1
done
[[ -n "${PRODUCER_SERVICE}" && -n "${CONSUMER_SERVICE}" ]] \
  || die "${NAMESPACE}/${NAME} has no service ARNs in its status after 60 s: is the manager running (make run)?"
CLUSTER="$(sp_field '{.spec.ecs.cluster}')"

stop_all
start_workload producer "${PRODUCER_SERVICE}" "PORT=${PRODUCER_PORT}"
start_workload consumer "${CONSUMER_SERVICE}" "OUTPUT=${CONSUMER_OUTPUT}" "HTTP_ADDR=${CONSUMER_HTTP_ADDR}"
wait_ready producer "http://127.0.0.1:${PRODUCER_PORT}"
wait_ready consumer "http://${CONSUMER_HTTP_ADDR}"

cat >&2 <<EOF
dev-workloads: ready
  producer  http://127.0.0.1:${PRODUCER_PORT}   (log ${LOGS#"${ROOT}"/}/dev-producer.log)
  consumer  JSON lines in ${CONSUMER_OUTPUT#"${ROOT}"/}   (log ${LOGS#"${ROOT}"/}/dev-consumer.log)
try:
  curl --location --request POST 'http://127.0.0.1:${PRODUCER_PORT}' --header 'Content-Type: application/json' --data-raw '{"data":"This is a load testing record"}'
  tail -f ${CONSUMER_OUTPUT#"${ROOT}"/}
  hack/dev-workloads.sh stop
EOF
