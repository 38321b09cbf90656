#!/usr/bin/env bash
# `make deploy`: builds both images, loads them into a kind cluster (created if missing) and
# installs config/. Needs docker, kind and kubectl on PATH; cannot run on machines without Docker.
set -euo pipefail
cd "$(dirname "$0")/.."
cluster=${KIND_CLUSTER:-samplesource}
operator_image=${OPERATOR_IMAGE:-samplesource-operator:0.1.0}
adapter_image=${ADAPTER_IMAGE:-samplesource-adapter:0.1.0}
for tool in docker kind kubectl; do
  command -v "$tool" >/dev/null || { echo "make deploy needs $tool on PATH" >&2; exit 1; }
done

if ! kind get clusters | grep -qx "$cluster"; then
  kind create cluster --name "$cluster" --wait 120s
fi
docker build -f Dockerfile.operator -t "$operator_image" .
docker build -f Dockerfile.adapter -t "$adapter_image" .
kind load docker-image --name "$cluster" "$operator_image" "$adapter_image"

context="kind-$cluster"
kubectl --context "$context" apply -f config/
# config/ names the default images; point the operator at the ones just built if they differ.
kubectl --context "$context" -n samplesource-system set image deployment/samplesource-operator operator="$operator_image"
kubectl --context "$context" -n samplesource-system set env deployment/samplesource-operator ADAPTER_IMAGE="$adapter_image"
kubectl --context "$context" -n samplesource-system rollout status deployment/samplesource-operator --timeout=180s
echo "installed; try: kubectl --context $context apply -f example.yaml"
