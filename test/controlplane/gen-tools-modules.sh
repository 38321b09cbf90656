#!/usr/bin/env bash
# Regenerates the Go tools modules (kube-tools/ and etcd-tools/) from versions.env.
# kubelet, kube-proxy and kube-scheduler are tools here too: test/node/build.sh builds them from this
# module, so they share Go's build cache with the control plane's build.
# Run by hand after changing versions.env; the resulting go.mod and go.sum are committed.
# The staging-module replace list is derived from k8s.io/kubernetes's own go.mod, never typed by hand.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=/dev/null
. "$here/versions.env"
export GOTOOLCHAIN=local GOFLAGS='' CGO_ENABLED=0

kube_mod=$(go mod download -json "k8s.io/kubernetes@${KUBE_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
staging_tag="v0.${KUBE_VERSION#v1.}"
# Every module that k8s.io/kubernetes replaces with ./staging/src/... is a staging module.
mapfile -t staging < <(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\1#p' "$kube_mod" | sort -u)
echo "k8s.io/kubernetes ${KUBE_VERSION}: ${#staging[@]} staging modules at ${staging_tag}"

cd "$here/kube-tools"
rm -f go.mod go.sum
go mod init example.invalid/samplesource/kube-tools >/dev/null 2>&1
go_directive=$(sed -n 's/^go //p' "$kube_mod")
go mod edit -go="$go_directive"
godebug=$(sed -n 's/^godebug //p' "$kube_mod")
[ -n "$godebug" ] && go mod edit -godebug="$godebug"
for m in "${staging[@]}"; do go mod edit -replace="$m=$m@$staging_tag"; done
go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@${KUBE_VERSION}" \
  "k8s.io/kubernetes/cmd/kube-controller-manager@${KUBE_VERSION}" \
  "k8s.io/kubernetes/cmd/kubectl@${KUBE_VERSION}" \
  "k8s.io/kubernetes/cmd/kubelet@${KUBE_VERSION}" \
  "k8s.io/kubernetes/cmd/kube-proxy@${KUBE_VERSION}" \
  "k8s.io/kubernetes/cmd/kube-scheduler@${KUBE_VERSION}"

cd "$here/etcd-tools"
rm -f go.mod go.sum
go mod init example.invalid/samplesource/etcd-tools >/dev/null 2>&1
go get -tool "go.etcd.io/etcd/server/v3@${ETCD_VERSION}" "go.etcd.io/etcd/etcdctl/v3@${ETCD_VERSION}"
echo "tools modules regenerated"
