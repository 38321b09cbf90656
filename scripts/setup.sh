#!/usr/bin/env bash
# Everything the tests and the demo need, installed by the project itself (idempotent, quick when warm):
# Node.js 24 from the npm registry, npm packages from package-lock.json, and the control plane binaries.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
node_bin=$(scripts/ensure-node.sh)
export PATH="$node_bin:$PATH"

# npm ci only when the lock file changed since the last install (or node_modules is missing).
stamp=node_modules/.samplesource-lock-hash
want=$( (cat package-lock.json; node --version) | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[setup] npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
  echo "$want" > "$stamp"
fi

bin=$(bash test/controlplane/build.sh)
echo "[setup] node $(node --version), control plane binaries in $bin" >&2

# The real node (kubelet, containerd, runc, CNI, CoreDNS, BuildKit) and its local base images, built
# here rather than inside a test's hook, so a cold cache never runs into a test timeout. Only where
# the node can run (root, cgroup v1 hierarchies); elsewhere the e2e tier and the demo use the node agent.
if [ "$(id -u)" -eq 0 ] && [ -f /sys/fs/cgroup/memory/cgroup.procs ] && [ -z "${SAMPLESOURCE_SKIP_NODE_BUILD:-}" ]; then
  node_parts=$(bash test/node/build.sh | tail -1)
  images=$(bash test/node/base-images.sh "$node_parts" | tail -1)
  echo "[setup] real node binaries in $node_parts, base images in $images" >&2
fi
