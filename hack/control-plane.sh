#!/usr/bin/env bash
# Builds a real kube-apiserver and etcd from the Go module proxy (setup-envtest's
# downloads are unreachable here) and installs them into bin/k8s/<version>.
# Binaries are cached per version under the user's cache directory, so a fresh
# clone (what CI uses) copies them instead of rebuilding (5–6 minutes on 2 cores).
#
# Prints the directory holding the binaries, suitable for KUBEBUILDER_ASSETS.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.35.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="${ROOT}/bin/k8s/${K8S_VERSION}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/streamprocessor-operator/control-plane/k8s-${K8S_VERSION}-etcd-${ETCD_VERSION}"

log() { echo "control-plane: $*" >&2; }

have() { [[ -x "$1/kube-apiserver" && -x "$1/etcd" ]]; }

if have "${DEST}"; then echo "${DEST}"; exit 0; fi
if have "${CACHE}"; then
  mkdir -p "${DEST}"
  cp "${CACHE}/kube-apiserver" "${CACHE}/etcd" "${DEST}/"
  ln -sf /usr/bin/kubectl "${DEST}/kubectl" 2>/dev/null || true
  log "copied ${K8S_VERSION} binaries from ${CACHE}"
  echo "${DEST}"; exit 0
fi

WORK="$(mktemp -d)"
trap 'rm -rf "${WORK}"' EXIT
export GOFLAGS=-mod=mod

build_apiserver() {
  local dir="${WORK}/apiserver" minor="${K8S_VERSION#v1.}"
  mkdir -p "${dir}" && cd "${dir}"
  go mod init local/apiserver >/dev/null 2>&1
  # k8s.io/kubernetes points its staging modules at ./staging/src; replace each
  # with the published k8s.io/* v0.<minor> release of the same tree.
  local gomod
  gomod="$(go mod download -json "k8s.io/kubernetes@${K8S_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  {
    echo "require k8s.io/kubernetes ${K8S_VERSION}"
    grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging/src/k8s\.io/[a-z0-9-]+' "${gomod}" \
      | awk -v v="v0.${minor}" '{print "replace " $1 " => " $1 " " v}'
  } >> go.mod
  cat > tools.go <<'GO'
//go:build tools

package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
GO
  go mod tidy
  local commit="" ld=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X ${pkg}.gitVersion=${K8S_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor%%.*} -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=1970-01-01T00:00:00Z"
  done
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w ${ld}" -o "${WORK}/out/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
}

build_etcd() {
  local dir="${WORK}/etcd"
  mkdir -p "${dir}" && cd "${dir}"
  go mod init local/etcd >/dev/null 2>&1
  echo "require go.etcd.io/etcd/server/v3 ${ETCD_VERSION}" >> go.mod
  cat > tools.go <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
  go mod tidy
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "${WORK}/out/etcd" go.etcd.io/etcd/server/v3
}

log "building kube-apiserver ${K8S_VERSION} and etcd ${ETCD_VERSION} from the module proxy (first time only, ~6 min)"
mkdir -p "${WORK}/out"
build_etcd
build_apiserver
mkdir -p "${CACHE}" "${DEST}"
cp "${WORK}/out/kube-apiserver" "${WORK}/out/etcd" "${CACHE}/"
cp "${WORK}/out/kube-apiserver" "${WORK}/out/etcd" "${DEST}/"
ln -sf /usr/bin/kubectl "${DEST}/kubectl" 2>/dev/null || true
log "cached in ${CACHE}"
echo "${DEST}"
