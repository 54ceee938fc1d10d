#!/usr/bin/env bash
# Runs a command with the AWS emulators up and their endpoints in the
# environment; stops the emulators afterwards if it was the one to start them.
#   hack/with-emulators.sh go run ./hack/bench/producer
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE="${LOCAL_STATE_DIR:-${ROOT}/.local}"
already=0
[[ -f "${STATE}/pids/kinesis.pid" ]] && kill -0 "$(cat "${STATE}/pids/kinesis.pid")" 2>/dev/null && already=1
"${ROOT}/hack/emulators.sh" up
[[ ${already} == 1 ]] || trap '"${ROOT}/hack/emulators.sh" down' EXIT
# shellcheck disable=SC1091
source "$("${ROOT}/hack/emulators.sh" env)"
"$@"
