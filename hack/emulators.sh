#!/usr/bin/env bash
# Starts, stops and describes the AWS emulators used by the local stack and the
# integration tests, all on 127.0.0.1 and stopped by PID:
#   kinesis-local 0.6.2 (Kinesis; enforces UpdateShardCount's rules)
#   moto server 5.2.1   (ECS, EC2, ELBv2, IAM, CloudWatch)
#   dynalite 4.0.0      (DynamoDB; run by hack/emulators/dynalite.js, which keeps
#                        a request abandoned mid-body from ending the process)
#
#   hack/emulators.sh up     start what is not running yet (idempotent), write .local/emulators.env;
#                            fails at once if a port is already served by something it did not start
#   hack/emulators.sh down   stop what `up` started
#   hack/emulators.sh check  fail, with the end of its log, for each emulator `up` started that has died
#   hack/emulators.sh env    print the environment file's path
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE="${LOCAL_STATE_DIR:-${ROOT}/.local}"
PIDS="${STATE}/pids"
LOGS="${STATE}/logs"
ENV_FILE="${STATE}/emulators.env"
NPM_DIR="${ROOT}/hack/emulators"
MOTO_VERSION="5.2.1"

KINESIS_PORT="${KINESIS_PORT:-4568}"
KINESIS_TLS_PORT="${KINESIS_TLS_PORT:-4567}"
MOTO_PORT="${MOTO_PORT:-5005}"
DYNAMODB_PORT="${DYNAMODB_PORT:-4569}"
# UpdateShardCount keeps a stream UPDATING this long; long enough that the
# operator's "never while UPDATING" rule is exercised, short enough for tests.
UPDATE_SHARD_COUNT_DURATION="${UPDATE_SHARD_COUNT_DURATION:-2s}"
# MergeShards keeps a stream UPDATING this long (kinesis-local's own setting,
# default 500ms); as long as UpdateShardCount's so that "one merge per pass
# while ACTIVE" is exercised the same way.
MERGE_SHARDS_DURATION="${MERGE_SHARDS_DURATION:-2s}"

log() { echo "emulators: $*" >&2; }

# Alive and not a zombie (a process that died but whose parent has not reaped it).
running() {
  [[ -f "${PIDS}/$1.pid" ]] || return 1
  local pid; pid="$(cat "${PIDS}/$1.pid")"
  kill -0 "${pid}" 2>/dev/null && [[ "$(sed 's/.*) //' "/proc/${pid}/stat" 2>/dev/null | cut -c1)" != Z ]]
}

wait_http() { # name url
  for _ in $(seq 1 150); do
    if curl -s -o /dev/null "$2"; then return 0; fi
    sleep 0.2
  done
  log "$1 did not start; see ${LOGS}/$1.log"; tail -20 "${LOGS}/$1.log" >&2; return 1
}

ensure_npm() {
  if [[ ! -x "${NPM_DIR}/node_modules/.bin/kinesis-local" || ! -x "${NPM_DIR}/node_modules/.bin/dynalite" ]]; then
    log "installing kinesis-local and dynalite (npm ci)"
    (cd "${NPM_DIR}" && npm ci --no-audit --no-fund --loglevel=error >&2)
  fi
}

moto_bin() {
  if command -v moto_server >/dev/null 2>&1; then command -v moto_server; return; fi
  local venv="${STATE}/venv"
  if [[ ! -x "${venv}/bin/moto_server" ]]; then
    log "moto_server not found; installing moto[server]==${MOTO_VERSION} into ${venv}"
    python3 -m venv "${venv}" >&2
    "${venv}/bin/pip" install --quiet "moto[server]==${MOTO_VERSION}" >&2
  fi
  echo "${venv}/bin/moto_server"
}

start() { # name cmd...
  local name="$1"; shift
  if running "${name}"; then return 0; fi
  log "starting ${name}"
  nohup "$@" >"${LOGS}/${name}.log" 2>&1 &
  echo $! >"${PIDS}/${name}.pid"
}

