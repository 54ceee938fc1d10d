#!/usr/bin/env bash
# Starts the local stack, all real parts on 127.0.0.1, and writes what a shell
# needs to use it. Idempotent: what already runs is kept, so running it twice is
# harmless.
#
#   1. kube-apiserver + etcd binaries (hack/control-plane.sh; built once, cached)
#   2. AWS emulators (hack/emulators.sh up): kinesis-local, moto, dynalite
#   3. the control plane (bin/devstack control-plane) in the background,
#      admin kubeconfig in $STATE/kubeconfig
#   4. the CRDs from config/crd/bases, if generated, applied and Established
#   5. the emulated account (VPC, subnets, SG, ECS cluster, IAM roles, ALB)
#   6. the local data plane (bin/devstack dataplane) in the background: the
#      metered Kinesis (127.0.0.1:4570), local Fargate's ECS endpoint
#      (127.0.0.1:5006) running each service's tasks as processes of
#      $STATE/bin/{producer,consumer}, and the local ALB (127.0.0.1:8080)
#   7. $STATE/env (to `source`), $STATE/sample.yaml (a ready StreamProcessor) and
#      $STATE/sample-multilang.yaml (config/samples' MultiLang sample pointed at the
#      local account; its processor image stands in $STATE/images when the
#      compatibility fixtures are found — docs/multilang.md)
#
# Environment:
#   LOCAL_STATE_DIR   state directory (default: <repo>/.local); PIDs, logs, env files
#   LOCAL_ACCOUNT     name of the emulated account / ECS cluster (default: local)
#   KINESIS_PORT, KINESIS_TLS_PORT, MOTO_PORT, DYNAMODB_PORT   passed to hack/emulators.sh
#   DATAPLANE_FLAGS   extra flags of `devstack dataplane` (e.g. --task-start-delay=60s --metric-delay=2m)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "${ROOT}"
STATE="${LOCAL_STATE_DIR:-${ROOT}/.local}"
mkdir -p "${STATE}"
STATE="$(cd "${STATE}" && pwd)"
export LOCAL_STATE_DIR="${STATE}"
PIDS="${STATE}/pids"
LOGS="${STATE}/logs"
KUBECONFIG_FILE="${STATE}/kubeconfig"
CP_PID="${PIDS}/control-plane.pid"
CP_CHILDREN="${PIDS}/control-plane.children"
CP_LOG="${LOGS}/control-plane.log"
ACCOUNT="${LOCAL_ACCOUNT:-local}"
CRD_DIR="${ROOT}/config/crd/bases"
MULTILANG_SAMPLE="config/samples/streaming_v1alpha1_streamprocessor_multilang.yaml"
BIN="${ROOT}/bin/devstack"
KUBECTL="${KUBECTL:-kubectl}"
START_SECONDS="${SECONDS}"

