#!/usr/bin/env bash
# Brings up a small builder fleet on this machine, beside the engine setup-docker.sh starts:
#   - engine "ssh": a second dockerd, reached as ssh://root@127.0.0.1:$OBI_FLEET_SSH_PORT through
#     an sshd of its own on loopback, with a client key made here;
#   - engine "tls": a third dockerd on tcp://127.0.0.1:$OBI_FLEET_TLS_PORT with TLS client
#     certificates from a CA made here (openssl);
#   - engine "oci": a fourth dockerd on its own socket only, with the containerd image store, so
#     BuildKit on Linux can build Windows-platform images that have no RUN step.
# Each engine has its own data-root, exec-root, pidfile, unix socket and bridge (made first:
# an engine started with `--bridge none` deletes docker0 from under the first engine), and
# leaves iptables to the first engine. Safe to run again: it starts only what is not running.
#
# Environment (all optional):
#   OBI_STATE_DIR          where state lives (/var/lib/obi-ci); the fleet's is under fleet/
#   OBI_FLEET_SSH_PORT     sshd's loopback port (2222)
#   OBI_FLEET_TLS_PORT     the TLS engine's loopback port (2376)
#   OBI_FLEET_RUN_DIR      sockets and pidfiles (/run/obi-fleet)
#
# What the tests read (secrets are files, mode 600, never printed):
#   $state/fleet/ssh/client-key, client-key.pub, known_hosts
#   $state/fleet/tls/ca.pem, client-cert.pem, client-key.pem
#   $run/{ssh,tls,oci}-engine.sock   each engine's own socket; $run/{ssh,tls,oci}-engine.pid
set -euo pipefail

state=${OBI_STATE_DIR:-/var/lib/obi-ci}
fleet="$state/fleet"
run=${OBI_FLEET_RUN_DIR:-/run/obi-fleet}
ssh_port=${OBI_FLEET_SSH_PORT:-2222}
tls_port=${OBI_FLEET_TLS_PORT:-2376}

