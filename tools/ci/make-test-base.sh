#!/usr/bin/env bash
# Makes the base image the Docker integration tests build on, without Docker Hub:
# a static busybox with stand-ins for the tools our generated Alpine Dockerfiles call
# (apk, git, make, sudo, strip; `make ... all` leaves an `opam` that only records
# its arguments), for linux/amd64 and linux/arm64 (OBI_TEST_BASE_ARCHES lists others), pushed to a registry and joined
# into one multi-arch tag. The Dockerfiles are our real ones; only the tools are stand-ins.
#
#   make-test-base.sh REGISTRY_REPO:TAG      e.g. 127.0.0.1:5000/test/alpine:3.23
# Needs DOCKER_CONFIG pointing at a config logged in to that registry.
# OBI_STATE_DIR (/var/lib/obi-ci) caches the downloaded busybox packages.
set -euo pipefail
target=${1:?usage: make-test-base.sh REGISTRY_REPO:TAG}
state=${OBI_STATE_DIR:-/var/lib/obi-ci}
debs="$state/debs"
mkdir -p "$debs"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch_busybox() { # arch
  local arch=$1 lists="$state/apt-lists-$1"
  ls "$debs"/busybox-static_*_"$arch".deb >/dev/null 2>&1 && return 0
  mkdir -p "$lists/partial"
  local opts=(-oAPT::Architecture="$arch" -oAPT::Architectures="$arch" -oDir::State::Lists="$lists")
  apt-get "${opts[@]}" update -qq
  (cd "$debs" && apt-get "${opts[@]}" download "busybox-static:$arch" >/dev/null 2>&1)
}

stub() { # path, body
  mkdir -p "$(dirname "$1")"
  printf '#!/bin/sh\n%s\n' "$2" >"$1"
  chmod 755 "$1"
}

rootfs() { # arch dir
  local arch=$1 root=$2
  dpkg -x "$(ls "$debs"/busybox-static_*_"$arch".deb | head -1)" "$work/deb-$arch"
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,etc/apk,home,tmp,root,usr/share/obi-test}
  cp "$work/deb-$arch/bin/busybox" "$root/bin/busybox"
  # Applet links, listed by the host's busybox (same package, same applets).
  for applet in $(busybox --list-full 2>/dev/null || "$work/deb-$(dpkg --print-architecture)/bin/busybox" --list-full); do
    [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
  done
  chmod 1777 "$root/tmp"
  # sudo below only runs its command, so what opam's set-up moves into /usr/bin must be writable.
  chmod 1777 "$root/usr/bin"
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
  printf 'root:x:0:\n' >"$root/etc/group"
  : >"$root/etc/shadow"
  : >"$root/etc/sudoers"
  stub "$root/sbin/apk" 'echo "apk (test stand-in) $*"'
  stub "$root/usr/bin/sudo" 'exec "$@"'
  # Debian's static busybox has no addgroup/adduser applets.
  stub "$root/usr/sbin/addgroup" '# addgroup [-S] [-g GID] NAME
gid=""; while [ $# -gt 1 ]; do case "$1" in -g) gid=$2; shift 2;; *) shift;; esac; done
echo "$1:x:${gid:-1000}:" >>/etc/group'
  stub "$root/usr/sbin/adduser" '# adduser [-S] [-u UID] [-G GROUP] NAME: creates the home directory too
uid=1000; group=""; while [ $# -gt 1 ]; do case "$1" in -u) uid=$2; shift 2;; -G) group=$2; shift 2;; *) shift;; esac; done
gid=$(grep "^${group:-$1}:" /etc/group | cut -d: -f3); [ -n "$gid" ] || gid=$uid
echo "$1:x:$uid:$gid::/home/$1:/bin/sh" >>/etc/passwd
mkdir -p "/home/$1" && chown "$uid:$gid" "/home/$1"'
  stub "$root/usr/bin/strip" 'exit 0'
  stub "$root/usr/bin/git" '# Test stand-in: a clone makes an opam-like source tree; everything else succeeds.
while [ $# -gt 0 ]; do case "$1" in -C|-c) shift 2;; *) break;; esac; done
if [ "$1" = clone ]; then
  shift; dest=""; for a in "$@"; do case "$a" in -*) ;; *) dest=$a;; esac; done
  mkdir -p "$dest/shell" "$dest/src_ext"
  printf "#!/bin/sh\nexit 0\n" >"$dest/shell/bootstrap-ocaml.sh"; chmod 755 "$dest/shell/bootstrap-ocaml.sh"
  printf "#!/bin/sh\nexit 0\n" >"$dest/configure"; chmod 755 "$dest/configure"
fi
exit 0'
  stub "$root/usr/bin/make" '# Test stand-in: "make ... all" leaves the stand-in opam in the current directory.
for a in "$@"; do [ "$a" = all ] && cp /usr/share/obi-test/opam ./opam && chmod 755 ./opam; done
exit 0'
  stub "$root/usr/share/obi-test/opam" '# Test stand-in for opam: records its arguments; init makes the opam root.
[ "$1" = init ] && mkdir -p "$HOME/.opam/repo/default" && : >"$HOME/.opam/config"
echo "opam $*" >>"$HOME/.opam-commands"
exit 0'
}

repo=${target%:*}
tag=${target##*:}
sources=()
for arch in ${OBI_TEST_BASE_ARCHES:-amd64 arm64}; do
  fetch_busybox "$arch"
  rootfs "$arch" "$work/root-$arch"
  tar -C "$work/root-$arch" -c . | docker import --platform "linux/$arch" - "$repo:$tag-$arch" >/dev/null
  docker push -q "$repo:$tag-$arch" >/dev/null
  sources+=("$repo:$tag-$arch")
done
docker buildx imagetools create -t "$target" "${sources[@]}" >/dev/null 2>&1 || docker buildx imagetools create -t "$target" "${sources[@]}"
echo "$target"
