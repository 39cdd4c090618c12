#!/bin/bash
# Docker HEALTHCHECK for an lstmcluster node, with nothing but bash (the runtime images have no curl).
# Every node serves GET /health on its HTTP port (LSTMCLUSTER_HTTP_PORT, 5080): healthy on a 200.
# With the HTTP port set to 0 there is nothing to ask, and the node is healthy while its Akka.Remote
# port listens (read from /proc rather than connected to: a bare TCP connect shows up in Akka's log).
# With HTTPS on that port (LSTMCLUSTER_HTTPS_CERTIFICATE) bash cannot speak it, so the node is healthy while the
# HTTP port listens: the node opens it after its actor system has started, and exits when that system stops.
set -u
http_port="${LSTMCLUSTER_HTTP_PORT:-5080}"
akka_port="${LSTMCLUSTER_PORT:-4053}"

listening() {
  local hex
  hex=$(printf '%04X' "$1")
  grep -qE "^ *[0-9]+: [0-9A-F]+:${hex} [0-9A-F]+:0000 0A " /proc/net/tcp /proc/net/tcp6
}

if [ "$http_port" != 0 ] && [ -n "${LSTMCLUSTER_HTTPS_CERTIFICATE:-}" ]; then
  listening "$http_port"
elif [ "$http_port" != 0 ]; then
  exec 3<>"/dev/tcp/127.0.0.1/${http_port}" || exit 1
  printf 'GET /health HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
  read -r -t 5 _ status _ <&3 || exit 1
  [ "$status" = 200 ]
else
  listening "$akka_port"
fi
