#!/usr/bin/env bash
# Brings up what builds and publishes need on a Debian 12 machine (root, no systemd):
# a Docker engine with BuildKit and buildx, QEMU emulation for foreign arches, and a
# password-protected registry on loopback. Safe to run again: it skips what is done.
#
# Environment (all optional):
#   OBI_STATE_DIR               where logs, the registry's storage and its password live (/var/lib/obi-ci)
#   OBI_REGISTRY_PORT           loopback port of the registry (5000)
#   OBI_REGISTRY_USER           registry user (obi)
#   OBI_REGISTRY_PASSWORD_FILE  the password; made up and stored (mode 600) when missing
# The password is never printed.
set -euo pipefail

state=${OBI_STATE_DIR:-/var/lib/obi-ci}
port=${OBI_REGISTRY_PORT:-5000}
user=${OBI_REGISTRY_USER:-obi}
password_file=${OBI_REGISTRY_PASSWORD_FILE:-$state/registry-password}
mkdir -p "$state"

say() { printf '[setup-docker] %s\n' "$*"; }
die() { printf '[setup-docker] error: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root"

engine_ready() {
  command -v dockerd >/dev/null 2>&1 && docker buildx version >/dev/null 2>&1 &&
    [ "$(dockerd --version | sed -E 's/^Docker version ([0-9]+).*/\1/')" -ge 26 ]
}

# 1. Packages. Debian 12's docker.io (20.10) has a BuildKit too old for heredocs and no
#    buildx, so docker.io and docker-buildx come from Debian 13 through a private apt state;
#    the machine's own sources stay as they are.
need=()
for pkg in containerd runc tini iptables qemu-user-static binfmt-support docker-registry apache2-utils git curl busybox-static openssl skopeo; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ] || ! engine_ready; then
  say "installing packages"
  apt-get update -qq
  [ ${#need[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! engine_ready; then
  say "installing docker.io and docker-buildx from trixie"
  dir=$(mktemp -d)
  mkdir -p "$dir/parts" "$dir/lists/partial"
  sources=/etc/apt/sources.list.d/debian.sources
  [ -f "$sources" ] || die "no $sources to derive the trixie source from"
  # Reuse the machine's own Debian stanza (its mirror), with the suite changed.
  awk 'BEGIN{RS="";ORS="\n\n"} /Suites:.*bookworm( |$)/ && !/security/' "$sources" |
    sed -E 's/^Suites:.*/Suites: trixie/' >"$dir/parts/trixie.sources"
  [ -s "$dir/parts/trixie.sources" ] || die "could not derive a trixie source from $sources"
  apt_private=(-oDir::Etc::SourceList=/dev/null "-oDir::Etc::SourceParts=$dir/parts" "-oDir::State::Lists=$dir/lists")
  apt-get "${apt_private[@]}" update -qq
  (cd "$dir" && apt-get "${apt_private[@]}" download docker.io docker-buildx >/dev/null)
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$dir"/docker.io_*.deb "$dir"/docker-buildx_*.deb >/dev/null
  rm -rf "$dir"
  engine_ready || die "docker.io/docker-buildx installed but not usable"
fi

# 2. The engine.
if ! docker info >/dev/null 2>&1; then
  say "starting dockerd (log: $state/dockerd.log)"
  nohup dockerd >"$state/dockerd.log" 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { tail -20 "$state/dockerd.log" >&2; die "dockerd did not come up in 60 s"; }
fi

# 3. QEMU user emulation for the arches we build.
mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
for arch in aarch64 ppc64le s390x riscv64; do
  [ -e "/proc/sys/fs/binfmt_misc/qemu-$arch" ] || update-binfmts --enable "qemu-$arch" >/dev/null 2>&1 || true
  [ -e "/proc/sys/fs/binfmt_misc/qemu-$arch" ] || die "qemu-$arch emulation is not registered"
done

# 4. The registry: distribution v2 on loopback, htpasswd (bcrypt) auth, deletes enabled.
if [ ! -s "$password_file" ]; then
  umask 077
  head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$password_file"
  chmod 600 "$password_file"
fi
code() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/" || true; }
if [ "$(code)" != 401 ]; then
  mkdir -p "$state/registry"
  # -i: the password comes on stdin, never on a command line.
  htpasswd -Bin "$user" <"$password_file" >"$state/htpasswd" 2>/dev/null
  cat >"$state/registry.yml" <<YAML
version: 0.1
log: { level: warn }
storage:
  filesystem: { rootdirectory: $state/registry }
  delete: { enabled: true }
http: { addr: "127.0.0.1:$port" }
auth:
  htpasswd: { realm: obi, path: $state/htpasswd }
YAML
  say "starting the registry on 127.0.0.1:$port (log: $state/registry.log)"
  nohup docker-registry serve "$state/registry.yml" >"$state/registry.log" 2>&1 &
  for _ in $(seq 1 30); do [ "$(code)" = 401 ] && break; sleep 1; done
  [ "$(code)" = 401 ] || { tail -20 "$state/registry.log" >&2; die "the registry did not come up"; }
fi

say "docker $(docker version --format '{{.Server.Version}}'), $(docker buildx version | cut -d' ' -f1-2)"
say "registry 127.0.0.1:$port, user $user, password in $password_file"
