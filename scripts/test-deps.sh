#!/usr/bin/env bash
# Makes sure the programs the tests run for real are installed: a real
# redis-server (store tests, Redis Cluster), Debian's Alertmanager and amtool
# (the wire-compatibility test, the compose file's Alertmanager config),
# promtool (the alert rules for pagerd), systemd-analyze (the unit file) and
# Chromium (the web console's browser tests, which drive it headless over the
# DevTools protocol). As root it installs what is missing; otherwise it
# says what to install and fails, so no test is ever skipped for lack of it.
#
# It never touches a service it did not install: Debian starts a package's
# service on installation, so while installing, a policy-rc.d that forbids
# starting services is put in place (and removed after). Where one already
# exists it is left alone, and only the services of the packages installed
# here are stopped afterwards: a Redis this machine already ran keeps running.
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v redis-benchmark >/dev/null 2>&1 || need+=(redis-tools)
command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v amtool >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
# chromedp speaks the DevTools protocol to the browser itself: no
# chromedriver. PAGERD_CHROMIUM names a browser installed elsewhere.
if [ -z "${PAGERD_CHROMIUM:-}" ]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
fi
[ ${#need[@]} -eq 0 ] && exit 0

# De-duplicate.
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
if [ "$(id -u)" -ne 0 ]; then
  echo "The tests need: ${need[*]}." >&2
  echo "Install them with: sudo apt-get install -y ${need[*]}   (or run make test as root)" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "The tests need ${need[*]} and this machine has no apt-get: install them with your package manager." >&2
  exit 1
fi

policy_rc_d=${POLICY_RC_D:-/usr/sbin/policy-rc.d}
ours=0
if [ ! -e "$policy_rc_d" ]; then
  printf '#!/bin/sh\n# Written by pagerd scripts/test-deps.sh while it installs packages: start no service.\nexit 101\n' >"$policy_rc_d"
  chmod 0755 "$policy_rc_d"
  ours=1
  trap 'rm -f "$policy_rc_d"' EXIT
fi

echo "Installing test dependencies: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null

# Services could start only under a policy-rc.d that was already here: stop
# those of the packages installed just now, and nothing else.
if [ "$ours" -eq 0 ] && command -v service >/dev/null 2>&1; then
  for pkg in "${need[@]}"; do
    case "$pkg" in
      redis-server | prometheus-alertmanager | prometheus) service "$pkg" stop >/dev/null 2>&1 || true ;;
    esac
  done
fi