log() { echo "local-up: [+$((SECONDS - START_SECONDS))s] $*" >&2; }
rel() { case "$1" in "${ROOT}"/*) echo "${1#"${ROOT}"/}" ;; *) echo "$1" ;; esac; }
die() { log "ERROR: $*"; exit 1; }

mkdir -p "${PIDS}" "${LOGS}"

# One local-up or local-down at a time per state directory. Servers started
# below get `9>&-` so they do not inherit, and hold, the lock.
exec 9>"${STATE}/.lock"
if command -v flock >/dev/null 2>&1 && ! flock -n 9; then
  echo "$(basename "$0" .sh): waiting for another local-up/local-down on ${STATE}" >&2
  flock 9
fi

# is_runner PID: the process is alive and is our control-plane runner (not a
# reused PID).
is_runner() {
  kill -0 "$1" 2>/dev/null && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q "devstack control-plane"
}

api_ready() {
  [[ -s "${KUBECONFIG_FILE}" ]] && "${KUBECTL}" --kubeconfig "${KUBECONFIG_FILE}" --request-timeout=5s get --raw /readyz >/dev/null 2>&1
}

# stop_orphans kills etcd/kube-apiserver left behind by a runner that died
# without cleaning up; it checks each recorded PID's command line first.
stop_orphans() {
  [[ -f "${CP_CHILDREN}" ]] || return 0
  local bin pid
  # kube-apiserver first: with its etcd gone it hangs in graceful shutdown.
  for bin in kube-apiserver etcd; do
    for pid in $(cat "${CP_CHILDREN}"); do
      if kill -0 "${pid}" 2>/dev/null && tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null | grep -qE "(^|/)${bin} "; then
        log "stopping leftover ${bin} (pid ${pid})"
        kill "${pid}" 2>/dev/null || true
        for _ in $(seq 1 150); do kill -0 "${pid}" 2>/dev/null || break; sleep 0.1; done
        kill -9 "${pid}" 2>/dev/null || true
      fi
    done
  done
  rm -f "${CP_CHILDREN}"
}

# 1. Control-plane binaries.
log "control-plane binaries (hack/control-plane.sh; ~6 min the first time, then cached)"
ASSETS="$("${ROOT}/hack/control-plane.sh")"
[[ -x "${ASSETS}/kube-apiserver" && -x "${ASSETS}/etcd" ]] || die "hack/control-plane.sh printed ${ASSETS}, which lacks kube-apiserver or etcd"

# 2. Emulators.
log "AWS emulators (hack/emulators.sh up)"
"${ROOT}/hack/emulators.sh" up 9>&-
EMU_ENV="$("${ROOT}/hack/emulators.sh" env)"
[[ -f "${EMU_ENV}" ]] || die "hack/emulators.sh up wrote no ${EMU_ENV}"
case "${EMU_ENV}" in
  "${STATE}"/*) ;;
  *) log "WARNING: hack/emulators.sh keeps its state in $(dirname "${EMU_ENV}"), not ${STATE} (it does not honour LOCAL_STATE_DIR); hack/local-down.sh will not stop those emulators" ;;
esac

# 3. Go helper: go build skips relinking when the binary is current.
log "building ${BIN#"${ROOT}"/}"
go build -o "${BIN}" ./hack/devstack

# 4. Control plane.
if [[ -f "${CP_PID}" ]] && is_runner "$(cat "${CP_PID}")"; then
  pid="$(cat "${CP_PID}")"
  for _ in $(seq 1 60); do api_ready && break; is_runner "${pid}" || break; sleep 1; done
  if api_ready; then
    log "control plane already running (pid ${pid})"
  else
    log "control plane pid ${pid} runs but does not answer; restarting it"
    kill "${pid}" 2>/dev/null || true
    for _ in $(seq 1 400); do kill -0 "${pid}" 2>/dev/null || break; sleep 0.1; done
    kill -9 "${pid}" 2>/dev/null || true
    rm -f "${CP_PID}"
  fi
fi
if ! { [[ -f "${CP_PID}" ]] && is_runner "$(cat "${CP_PID}")"; }; then
  stop_orphans
  rm -f "${CP_PID}" "${KUBECONFIG_FILE}"
  log "starting control plane (kube-apiserver + etcd from ${ASSETS#"${ROOT}"/}); log in ${CP_LOG}"
  nohup "${BIN}" control-plane \
    --assets "${ASSETS}" \
    --crds "${CRD_DIR}" \
    --kubeconfig "${KUBECONFIG_FILE}" \
    --child-pids "${CP_CHILDREN}" \
    --log-dir "${LOGS}" \
    >"${CP_LOG}" 2>&1 </dev/null 9>&- &
  echo $! >"${CP_PID}"
  pid="$(cat "${CP_PID}")"
  for _ in $(seq 1 180); do
    api_ready && break
    if ! kill -0 "${pid}" 2>/dev/null; then
      tail -20 "${CP_LOG}" >&2
      rm -f "${CP_PID}"
      die "control plane exited during start-up; see ${CP_LOG} and ${LOGS}/kube-apiserver.log"
    fi
    sleep 1
  done
  api_ready || { tail -20 "${CP_LOG}" >&2; die "control plane (pid ${pid}) not ready after 180 s; see ${CP_LOG}"; }
  log "control plane ready (pid ${pid})"
fi
kc() { "${KUBECTL}" --kubeconfig "${KUBECONFIG_FILE}" "$@"; }

# 5. CRDs. Applied here even though the runner installs them at start, so a
# regenerated CRD reaches a control plane that was already running.
shopt -s nullglob
crds=("${CRD_DIR}"/*.yaml)
shopt -u nullglob
crd_error=""
if ((${#crds[@]} > 0)); then
  log "applying ${#crds[@]} CRD(s) from ${CRD_DIR#"${ROOT}"/}"
  if ! kc apply --server-side --force-conflicts -f "${CRD_DIR}" >&2; then
    crd_error="the API server rejected the CRDs in ${CRD_DIR#"${ROOT}"/} (message above)"
  elif ! kc wait --for condition=Established --timeout=60s -f "${CRD_DIR}" >&2; then
    crd_error="the CRDs in ${CRD_DIR#"${ROOT}"/} did not become Established within 60 s"
  fi
  # Carry on: the rest of the stack is useful while the CRDs get fixed.
  [[ -z "${crd_error}" ]] || log "ERROR: ${crd_error}; continuing, will exit non-zero"
else
  log "WARNING: no CRDs in ${CRD_DIR#"${ROOT}"/} yet (run \`make manifests\`, then this script again)"
fi

# 6. Emulated account, env file and sample.
log "preparing emulated account ${ACCOUNT}"
(
  # shellcheck disable=SC1090
  source "${EMU_ENV}"
  "${BIN}" prepare-account --name "${ACCOUNT}" \
    --env-out "${STATE}/account.env" --sample-out "${STATE}/sample.yaml" \
    --localize "${MULTILANG_SAMPLE}=${STATE}/sample-multilang.yaml"
)
# The MultiLang sample's consumer image, as local Fargate runs it: a directory
# standing in for the image (internal/devstack/localimage), made from the
# compatibility fixtures; without them that sample cannot run here (the other can).
log "local image of the MultiLang sample's processor (devstack seed-image)"
if seed_out="$("${BIN}" seed-image --images-dir "${STATE}/images" --sample "${MULTILANG_SAMPLE}" 2>&1)"; then
  multilang_note="$(rel "${STATE}/sample-multilang.yaml") (the seed's Python processor; its log: $(rel "$(grep -oE '"processorLog"="[^"]+"' <<<"${seed_out}" | cut -d'"' -f4)"))"
else
  multilang_note="$(rel "${STATE}/sample-multilang.yaml") cannot run here: ${seed_out##*devstack: }"
  log "WARNING: ${multilang_note}"
fi
# 7. Data plane: restarted when already running, so that a rebuilt workload
# binary or devstack takes effect (running tasks are stopped as ECS stops them).
DP_PID="${PIDS}/dataplane.pid"
DP_LOG="${LOGS}/dataplane.log"
is_dataplane() {
  kill -0 "$1" 2>/dev/null && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q "devstack dataplane"
}
if [[ -f "${DP_PID}" ]] && is_dataplane "$(cat "${DP_PID}")"; then
  pid="$(cat "${DP_PID}")"
  log "stopping the running data plane (pid ${pid}) to start the current build"
  kill "${pid}" 2>/dev/null || true
  for _ in $(seq 1 450); do kill -0 "${pid}" 2>/dev/null || break; sleep 0.1; done
  kill -9 "${pid}" 2>/dev/null || true
fi
rm -f "${DP_PID}" "${STATE}/dataplane.env"
log "building the workloads into $(basename "${STATE}")/bin (producer, consumer)"
mkdir -p "${STATE}/bin"
go build -o "${STATE}/bin/" ./cmd/producer ./cmd/consumer
log "starting the data plane (metered Kinesis, local Fargate, local ALB); log in ${DP_LOG}"
(
  # shellcheck disable=SC1090
  source "${EMU_ENV}"
  # shellcheck disable=SC2086
  nohup "${BIN}" dataplane --cluster "${ACCOUNT}" --state-dir "${STATE}" \
    --producer-bin "${STATE}/bin/producer" --consumer-bin "${STATE}/bin/consumer" \
    --env-out "${STATE}/dataplane.env" ${DATAPLANE_FLAGS:-} \
    >"${DP_LOG}" 2>&1 </dev/null 9>&- &
  echo $! >"${DP_PID}"
)
for _ in $(seq 1 100); do
  [[ -s "${STATE}/dataplane.env" ]] && break
  if ! kill -0 "$(cat "${DP_PID}")" 2>/dev/null; then
    tail -20 "${DP_LOG}" >&2
    die "the data plane exited during start-up; see ${DP_LOG}"
  fi
  sleep 0.2
done
[[ -s "${STATE}/dataplane.env" ]] || die "the data plane wrote no ${STATE}/dataplane.env within 20 s; see ${DP_LOG}"

tmp="$(mktemp "${STATE}/.env.XXXXXX")"
{
  echo "# Written by hack/local-up.sh; source it to use the local stack."
  echo "# Kinesis and ECS go through the local data plane (metered Kinesis, local Fargate)."
  cat "${EMU_ENV}"
  cat "${STATE}/dataplane.env"
  echo "export KUBECONFIG=${KUBECONFIG_FILE}"
  cat "${STATE}/account.env"
} >"${tmp}"
mv "${tmp}" "${STATE}/env"

cat >&2 <<EOF
local-up: ready in $((SECONDS - START_SECONDS)) s
  API server  $(kc config view --minify -o jsonpath='{.clusters[0].cluster.server}')   (kubeconfig $(rel "${KUBECONFIG_FILE}"))
  endpoints   $(grep -oE 'AWS_ENDPOINT_URL_(KINESIS|ECS|DYNAMODB)=[^ ]+' "${STATE}/dataplane.env" "${EMU_ENV}" | sed 's/^[^:]*://' | sort -u -t= -k1,1 | tr '\n' ' ')
  producer    $(grep -oE "LOCAL_PRODUCER_URL='?[^ ']+" "${STATE}/dataplane.env" | sed "s/.*=//; s/'//g")   (the local ALB; tasks start once the operator creates the services)
  task logs   $(rel "${STATE}")/tasks/<service>/<task>.log; consumer output $(rel "${STATE}")/consumer-output/
  account     cluster ${ACCOUNT}, sample $(rel "${STATE}/sample.yaml")
  multilang   ${multilang_note}
what next:
  source $(rel "${STATE}/env")
  kubectl apply -f $(rel "${STATE}/sample.yaml") && kubectl get sp
  make run                 # the manager on this host, against \$KUBECONFIG (or: make dev, all of it)
  hack/local-down.sh       # stop it all (caches stay)
EOF
if [[ -n "${crd_error}" ]]; then
  die "${crd_error}: fix the API types' markers, run \`make manifests\`, then run hack/local-up.sh again (what runs stays up)"
fi
