#!/usr/bin/env bash
# Start a private Docker Engine and a local registry for shipdeck's Docker tests.
#
# Both run in the background, with everything under one directory (default
# /tmp/shipdeck-docker): dockerd on its own socket, data-root, exec-root and
# pidfile, so it never touches a system engine; the registry stores its blobs
# there too. Waits until both answer, then prints the lines to eval:
#
#   eval "$(scripts/docker-up.sh)"   # sets DOCKER_HOST and SHIPDECK_REGISTRY
#
# When openssl is there, the engine also listens on tcp://127.0.0.1 with mutual TLS
# (a throwaway CA, server and client certificates under DIR/tls), the way a remote
# engine is reached, and SHIPDECK_DOCKER_TLS_HOST / SHIPDECK_DOCKER_CERT_PATH say where.
#
# Overrides: SHIPDECK_DOCKER_DIR (the directory), SHIPDECK_REGISTRY_PORT (5000),
# SHIPDECK_DOCKER_TLS_PORT (2376), SHIPDECK_DOCKERD_FLAGS (extra dockerd flags). Running it twice is harmless:
# what already runs is kept. Stop both with scripts/docker-down.sh.
set -euo pipefail

DIR="${SHIPDECK_DOCKER_DIR:-/tmp/shipdeck-docker}"
PORT="${SHIPDECK_REGISTRY_PORT:-5000}"
SOCK="$DIR/docker.sock"
HOST="unix://$SOCK"
REGISTRY="127.0.0.1:$PORT"

say() { echo "docker-up: $*" >&2; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

command -v dockerd >/dev/null || { say "dockerd not found (apt-get install docker.io)"; exit 1; }
command -v docker-registry >/dev/null \
  || { say "docker-registry not found (apt-get install docker-registry)"; exit 1; }
mkdir -p "$DIR/data" "$DIR/exec" "$DIR/registry"

TLS_PORT="${SHIPDECK_DOCKER_TLS_PORT:-2376}"
TLS="$DIR/tls"
tls_flags=()
if command -v openssl >/dev/null; then
  if [ ! -f "$TLS/client/cert.pem" ]; then
    mkdir -p "$TLS/client"
    (
      cd "$TLS"
      q() { openssl "$@" >/dev/null 2>&1; }
      q req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=shipdeck test CA" \
        -keyout ca-key.pem -out ca.pem
      q req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server-key.pem -out server.csr
      printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
      q x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 30 \
        -extfile server.ext -out server-cert.pem
      q req -newkey rsa:2048 -nodes -subj "/CN=shipdeck test client" \
        -keyout client/key.pem -out client.csr
      printf 'extendedKeyUsage=clientAuth\n' >client.ext
      q x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 30 \
        -extfile client.ext -out client/cert.pem
      cp ca.pem client/ca.pem
    ) || { say "openssl could not make TLS certificates; the engine stays unix-only"; }
  fi
  if [ -f "$TLS/client/cert.pem" ]; then
    tls_flags=(--host "tcp://127.0.0.1:$TLS_PORT" --tlsverify --tlscacert "$TLS/ca.pem"
      --tlscert "$TLS/server-cert.pem" --tlskey "$TLS/server-key.pem")
  fi
fi

# A private engine: the default bridge and iptables, so -p 127.0.0.1:X:Y works.
if alive "$DIR/dockerd.pid"; then
  say "dockerd already runs (pid $(cat "$DIR/dockerd.pid"))"
else
  rm -f "$SOCK" "$DIR/dockerd.pid" "$DIR/tls-host"
  if [ ${#tls_flags[@]} -gt 0 ]; then echo "tcp://127.0.0.1:$TLS_PORT" >"$DIR/tls-host"; fi
  # shellcheck disable=SC2086  # extra flags are meant to split
  setsid dockerd \
    --host "$HOST" \
    --data-root "$DIR/data" \
    --exec-root "$DIR/exec" \
    --pidfile "$DIR/dockerd.pid" \
    "${tls_flags[@]}" \
    ${SHIPDECK_DOCKERD_FLAGS:-} \
    </dev/null >"$DIR/dockerd.log" 2>&1 &
  say "dockerd starting (log: $DIR/dockerd.log)"
fi

if alive "$DIR/registry.pid"; then
  say "registry already runs (pid $(cat "$DIR/registry.pid"))"
else
  cat >"$DIR/registry.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $DIR/registry
  delete:
    enabled: true
http:
  addr: $REGISTRY
YAML
  # The shell writes its own pid, then becomes the registry (exec keeps the pid),
  # so the pidfile is right even where setsid has to fork.
  setsid sh -c 'echo $$ >"$1"; exec docker-registry serve "$2"' sh \
    "$DIR/registry.pid" "$DIR/registry.yml" </dev/null >"$DIR/registry.log" 2>&1 &
  say "registry starting on $REGISTRY (log: $DIR/registry.log)"
fi

for _ in $(seq 1 150); do  # up to 30 s
  if docker -H "$HOST" info >/dev/null 2>&1; then break; fi
  if [ -f "$DIR/dockerd.pid" ] && ! alive "$DIR/dockerd.pid"; then break; fi
  sleep 0.2
done
if ! docker -H "$HOST" info >/dev/null 2>&1; then
  say "dockerd did not come up; the end of $DIR/dockerd.log:"
  tail -20 "$DIR/dockerd.log" >&2 || true
  exit 1
fi

for _ in $(seq 1 100); do  # up to 20 s
  if curl -fsS "http://$REGISTRY/v2/" >/dev/null 2>&1 \
    || python3 -c "import urllib.request as u; u.urlopen('http://$REGISTRY/v2/', timeout=1)" \
      >/dev/null 2>&1; then
    ok=1
    break
  fi
  alive "$DIR/registry.pid" || break
  sleep 0.2
done
if [ -z "${ok:-}" ]; then
  say "the registry did not come up on $REGISTRY; the end of $DIR/registry.log:"
  tail -20 "$DIR/registry.log" >&2 || true
  exit 1
fi

say "ready: engine $HOST, registry $REGISTRY"
echo "export DOCKER_HOST=$HOST"
echo "export SHIPDECK_REGISTRY=$REGISTRY"
if [ -f "$DIR/tls-host" ]; then  # what the running engine was started with
  echo "export SHIPDECK_DOCKER_TLS_HOST=$(cat "$DIR/tls-host")"
  echo "export SHIPDECK_DOCKER_CERT_PATH=$TLS/client"
fi
