#!/usr/bin/env bash
# Stops what hack/local-up.sh started, by PID: the control-plane runner (and,
# should it have died uncleanly, its etcd and kube-apiserver), then the AWS
# emulators. Leaves the caches (bin/, the control-plane build cache, npm and moto
# installs) and the logs. Harmless when nothing runs.
#
# Environment: LOCAL_STATE_DIR as for hack/local-up.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "${ROOT}"
STATE="${LOCAL_STATE_DIR:-${ROOT}/.local}"
if [[ ! -d "${STATE}" ]]; then
  echo "local-down: nothing to stop (no ${STATE})" >&2
  exit 0
fi
STATE="$(cd "${STATE}" && pwd)"
export LOCAL_STATE_DIR="${STATE}"
PIDS="${STATE}/pids"
CP_PID="${PIDS}/control-plane.pid"
CP_CHILDREN="${PIDS}/control-plane.children"

# One local-up or local-down at a time per state directory.
exec 9>"${STATE}/.lock"
if command -v flock >/dev/null 2>&1 && ! flock -n 9; then
  echo "$(basename "$0" .sh): waiting for another local-up/local-down on ${STATE}" >&2
  flock 9
fi

log() { echo "local-down: $*" >&2; }

cmdline() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true; }

# stop_pid PID SECONDS: SIGTERM, wait up to SECONDS, then SIGKILL.
stop_pid() {
  local pid="$1" wait="$2"
  kill "${pid}" 2>/dev/null || return 0
  for _ in $(seq 1 $((wait * 10))); do kill -0 "${pid}" 2>/dev/null || return 0; sleep 0.1; done
  log "pid ${pid} still running after ${wait} s; sending SIGKILL"
  kill -9 "${pid}" 2>/dev/null || true
  for _ in $(seq 1 20); do kill -0 "${pid}" 2>/dev/null || return 0; sleep 0.1; done
}

# 1. Control-plane runner. It stops etcd and kube-apiserver itself on SIGTERM
# (each gets up to 30 s), so it gets a generous grace period.
children=""
if [[ -f "${CP_PID}" ]]; then
  pid="$(cat "${CP_PID}")"
  if kill -0 "${pid}" 2>/dev/null && cmdline "${pid}" | grep -q "devstack control-plane"; then
    children="$(pgrep -P "${pid}" || true)"
    log "stopping control plane (pid ${pid})"
    stop_pid "${pid}" 70
    log "stopped control plane"
  else
    log "control plane not running (stale pid file)"
  fi
  rm -f "${CP_PID}"
fi
# etcd and kube-apiserver run in their own process groups: if the runner did not
# stop them (SIGKILLed, crashed), stop them by PID, checking each is still one.
if [[ -f "${CP_CHILDREN}" ]]; then
  children="${children} $(cat "${CP_CHILDREN}")"
fi
# kube-apiserver first: with its etcd gone it hangs in graceful shutdown.
for bin in kube-apiserver etcd; do
  for pid in ${children}; do
    if kill -0 "${pid}" 2>/dev/null && cmdline "${pid}" | grep -qE "(^|/)${bin} "; then
      log "stopping leftover ${bin} (pid ${pid})"
      stop_pid "${pid}" 15
    fi
  done
done
rm -f "${CP_CHILDREN}"

# The data plane: it stops every task as ECS does (SIGTERM, SIGKILL after the
# task's stop timeout, 30 s by default), so it gets a longer grace period.
if [[ -f "${PIDS}/dataplane.pid" ]]; then
  pid="$(cat "${PIDS}/dataplane.pid")"
  if kill -0 "${pid}" 2>/dev/null && cmdline "${pid}" | grep -q "devstack dataplane"; then
    log "stopping the data plane and its tasks (pid ${pid})"
    stop_pid "${pid}" 45
  fi
  rm -f "${PIDS}/dataplane.pid"
fi

# 2. Emulators, unless hack/emulators.sh keeps its state elsewhere (it does not
# honour LOCAL_STATE_DIR): stopping those could stop someone else's emulators.
emu_env="$("${ROOT}/hack/emulators.sh" env)"
case "${emu_env}" in
  "${STATE}"/*) "${ROOT}/hack/emulators.sh" down ;;
  *) log "WARNING: hack/emulators.sh keeps its state in $(dirname "${emu_env}"), not ${STATE}; not stopping those emulators" ;;
esac

# 3. Files that point at the servers just stopped.
rm -f "${STATE}/kubeconfig" "${STATE}/env" "${STATE}/account.env" "${STATE}/sample.yaml" "${STATE}/dataplane.env"
log "done; caches kept, logs in ${STATE}/logs"
