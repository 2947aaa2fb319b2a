#!/usr/bin/env bash
# Installs the system packages Flotilla's tests and benchmarks need, idempotently:
#   redis-server          the hot-key cache tier (later issues)
#   docker.io             containers for the live chaos suites (dockerd started and awaited)
#   etcd-server, client   the benchmark baseline we measure ourselves against
# Debian (as root) only; elsewhere it prints what to install and exits non-zero.
set -euo pipefail

packages=(redis-server docker.io etcd-server etcd-client)
docker_wait_s=60

log() { printf 'install-deps: %s\n' "$*" >&2; }

if [[ ! -r /etc/debian_version ]]; then
  log "this script supports Debian only. Install by hand: ${packages[*]} (Redis server, Docker engine, etcd 3.4+ server and etcdctl), then start dockerd."
  exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
  log "run as root (it installs Debian packages and starts dockerd): sudo bash $0"
  exit 1
fi

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} > 0)); then
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Package post-install scripts must not start services in a container without an init system.
  policy_rc=/usr/sbin/policy-rc.d
  created_policy=0
  if [[ ! -e $policy_rc ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy_rc"
    chmod +x "$policy_rc"
    created_policy=1
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if ((created_policy)); then rm -f "$policy_rc"; fi
else
  log "all packages already installed"
fi

# The etcd package may start a default member through its init script; the benchmarks start their own.
if command -v etcd >/dev/null && ! etcd --version >/dev/null 2>&1; then
  log "etcd is installed but does not run"
  exit 1
fi

if docker info >/dev/null 2>&1; then
  log "docker engine already answering"
  exit 0
fi

if ! pgrep -x dockerd >/dev/null; then
  log "starting dockerd in the background (log: /var/log/dockerd.log)"
  nohup dockerd >/var/log/dockerd.log 2>&1 &
fi
for ((i = 0; i < docker_wait_s; i++)); do
  if docker info >/dev/null 2>&1; then
    log "docker engine ready after ${i}s"
    exit 0
  fi
  sleep 1
done
log "dockerd did not answer within ${docker_wait_s}s; see /var/log/dockerd.log"
tail -n 20 /var/log/dockerd.log >&2 || true
exit 1
