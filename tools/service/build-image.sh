#!/usr/bin/env bash
# Builds the service image from this workspace at HEAD (uncommitted changes are left out):
#
#   tools/service/build-image.sh [--base IMAGE] [--tag TAG]
#
# --base: the Debian 13 base (default debian:13-slim; make-debian-base.sh makes one
# without Docker Hub); --tag: the image's name (default ocaml-base-images/service:<commit>).
# The image gets this checkout's node_modules (run `npm install` first), so build it on
# the platform it will run on (linux/amd64 with glibc, as the image).
set -euo pipefail
cd "$(dirname "$0")/../.."
base=debian:13-slim tag=""
while [ $# -gt 0 ]; do
  case "$1" in
    --base) base=$2; shift 2;;
    --tag) tag=$2; shift 2;;
    *) echo "build-image.sh: unknown argument $1" >&2; exit 2;;
  esac
done
commit=$(git rev-parse HEAD)
tag=${tag:-ocaml-base-images/service:${commit:0:12}}
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
git archive HEAD | tar -x -C "$context"
[ -x node_modules/.bin/nx ] || { echo "build-image.sh: no node_modules; run npm install first" >&2; exit 1; }
cp -a "$(readlink -f node_modules)" "$context/node_modules"
rm -rf "$context/node_modules/.cache"
docker build -f tools/service/Dockerfile --build-arg "BASE=$base" --build-arg "COMMIT=$commit" -t "$tag" "$context"
echo "$tag"
