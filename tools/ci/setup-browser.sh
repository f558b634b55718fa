#!/usr/bin/env bash
# Installs the browser the page tests drive: Debian's chromium (/usr/bin/chromium), which
# playwright-core starts through its executablePath. No browser is ever downloaded by npm.
# Safe to run again: it skips what is done.
set -euo pipefail

say() { printf '[setup-browser] %s\n' "$*"; }
die() { printf '[setup-browser] error: %s\n' "$*" >&2; exit 1; }

if [ -x /usr/bin/chromium ] && /usr/bin/chromium --version >/dev/null 2>&1; then
  say "chromium is installed: $(/usr/bin/chromium --version)"
  exit 0
fi
[ "$(id -u)" = 0 ] || die "run as root to install chromium"
say "installing chromium"
apt-get update -qq
# fonts-liberation: the page's text renders with real metrics in screenshots.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
/usr/bin/chromium --version >/dev/null 2>&1 || die "chromium did not install"
say "installed $(/usr/bin/chromium --version)"
