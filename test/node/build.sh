#!/usr/bin/env bash
# Builds the real node's parts from Go modules, each into a cache outside the work tree keyed by
# its version (and the Go version): ~/.cache/samplesource/<part>/<key>/bin. Warm parts return at once.
# kubelet, kube-proxy and kube-scheduler are built from test/controlplane/kube-tools, the module the
# control plane is built from, so the two builds share Go's build cache.
# Prints, on stdout's last line, a directory with links to every binary the node harness needs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cp_dir=$(cd "$here/../controlplane" && pwd)
# shellcheck source=/dev/null
. "$cp_dir/versions.env"
# shellcheck source=/dev/null
. "$here/versions.env"
export GOTOOLCHAIN=local GOFLAGS='' CGO_ENABLED=0

go_version=$(go env GOVERSION)
cache_root=${SAMPLESOURCE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/samplesource}
log() { printf '[node-build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# The Debian tools the node needs (iptables with nf_tables inside the node's netns, conntrack for
# kube-proxy, libseccomp for runc, debootstrap for the Node base image).
need_pkgs=()
command -v iptables-nft >/dev/null || need_pkgs+=(iptables)
command -v conntrack >/dev/null || need_pkgs+=(conntrack)
command -v debootstrap >/dev/null || need_pkgs+=(debootstrap)
[ -f /usr/include/seccomp.h ] || need_pkgs+=(libseccomp-dev)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing Debian packages: ${need_pkgs[*]}"
  apt-get install -y -qq "${need_pkgs[@]}" >&2 || { apt-get update -qq >&2 && apt-get install -y -qq "${need_pkgs[@]}" >&2; }
fi

# part NAME KEY BINARIES... -- COMMAND...: runs COMMAND with $out (a temp dir) when a binary is missing
# from the part's cache dir, then moves the named binaries into it. Echoes nothing; sets part_bin.
part() {
  local name=$1 key=$2; shift 2
  local bins=()
  while [ "$1" != -- ]; do bins+=("$1"); shift; done
  shift
  part_bin="$cache_root/$name/$key/bin"
  local missing=0 b
  for b in "${bins[@]}"; do [ -x "$part_bin/$b" ] || missing=1; done
  [ $missing = 0 ] && return 0
  mkdir -p "$part_bin"
  out=$(mktemp -d "$part_bin/../build.XXXXXX")
  log "building $name $key"
  local start=$SECONDS
  ( while sleep 60; do log "  still building $name ($((SECONDS - start)) s)"; done ) & local ticker=$!
  if ! ( "$@" ) >&2; then kill "$ticker" 2>/dev/null; rm -rf "$out"; log "building $name failed"; return 1; fi
  kill "$ticker" 2>/dev/null || true
  for b in "${bins[@]}"; do mv "$out/$b" "$part_bin/$b"; done
  rm -rf "$out"
  log "built $name in $((SECONDS - start)) s"
}

gobin_install() { GOBIN="$out" go install -trimpath -ldflags "-s -w" "$@"; }

# A module whose go.mod has replace/exclude lines cannot be `go install`ed: build it from a copy.
build_module_copy() { # module@version packages...
  local mod=$1; shift
  local dir
  dir=$(go mod download -json "$mod" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  cp -r "$dir" "$out/src" && chmod -R u+w "$out/src"
  (cd "$out/src" && go build -mod=mod -trimpath -ldflags "-s -w" -o "$out/" "$@")
  rm -rf "$out/src"
}

# runc needs cgo for its seccomp filter (Debian's libseccomp-dev).
build_runc() { CGO_ENABLED=1 gobin_install -tags seccomp "github.com/opencontainers/runc@${RUNC_VERSION}"; }
build_pause() { (cd "$here/pause" && go build -trimpath -ldflags "-s -w" -o "$out/pause" .); }

links=()
add_links() { local b; for b in "$@"; do links+=("$part_bin/$b"); done; }

build_kube_node() {
  local minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
  local ld="-s -w" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=${KUBE_VERSION} -X $pkg.gitMajor=1 -X $pkg.gitMinor=${minor}"
    ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  # Same flags as the control plane's build: the packages they share come from Go's build cache.
  (cd "$cp_dir/kube-tools" && go build -trimpath -tags=selinux,notest -ldflags "$ld" -o "$out/" \
    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kube-scheduler)
}
kube_hash=$(cat "$cp_dir"/kube-tools/go.{mod,sum} | sha256sum | cut -c1-12)

# Order: the small parts first, so a cold run has something to show early.
part crane "${CRANE_VERSION}_${go_version}" crane -- \
  gobin_install "github.com/google/go-containerregistry/cmd/crane@${CRANE_VERSION}"
add_links crane
part pause "$(cat "$here"/pause/* | sha256sum | cut -c1-12)_${go_version}" pause -- \
  build_pause
add_links pause
part runc "${RUNC_VERSION}_${go_version}" runc -- \
  build_runc
add_links runc
part cni-plugins "${CNI_PLUGINS_VERSION}_${go_version}" bridge host-local loopback portmap -- \
  gobin_install "github.com/containernetworking/plugins/plugins/main/bridge@${CNI_PLUGINS_VERSION}" \
  "github.com/containernetworking/plugins/plugins/ipam/host-local@${CNI_PLUGINS_VERSION}" \
  "github.com/containernetworking/plugins/plugins/main/loopback@${CNI_PLUGINS_VERSION}" \
  "github.com/containernetworking/plugins/plugins/meta/portmap@${CNI_PLUGINS_VERSION}"
add_links bridge host-local loopback portmap
part crictl "${CRICTL_VERSION}_${go_version}" crictl -- \
  gobin_install "sigs.k8s.io/cri-tools/cmd/crictl@${CRICTL_VERSION}"
add_links crictl
part containerd "${CONTAINERD_VERSION}_${go_version}" containerd containerd-shim-runc-v2 ctr -- \
  gobin_install "github.com/containerd/containerd/v2/cmd/containerd@${CONTAINERD_VERSION}" \
  "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@${CONTAINERD_VERSION}" \
  "github.com/containerd/containerd/v2/cmd/ctr@${CONTAINERD_VERSION}"
add_links containerd containerd-shim-runc-v2 ctr
part buildkit "${BUILDKIT_VERSION}_${go_version}" buildkitd buildctl -- \
  build_module_copy "github.com/moby/buildkit@${BUILDKIT_VERSION}" ./cmd/buildkitd ./cmd/buildctl
add_links buildkitd buildctl
part coredns "${COREDNS_VERSION}_${go_version}" coredns -- \
  gobin_install "github.com/coredns/coredns@${COREDNS_VERSION}"
add_links coredns
part kube-node "kube-${KUBE_VERSION}_${go_version}_${kube_hash}" kubelet kube-proxy kube-scheduler -- build_kube_node
add_links kubelet kube-proxy kube-scheduler

# One directory of links, keyed by everything above, for the harness.
key=$(printf '%s\n' "${links[@]}" | sha256sum | cut -c1-12)
bin="$cache_root/node-bin/$key"
if [ ! -d "$bin" ]; then
  mkdir -p "$bin.tmp.$$"
  for l in "${links[@]}"; do ln -sf "$l" "$bin.tmp.$$/"; done
  mv -T "$bin.tmp.$$" "$bin" 2>/dev/null || rm -rf "$bin.tmp.$$"
fi
log "node binaries ready in $bin"
echo "$bin"
