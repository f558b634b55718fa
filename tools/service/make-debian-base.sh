#!/usr/bin/env bash
# Makes a Debian 13 base image without Docker Hub: debootstrap (minbase) from Debian's
# archive, then docker import. For sites (and this CI) that cannot pull debian:13-slim;
# the service image takes it as its BASE build argument.
#
#   make-debian-base.sh [TAG]        default obi/debian:13-local; needs root and debootstrap
#
# The mirror: OBI_DEBIAN_MIRROR, else the machine's own Debian source (its URIs), else
# deb.debian.org. Skips the work when TAG exists already.
set -euo pipefail
tag=${1:-obi/debian:13-local}
if docker image inspect "$tag" >/dev/null 2>&1; then echo "$tag"; exit 0; fi
command -v debootstrap >/dev/null || { echo "make-debian-base.sh: needs debootstrap (apt-get install debootstrap)" >&2; exit 1; }
mirror=${OBI_DEBIAN_MIRROR:-}
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list.d/debian.sources ]; then
  mirror=$(awk 'BEGIN{RS="";FS="\n"} !/security/ { for (i = 1; i <= NF; i++) if ($i ~ /^URIs:/) { split($i, a, " "); print a[2]; exit } }' /etc/apt/sources.list.d/debian.sources)
fi
mirror=${mirror:-http://deb.debian.org/debian}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=ca-certificates trixie "$root" "$mirror" >/dev/null
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import --change 'CMD ["/bin/bash"]' - "$tag" >/dev/null
echo "$tag"
