#!/usr/bin/env bash
# Installs Debian's Prometheus (prometheus, with promtool) for the monitoring tests:
# `promtool check metrics` on the /metrics scrapes, `promtool test rules` on
# docs/monitoring/alerts.yml, and a real server on loopback scraping both servers.
# Only the binaries are used; the packaged service is not started by this script.
# Safe to run again: it skips what is done.
set -euo pipefail

say() { printf '[setup-prometheus] %s\n' "$*"; }
die() { printf '[setup-prometheus] error: %s\n' "$*" >&2; exit 1; }

if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
  say "prometheus is installed: $(promtool --version 2>&1 | head -1)"
  exit 0
fi
[ "$(id -u)" = 0 ] || die "run as root to install prometheus"
say "installing prometheus"
apt-get update -qq
# policy-rc.d 101: the package's own service is not started (the tests start their own on loopback).
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
command -v promtool >/dev/null || die "prometheus did not install"
say "installed $(promtool --version 2>&1 | head -1)"
