#!/usr/bin/env bash
# Brings up what the deployment test (tools/testing/suites/deployment.test.ts) needs beyond
# setup-docker.sh and setup-fleet.sh: the Debian 13 base image the service image is built FROM,
# made without Docker Hub (debootstrap, then docker import: tools/service/make-debian-base.sh),
# and unshare (util-linux), with which the SSH suite gives a connection a noexec /dev/shm.
# Safe to run again: the base is made once (about 5 minutes). A part it cannot bring up fails the run.
#
# Environment (optional):
#   OBI_SERVICE_BASE   the base image's tag (obi/debian:13-local)
set -euo pipefail
cd "$(dirname "$0")/../.."

base=${OBI_SERVICE_BASE:-obi/debian:13-local}
say() { printf '[setup-service] %s\n' "$*"; }
die() { printf '[setup-service] error: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root"
docker info >/dev/null 2>&1 || die "no Docker engine answers: run tools/ci/setup-docker.sh first"

need=()
for pkg in debootstrap util-linux; do dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg"); done
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
command -v unshare >/dev/null || die "no unshare (util-linux)"

if ! docker image inspect "$base" >/dev/null 2>&1; then
  say "making $base with debootstrap (a few minutes)"
fi
bash tools/service/make-debian-base.sh "$base" >/dev/null
# The service image's first step runs apt-get and bash in it.
docker run --rm --network none "$base" bash -c 'command -v apt-get >/dev/null && grep -q "^VERSION_CODENAME=trixie" /etc/os-release' ||
  die "$base is not a usable Debian 13 (trixie) image; remove it (docker image rm $base) and run this again"
say "service base image $base"
