#!/usr/bin/env bash
# The one test command (`make test`, which .ci/run calls). On a fresh machine it
# installs and starts everything the tests need, runs every test, and stops
# what it started:
#   1. generated code and manifests are up to date (controller-gen, pinned)
#   2. gofmt and go vet
#   3. a real kube-apiserver + etcd for envtest (built once, then cached)
#   4. the AWS emulators (kinesis-local and dynalite from npm, moto server)
#   5. go test ./... with the emulators required (a missing one fails, never skips)
#   6. a short run of every fuzz target
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "${ROOT}"
FUZZTIME="${FUZZTIME:-5s}"
log() { printf '\n==> %s\n' "$*" >&2; }
started=$(date +%s)

log "checking generated files (make manifests generate)"
snapshot="$(mktemp -d)"
trap 'rm -rf "${snapshot}"' EXIT
generated=(config/crd/bases config/rbac/role.yaml api/v1alpha1/zz_generated.deepcopy.go)
for f in "${generated[@]}"; do mkdir -p "${snapshot}/$(dirname "$f")"; cp -r "$f" "${snapshot}/$f"; done
make --no-print-directory manifests generate >/dev/null
stale=0
for f in "${generated[@]}"; do
  if ! diff -r "${snapshot}/$f" "$f" >/dev/null; then
    echo "STALE: $f did not match its markers; it has been regenerated — review and commit it" >&2
    stale=1
  fi
done
[[ ${stale} == 0 ]] || exit 1

log "gofmt and go vet"
unformatted="$(gofmt -l $(git ls-files '*.go'))"
if [[ -n "${unformatted}" ]]; then
  echo "NOT GOFMT'D (run gofmt -w on them and commit):" >&2
  echo "${unformatted}" >&2
  exit 1
fi
go vet ./...

log "control plane for envtest"
KUBEBUILDER_ASSETS="$(hack/control-plane.sh)"
export KUBEBUILDER_ASSETS

log "AWS emulators"
pids="${ROOT}/.local/pids"
already=0
[[ -f "${pids}/kinesis.pid" ]] && kill -0 "$(cat "${pids}/kinesis.pid")" 2>/dev/null && already=1
hack/emulators.sh up
if [[ ${already} == 0 ]]; then
  trap 'rm -rf "${snapshot}"; hack/emulators.sh down' EXIT
fi
# shellcheck disable=SC1091
source .local/emulators.env
export SP_REQUIRE_EMULATORS=1

# The MultiLang compatibility tests need third-party fixtures kept outside the
# repository (docs/multilang.md#tests): say here, not only in -v output,
# whether they run.
log "MultiLang compatibility fixtures (seed-consumer, amazon_kclpy)"
if compat="$(go run ./hack/compatdir 2>/dev/null)"; then   # stderr: go run's "exit status 1"
  export SP_COMPAT_DIR="${compat}"
  echo "MultiLang fixtures: ${compat}" >&2
  compat_note=""
else
  compat_note="SKIPPED: 7 MultiLang compatibility tests (workloads/consumer: TestMultiLangSeedProcessorThroughReshards, TestMultiLangKCLPySampleTwoConsumersKillAndReshard, TestMultiLangAmazonKCLPySample, TestPropertiesFile; internal/devstack: TestSeedProcessorRunsOnLocalFargate, TestBuildSeedProcessor; test/multilang: TestSeedSampleOnTheLocalStack): ${compat}"
  echo "${compat_note}" >&2
fi

# The closed-loop test loads kinesis-local to its limit for minutes: it runs
# alone, after the rest, so that no other suite's deadlines meet that load.
log "go test ./... (all but the closed loop)"
go test -count=1 -timeout 30m $(go list ./... | grep -v '/test/closedloop$') 2>&1 | tee .local/test.log | grep -E '^(ok|FAIL|---|panic|\s+[a-z_]+_test\.go:)' || true
log "go test ./test/closedloop (load → metrics → operator → reshard and tasks → nothing lost → back down; 10–15 min)"
go test -count=1 -timeout 30m ./test/closedloop/ 2>&1 | tee -a .local/test.log | grep -E '^(ok|FAIL|---|panic|\s+[a-z_]+_test\.go:)' || true
if ! grep -q '^ok' .local/test.log || grep -qE '^(FAIL|panic)' .local/test.log; then
  # CI keeps only the end of this output: name each failed package with the
  # last lines it printed (a TestMain that fails prints no --- FAIL line).
  awk '/^(ok|FAIL|\?)[ \t]+[a-z]/ { if ($1 == "FAIL") { print "---- " $2 " failed; its last lines:"; n = (c < 25 ? c : 25); for (i = c - n; i < c; i++) print buf[i % 25] } c = 0; next }
       { buf[c % 25] = $0; c++ }' .local/test.log >&2
  # An emulator that died mid-run fails every test after it with "connection
  # refused": name it here, with the end of its log, before `down` tidies up.
  hack/emulators.sh check || true
  echo "go test failed; full output in .local/test.log" >&2
  exit 1
fi

log "fuzz targets (${FUZZTIME} each)"
while IFS= read -r line; do
  file="${line%%:*}"; name="${line##*func }"; name="${name%%(*}"
  pkg="./$(dirname "${file}")"
  echo "fuzz ${pkg} ${name}" >&2
  out=".local/fuzz-${name}.log"
  if ! go test -run='^$' -fuzz="^${name}\$" -fuzztime="${FUZZTIME}" "${pkg}" >"${out}" 2>&1; then
    tail -30 "${out}" >&2
    # A failing input found by the fuzzer is written under testdata/fuzz: a
    # real bug, reported as is. A failure without one is the fuzzing engine
    # (a worker hung or was killed on a loaded machine): shown above, tried once more.
    if git status --porcelain -- "${pkg}/testdata/fuzz" | grep -q .; then
      echo "fuzz ${name} found a failing input (see ${pkg}/testdata/fuzz); run: go test -run=${name} ${pkg}" >&2
      exit 1
    fi
    echo "fuzz ${name} failed without a failing input; running it once more" >&2
    go test -run='^$' -fuzz="^${name}\$" -fuzztime="${FUZZTIME}" "${pkg}" >"${out}" 2>&1 || { tail -30 "${out}" >&2; exit 1; }
  fi
done < <(grep -rn --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(' . | grep -v node_modules | sed 's|^\./||')

[[ -z "${compat_note}" ]] || echo "${compat_note}" >&2
log "all tests passed in $(( $(date +%s) - started ))s"
