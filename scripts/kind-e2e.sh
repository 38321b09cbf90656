#!/usr/bin/env bash
# `make e2e-kind`: the end-to-end suite, unchanged, against the kind cluster `make deploy` set up.
# The suite's sinks run in the cluster there (an event display), since pods cannot reach loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
cluster=${KIND_CLUSTER:-samplesource}
kubeconfig=$(mktemp)
trap 'rm -f "$kubeconfig"' EXIT
kind get kubeconfig --name "$cluster" > "$kubeconfig"
E2E_PLATFORM=kind SAMPLESOURCE_KUBECONFIG="$kubeconfig" SAMPLESOURCE_KUBECTL="$(command -v kubectl)" \
  npm run test:e2e -- --ci
