#!/usr/bin/env bash
# Runs the README's two commands on a fresh Debian machine: a minimal Debian 12 (bookworm)
# made by debootstrap, with only this machine's node and npm copied in (no etcd, Redis or
# Docker), a clone of the committed branch, then `npm ci && npm test` inside it as root, in a
# container (docker import of the rootfs, host network: loopback only) or, with
# --chroot or without a Docker engine, in a chroot. Uncommitted changes are not in the clone.
#   usage: sudo bash scripts/fresh-machine-check.sh [--chroot] [--keep] [--branch REF] [-- COMMAND]
#   COMMAND (run in the clone) defaults to: npm ci --no-audit --no-fund && npm test
#   FRESH_MIRROR overrides the Debian mirror (default: the first one in this machine's apt
#   sources); FRESH_CACHE is where the pristine rootfs tarball is kept between runs.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${FRESH_CACHE:-/var/cache/flotilla-fresh}"
suite=bookworm
mode=docker
keep=0
branch="$(git -C "$root" rev-parse --abbrev-ref HEAD)"
command='npm ci --no-audit --no-fund && npm test'

log() { printf 'fresh-machine-check: %s\n' "$*" >&2; }

while (($# > 0)); do
  case "$1" in
    --chroot) mode=chroot ;;
    --keep) keep=1 ;;
    --branch)
      branch="$2"
      shift
      ;;
    --)
      shift
      command="$*"
      break
      ;;
    *)
      log "unknown argument '$1' (usage: [--chroot] [--keep] [--branch REF] [-- COMMAND])"
      exit 2
      ;;
  esac
  shift
done

if [[ $(id -u) -ne 0 ]]; then
  log "run as root (debootstrap, chroot and docker need it): sudo bash $0"
  exit 1
fi
if ! command -v debootstrap >/dev/null; then
  log "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
if [[ $mode == docker ]] && ! docker info >/dev/null 2>&1; then
  log "no Docker engine answering: using a chroot"
  mode=chroot
fi

mirror="${FRESH_MIRROR:-$(grep -hoE '^(URIs: *|deb +)https?://[^ ]+' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | grep -v security | head -n 1 | sed -E 's/^(URIs: *|deb +)//' || true)}"
if [[ -z $mirror ]]; then
  log "no Debian mirror found in /etc/apt: set FRESH_MIRROR"
  exit 1
fi

# A pristine minimal Debian, made once and kept as a tarball (debootstrap takes a minute or two).
pristine="$cache/$suite-minbase.tar"
if [[ ! -s $pristine ]]; then
  log "debootstrap $suite (minbase + git, ca-certificates) from $mirror"
  mkdir -p "$cache"
  build="$(mktemp -d "$cache/build.XXXXXX")"
  debootstrap --variant=minbase --include=git,ca-certificates "$suite" "$build" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
    {
      tail -n 20 "$cache/debootstrap.log" >&2
      exit 1
    }
  tar -C "$build" -cf "$pristine.tmp" . && mv "$pristine.tmp" "$pristine"
  rm -rf "$build"
fi

work="$(mktemp -d /tmp/flotilla-fresh.XXXXXX)"
rootfs="$work/rootfs"
tag="$(basename "$work" | tr 'A-Z.' 'a-z-')"
cleanup() {
  if [[ $mode == chroot ]]; then
    for m in dev/pts dev sys proc; do umount "$rootfs/$m" 2>/dev/null || true; done
  else
    docker rmi "flotilla-fresh:$tag" >/dev/null 2>&1 || true
  fi
  if ((keep)); then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
mkdir -p "$rootfs"
tar -C "$rootfs" -xf "$pristine"

# Node 20 and npm from this machine, nothing else; its libraries must already be in the rootfs.
node_bin="$(readlink -f "$(command -v node)")"
npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
install -m 0755 "$node_bin" "$rootfs/usr/bin/node"
mkdir -p "$rootfs/usr/lib/node_modules"
cp -a "$npm_dir" "$rootfs/usr/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/bin/npx"
for lib in $(ldd "$node_bin" | grep -oE '/[^ ]+\.so[^ ]*'); do
  if [[ ! -e $rootfs$lib && ! -e $rootfs/usr$lib ]]; then
    log "node needs $lib, which the fresh rootfs lacks"
    exit 1
  fi
done
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
# The machine's own extra CA certificates (a network that passes TLS through its own CA):
# trusted inside too, or npm cannot reach the registry. Part of the machine, not of the project.
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
  chroot "$rootfs" update-ca-certificates >/dev/null 2>&1
fi

git clone --quiet --no-local --branch "$branch" "$root" "$rootfs/work/flotilla"
commit="$(git -C "$rootfs/work/flotilla" rev-parse --short HEAD)"
log "fresh Debian $suite in $rootfs, branch $branch at $commit, mode $mode"

inner="cd /work/flotilla && echo \"inside: \$(. /etc/os-release && echo \$PRETTY_NAME), node \$(node --version), npm \$(npm --version), uid \$(id -u)\" >&2 && for c in etcd redis-server docker dockerd dnsmasq chromium; do command -v \$c >/dev/null && echo \"inside: \$c present\" >&2 || echo \"inside: \$c absent\" >&2; done && started=\$(date +%s) && ( $command ) && echo \"inside: command passed in \$((\$(date +%s) - started)) s\" >&2"

status=0
if [[ $mode == docker ]]; then
  tar -C "$rootfs" -c . | docker import - "flotilla-fresh:$tag" >/dev/null
  # Not --privileged: this machine's own container lacks CAP_SYS_RESOURCE, which it would ask for.
  docker run --rm --cap-add SYS_ADMIN --cap-add NET_ADMIN --security-opt seccomp=unconfined \
    --network host --label "flotilla-fresh=$tag" --name "flotilla-fresh-$tag" \
    -e CI=true -e NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt "flotilla-fresh:$tag" bash -c "$inner" ||
    status=$?
else
  mount -t proc proc "$rootfs/proc"
  mount --rbind /sys "$rootfs/sys"
  mount --bind /dev "$rootfs/dev"
  mount --bind /dev/pts "$rootfs/dev/pts"
  chroot "$rootfs" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root CI=true NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt bash -c "$inner" || status=$?
fi
log "$command: exit $status (branch $branch at $commit, $mode)"
exit "$status"
