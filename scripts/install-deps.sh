#!/usr/bin/env bash
# Installs the system packages Flotilla's tests and benchmarks need, idempotently, and starts
# the Docker engine when docker.io is asked for and dockerd is not answering (it does not run
# after a reboot or in a fresh container even when the package is installed).
#   usage: bash scripts/install-deps.sh [PACKAGE...]      (no PACKAGE: all of them)
# Packages it knows:
#   etcd-server, etcd-client  the benchmark baseline we measure ourselves against
#   docker.io                 containers for the live chaos suites (dockerd started and awaited)
#   redis-server              the hot-key cache tier
#   dnsmasq                   DNS for the discovery tests
#   chromium                  headless browser for the UI tests
# `npm test` (scripts/run-tests.mjs) calls it with just the packages its suites miss.
# Debian (as root) only; elsewhere it prints what to install and exits non-zero.
set -euo pipefail

known=(etcd-server etcd-client docker.io redis-server dnsmasq chromium)
docker_wait_s=60
dockerd_log=/var/log/dockerd.log

log() { printf 'install-deps: %s\n' "$*" >&2; }

packages=("$@")
if ((${#packages[@]} == 0)); then packages=("${known[@]}"); fi
for pkg in "${packages[@]}"; do
  if [[ " ${known[*]} " != *" $pkg "* ]]; then
    log "unknown package '$pkg' (known: ${known[*]})"
    exit 2
  fi
done

if [[ ! -r /etc/debian_version ]] || ! command -v apt-get >/dev/null; then
  log "this script supports Debian only. Install by hand the equivalents of: ${packages[*]}, then start dockerd if docker.io is among them."
  exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
  log "run as root (it installs Debian packages and starts dockerd): sudo bash $0 ${packages[*]}"
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
  if ! apt-get update -qq; then
    log "apt-get update failed: is the Debian mirror reachable?"
    exit 1
  fi
  # Package post-install scripts must not start services (etcd's default member would take
  # port 2379, which `npm start` gives PD; there may be no init system at all).
  policy_rc=/usr/sbin/policy-rc.d
  created_policy=0
  if [[ ! -e $policy_rc ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy_rc"
    chmod +x "$policy_rc"
    created_policy=1
  fi
  status=0
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/install-deps-apt.log 2>&1 || status=$?
  if ((created_policy)); then rm -f "$policy_rc"; fi
  if ((status != 0)); then
    tail -n 20 /tmp/install-deps-apt.log >&2
    log "apt-get install ${missing[*]} failed (exit $status); full log: /tmp/install-deps-apt.log"
    exit 1
  fi
  log "installed: ${missing[*]}"
else
  log "already installed: ${packages[*]}"
fi

if [[ " ${packages[*]} " == *" etcd-server "* ]] && ! etcd --version >/dev/null 2>&1; then
  log "etcd is installed but does not run (etcd --version failed)"
  exit 1
fi

if [[ " ${packages[*]} " != *" docker.io "* ]]; then exit 0; fi

if docker info >/dev/null 2>&1; then
  log "docker engine already answering"
  exit 0
fi

# No pgrep: procps is not on a minimal Debian.
dockerd_running() {
  local comm
  for comm in /proc/[0-9]*/comm; do
    [[ $(cat "$comm" 2>/dev/null) == dockerd ]] && return 0
  done
  return 1
}

if ! dockerd_running; then
  log "starting dockerd in the background (log: $dockerd_log)"
  # Its own session, so that the end of this script or of the test run does not stop it.
  setsid nohup dockerd >"$dockerd_log" 2>&1 </dev/null &
fi
for ((i = 0; i < docker_wait_s; i++)); do
  if docker info >/dev/null 2>&1; then
    log "docker engine ready after ${i}s"
    exit 0
  fi
  sleep 1
done
log "dockerd did not answer within ${docker_wait_s}s; see $dockerd_log"
tail -n 20 "$dockerd_log" >&2 || true
exit 1
