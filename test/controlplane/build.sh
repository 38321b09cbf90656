#!/usr/bin/env bash
# Builds the real control plane (etcd, kube-apiserver, kube-controller-manager, kubectl)
# from Go modules into a cache outside the work tree, keyed by every version that matters.
# Prints the bin directory on stdout's last line. A warm cache returns at once.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=/dev/null
. "$here/versions.env"
export GOTOOLCHAIN=local GOFLAGS='' CGO_ENABLED=0

go_version=$(go env GOVERSION)
# The go.sum hashes change whenever a dependency does, so they are part of the key too.
mods_hash=$(cat "$here"/kube-tools/go.{mod,sum} "$here"/etcd-tools/go.{mod,sum} | sha256sum | cut -c1-12)
cache_root=${SAMPLESOURCE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/samplesource}
bin="$cache_root/controlplane/kube-${KUBE_VERSION}_etcd-${ETCD_VERSION}_${go_version}_${mods_hash}/bin"
binaries=(etcd kube-apiserver kube-controller-manager kubectl)

have_all() { for b in "${binaries[@]}"; do [ -x "$bin/$b" ] || return 1; done; }
log() { printf '[controlplane-build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if have_all; then echo "$bin"; exit 0; fi
mkdir -p "$bin"
tmp=$(mktemp -d "$bin/../build.XXXXXX"); trap 'rm -rf "$tmp"' EXIT

# Report progress while a long build is silent.
build() { # name dir packages...
  local name=$1 dir=$2; shift 2
  log "building $name (cold builds take minutes on 2 cores)"
  local start=$SECONDS
  ( while sleep 60; do log "  still building $name ($((SECONDS - start)) s)"; done ) & local ticker=$!
  ( cd "$dir" && go build -trimpath "${build_flags[@]}" -o "$tmp/" "$@" ) || { kill "$ticker"; return 1; }
  kill "$ticker" 2>/dev/null || true
  log "built $name in $((SECONDS - start)) s"
}

if [ ! -x "$bin/etcd" ]; then
  build_flags=(-ldflags "-s -w")
  build etcd "$here/etcd-tools" go.etcd.io/etcd/server/v3 go.etcd.io/etcd/etcdctl/v3
  mv "$tmp/v3" "$bin/etcd" 2>/dev/null || mv "$tmp/server" "$bin/etcd" 2>/dev/null || true
  mv "$tmp/etcdctl" "$bin/etcdctl" 2>/dev/null || true
  ls "$tmp" >&2 || true
fi

minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
ld="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld+=" -X $pkg.gitVersion=${KUBE_VERSION} -X $pkg.gitMajor=1 -X $pkg.gitMinor=${minor}"
  ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
build_flags=("-tags=selinux,notest" -ldflags "$ld")
build "kube-apiserver, kube-controller-manager, kubectl" "$here/kube-tools" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl
mv "$tmp"/kube-apiserver "$tmp"/kube-controller-manager "$tmp"/kubectl "$bin/"

have_all || { log "build finished but binaries are missing in $bin"; exit 1; }
log "control plane binaries ready in $bin"
echo "$bin"