# ports_free fails, before anything starts, when a port an emulator is to
# take already answers and that emulator is not one this checkout started:
# another clone's emulators or a stale run would answer our health checks
# while ours exited on "address in use", and the tests would run against
# them until they went away.
ports_free() {
  local name port busy=0
  for name in kinesis:${KINESIS_PORT} moto:${MOTO_PORT} dynamodb:${DYNAMODB_PORT}; do
    port="${name#*:}"; name="${name%%:*}"
    if ! running "${name}" && curl -s -o /dev/null --max-time 2 "http://127.0.0.1:${port}/"; then
      log "port ${port} (${name}) already answers, but not an emulator this checkout started (${PIDS}/${name}.pid)"
      busy=1
    fi
  done
  if [[ ${busy} == 1 ]]; then
    log "stop that process, or choose other ports: KINESIS_PORT, KINESIS_TLS_PORT, MOTO_PORT, DYNAMODB_PORT"
    return 1
  fi
}

up() {
  mkdir -p "${PIDS}" "${LOGS}"
  ports_free
  ensure_npm
  local moto; moto="$(moto_bin)"
  (
    # kinesis-local reads its TLS certificate (server.json) from the working directory.
    cd "${NPM_DIR}/node_modules/kinesis-local"
    export KINESIS_MOCK_PLAIN_PORT="${KINESIS_PORT}" KINESIS_MOCK_TLS_PORT="${KINESIS_TLS_PORT}" \
      SHARD_LIMIT=10000 UPDATE_SHARD_COUNT_DURATION MERGE_SHARDS_DURATION CREATE_STREAM_DURATION=500ms \
      DELETE_STREAM_DURATION=500ms LOG_LEVEL=WARN AWS_REGION=us-east-1
    start kinesis node "${NPM_DIR}/node_modules/kinesis-local/main.js"
  )
  start moto "${moto}" -H 127.0.0.1 -p "${MOTO_PORT}"
  start dynamodb node "${NPM_DIR}/dynalite.js" --host 127.0.0.1 --port "${DYNAMODB_PORT}"
  wait_http kinesis "http://127.0.0.1:${KINESIS_PORT}/"
  wait_http moto "http://127.0.0.1:${MOTO_PORT}/moto-api/"
  wait_http dynamodb "http://127.0.0.1:${DYNAMODB_PORT}/"
  local moto_url="http://127.0.0.1:${MOTO_PORT}"
  cat >"${ENV_FILE}" <<ENV
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_EC2_METADATA_DISABLED=true
export AWS_ENDPOINT_URL_KINESIS=http://127.0.0.1:${KINESIS_PORT}
export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:${DYNAMODB_PORT}
export AWS_ENDPOINT_URL_ECS=${moto_url}
export AWS_ENDPOINT_URL_EC2=${moto_url}
export AWS_ENDPOINT_URL_CLOUDWATCH=${moto_url}
export AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2=${moto_url}
export AWS_ENDPOINT_URL_IAM=${moto_url}
export AWS_ENDPOINT_URL_STS=${moto_url}
export AWS_ENDPOINT_URL_CLOUDFORMATION=${moto_url}
export AWS_ENDPOINT_URL_LOGS=${moto_url}
export AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=${moto_url}
export AWS_ENDPOINT_URL_SECRETS_MANAGER=${moto_url}
export AWS_ENDPOINT_URL_SSM=${moto_url}
ENV
  log "ready; environment in ${ENV_FILE}"
}

down() {
  for name in kinesis moto dynamodb; do
    if running "${name}"; then
      local pid; pid="$(cat "${PIDS}/${name}.pid")"
      kill "${pid}" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "${pid}" 2>/dev/null || break; sleep 0.1; done
      kill -9 "${pid}" 2>/dev/null || true
      log "stopped ${name}"
    fi
    rm -f "${PIDS}/${name}.pid"
  done
}

check() {
  local dead=0
  for name in kinesis moto dynamodb; do
    if [[ -f "${PIDS}/${name}.pid" ]] && ! running "${name}"; then
      log "${name} died while in use; the end of ${LOGS}/${name}.log:"
      tail -20 "${LOGS}/${name}.log" >&2
      dead=1
    fi
  done
  return "${dead}"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  check) check ;;
  env) echo "${ENV_FILE}" ;;
  *) echo "usage: $0 up|down|check|env" >&2; exit 2 ;;
esac