say() { printf '[setup-fleet] %s\n' "$*"; }
die() { printf '[setup-fleet] error: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root"
command -v dockerd >/dev/null || die "no dockerd: run tools/ci/setup-docker.sh first"

# 1. Packages: sshd for the SSH engine, openssl for the TLS engine's certificates.
need=()
for pkg in openssh-server openssh-client openssl iproute2; do dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg"); done
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
mkdir -p "$fleet/ssh" "$fleet/tls" "$run"
chmod 700 "$fleet" "$fleet/ssh" "$fleet/tls"
umask 077

# 2. Keys and certificates, made once.
if [ ! -s "$fleet/ssh/client-key" ]; then
  ssh-keygen -q -t ed25519 -N '' -C obi-fleet-client -f "$fleet/ssh/client-key"
fi
if [ ! -s "$fleet/ssh/host-key" ]; then
  ssh-keygen -q -t ed25519 -N '' -C obi-fleet-host -f "$fleet/ssh/host-key"
fi
cp "$fleet/ssh/client-key.pub" "$fleet/ssh/authorized_keys"
printf '[127.0.0.1]:%s %s\n' "$ssh_port" "$(cut -d' ' -f1-2 "$fleet/ssh/host-key.pub")" >"$fleet/ssh/known_hosts"

tls="$fleet/tls"
if [ ! -s "$tls/client-key.pem" ]; then
  say "making a CA, a server certificate for 127.0.0.1 and a client certificate"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=obi-fleet-ca" -keyout "$tls/ca-key.pem" -out "$tls/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$tls/server-key.pem" -out "$tls/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$tls/server.ext"
  openssl x509 -req -days 3650 -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca-key.pem" -CAcreateserial -extfile "$tls/server.ext" -out "$tls/server-cert.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=obi-fleet-client" -keyout "$tls/client-key.pem" -out "$tls/client.csr" 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\n' >"$tls/client.ext"
  openssl x509 -req -days 3650 -in "$tls/client.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca-key.pem" -CAcreateserial -extfile "$tls/client.ext" -out "$tls/client-cert.pem" 2>/dev/null
  rm -f "$tls"/*.csr "$tls"/*.ext
fi
umask 022

# 3. The engines.
engine_up() { docker -H "unix://$run/$1.sock" info >/dev/null 2>&1; }
engine_pid_alive() { [ -s "$run/$1.pid" ] && kill -0 "$(cat "$run/$1.pid" 2>/dev/null)" 2>/dev/null; }
start_engine() { # name bridge address/24 daemon.json [dockerd args…]
  local name=$1 bridge=$2 address=$3 config=$4
  shift 4
  mkdir -p "$fleet/$name/data"
  # A changed configuration needs a restart: stop the engine, by its pid, and wait for it to go.
  if [ "$(cat "$fleet/$name/daemon.json" 2>/dev/null)" != "$config" ]; then
    if engine_pid_alive "$name"; then
      say "restarting engine $name for its new configuration"
      kill "$(cat "$run/$name.pid")"
      for _ in $(seq 1 60); do engine_pid_alive "$name" || break; sleep 1; done
    fi
    printf '%s\n' "$config" >"$fleet/$name/daemon.json"
  fi
  # An engine starting answers soon; one stopping (its pid alive, no answer) is waited out.
  # A stale pidfile or socket of a stopped engine would stop dockerd from starting.
  for _ in $(seq 1 60); do
    engine_pid_alive "$name" || break
    engine_up "$name" && return 0
    sleep 1
  done
  engine_pid_alive "$name" && die "engine $name runs (pid $(cat "$run/$name.pid")) but does not answer"
  rm -f "$run/$name.pid" "$run/$name.sock"
  if ! ip link show "$bridge" >/dev/null 2>&1; then
    ip link add "$bridge" type bridge
    ip addr add "$address" dev "$bridge"
  fi
  ip link set "$bridge" up
  say "starting engine $name (log: $fleet/$name/dockerd.log)"
  nohup dockerd --config-file "$fleet/$name/daemon.json" --data-root "$fleet/$name/data" --exec-root "$run/$name" \
    --pidfile "$run/$name.pid" -H "unix://$run/$name.sock" --bridge "$bridge" --iptables=false --ip-masq=false \
    "$@" >"$fleet/$name/dockerd.log" 2>&1 &
  for _ in $(seq 1 60); do engine_up "$name" && break; sleep 1; done
  engine_up "$name" || { tail -20 "$fleet/$name/dockerd.log" >&2; die "engine $name did not come up in 60 s"; }
}

start_engine ssh-engine obi-fleet-ssh 10.213.1.1/24 '{}'
start_engine tls-engine obi-fleet-tls 10.213.2.1/24 '{}' -H "tcp://127.0.0.1:$tls_port" \
  --tlsverify --tlscacert "$tls/ca.pem" --tlscert "$tls/server-cert.pem" --tlskey "$tls/server-key.pem"
# The containerd image store lets BuildKit on Linux build Windows-platform images (no RUN step);
# an engine of its own, since that store's BuildKit fails the Linux images' `COPY --chown` here
# ("invalid user index: -1").
start_engine oci-engine obi-fleet-oci 10.213.3.1/24 '{"features":{"containerd-snapshotter":true}}'

# 4. sshd on loopback, in front of the ssh engine: `docker -H ssh://…` runs
#    `docker system dial-stdio` there, which SetEnv points at that engine's socket.
cat >"$fleet/ssh/sshd_config" <<CONF
Port $ssh_port
ListenAddress 127.0.0.1
HostKey $fleet/ssh/host-key
PidFile $run/sshd.pid
AuthorizedKeysFile $fleet/ssh/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowUsers root
SetEnv DOCKER_HOST=unix://$run/ssh-engine.sock
CONF
sshd_up() { [ -s "$run/sshd.pid" ] && kill -0 "$(cat "$run/sshd.pid")" 2>/dev/null; }
if ! sshd_up; then
  mkdir -p /run/sshd
  say "starting sshd on 127.0.0.1:$ssh_port"
  /usr/sbin/sshd -f "$fleet/ssh/sshd_config" -E "$fleet/ssh/sshd.log"
  for _ in $(seq 1 20); do sshd_up && break; sleep 0.5; done
  sshd_up || { tail -20 "$fleet/ssh/sshd.log" >&2; die "sshd did not start"; }
fi

# 5. Check each engine the way a build reaches it.
ssh_check=$(mktemp -d)
trap 'rm -rf "$ssh_check"' EXIT
printf '#!/bin/sh\nexec /usr/bin/ssh -F %s "$@"\n' "$ssh_check/config" >"$ssh_check/ssh"
chmod 700 "$ssh_check/ssh"
printf 'Host *\n  IdentityFile %s\n  IdentitiesOnly yes\n  UserKnownHostsFile %s\n  StrictHostKeyChecking yes\n  BatchMode yes\n' \
  "$fleet/ssh/client-key" "$fleet/ssh/known_hosts" >"$ssh_check/config"
PATH="$ssh_check:$PATH" docker -H "ssh://root@127.0.0.1:$ssh_port" info --format '{{.Name}}' >/dev/null ||
  die "the ssh engine does not answer through ssh://root@127.0.0.1:$ssh_port (see $fleet/ssh/sshd.log)"
docker -H "tcp://127.0.0.1:$tls_port" --tlsverify --tlscacert "$tls/ca.pem" --tlscert "$tls/client-cert.pem" --tlskey "$tls/client-key.pem" \
  info --format '{{.Name}}' >/dev/null || die "the tls engine does not answer on tcp://127.0.0.1:$tls_port"

say "engine ssh-engine: ssh://root@127.0.0.1:$ssh_port (key $fleet/ssh/client-key, known hosts $fleet/ssh/known_hosts)"
say "engine tls-engine: tcp://127.0.0.1:$tls_port (CA, cert and key in $tls)"
say "engine oci-engine: unix://$run/oci-engine.sock, containerd image store"
