#!/bin/bash
# Docker HEALTHCHECK for an lstmcluster node, with nothing but bash (the runtime images have no curl).
# A node with the coordinator role must answer GET /health with 200 on its HTTP port; any other node
# is healthy while its Akka.Remote port is listening. Checking the listening socket in /proc instead
# of connecting keeps health probes out of the Akka logs (a raw TCP connect is an aborted association).
set -u
http_port="${LSTMCLUSTER_HTTP_PORT:-5080}"
akka_port="${LSTMCLUSTER_PORT:-4053}"

listening() { # port: true if some socket is in LISTEN state on it (IPv4 or IPv6)
  local hex
  hex=$(printf '%04X' "$1")
  grep -qE "^ *[0-9]+: [0-9A-F]+:${hex} [0-9A-F]+:0000 0A " /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

http_health() {
  local status
  exec 3<>"/dev/tcp/127.0.0.1/${http_port}" || return 1
  printf 'GET /health HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
  read -r -t 5 _ status _ <&3 || return 1
  exec 3<&-
  [ "$status" = 200 ]
}

case ",${LSTMCLUSTER_ROLES:-}," in
  *,coordinator,*) http_health ;;
  ,,) # roles given on the command line: /health where HTTP is served, else the Akka port
      if listening "$http_port"; then http_health; else listening "$akka_port"; fi ;;
  *) listening "$akka_port" ;;
esac
