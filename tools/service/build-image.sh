#!/usr/bin/env bash
# Builds the service image from this workspace at HEAD (uncommitted changes are left out):
#
#   tools/service/build-image.sh [--base IMAGE] [--tag TAG] [--with-node-modules]
#
# --base: the Debian 13 base (default debian:13-slim); --tag: the image's name
# (default ocaml-base-images/service:<commit>); --with-node-modules: put this
# checkout's node_modules in the context instead of running npm install in the build
# (for machines without npm's registry; same platform only).
set -euo pipefail
cd "$(dirname "$0")/../.."
base=debian:13-slim tag="" modules=false
while [ $# -gt 0 ]; do
  case "$1" in
    --base) base=$2; shift 2;;
    --tag) tag=$2; shift 2;;
    --with-node-modules) modules=true; shift;;
    *) echo "build-image.sh: unknown argument $1" >&2; exit 2;;
  esac
done
commit=$(git rev-parse HEAD)
tag=${tag:-ocaml-base-images/service:${commit:0:12}}
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
git archive HEAD | tar -x -C "$context"
if $modules; then cp -a "$(readlink -f node_modules)" "$context/node_modules"; rm -rf "$context/node_modules/.cache"; fi
docker build -f tools/service/Dockerfile --build-arg "BASE=$base" --build-arg "COMMIT=$commit" -t "$tag" "$context"
echo "$tag"
