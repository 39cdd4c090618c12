#!/usr/bin/env bash
# Proves docker/docker-compose.yml end to end on a machine that cannot pull images (no registry; only
# Debian's apt mirror and NuGet are reachable): a seed (coordinator + HTTP API), a parameter server and
# WORKERS workers in containers, one real training job submitted over HTTP, its forecast and plot fetched;
# then the coordinator's container is killed (SIGKILL) and started again, and must serve the same job's files.
#
#   sudo docker/prove-compose.sh          (as root: it installs packages and may start dockerd)
#
# The job API takes a bearer token (LSTMCLUSTER_API_TOKEN, made for the run when unset); the proof checks that it refuses
# requests without it. The nodes speak TLS with mutual authentication: scripts/make-certs.sh makes a CA and the services'
# certificates for the run in $PROOF_DIR/certs (LSTMCLUSTER_CERTS); the proof checks every node runs TLS and that a
# plaintext container on the compose network is refused and never joins. The job API is HTTPS (make-certs.sh's api.pfx):
# every request trusts the run's ca.crt (curl --cacert); the proof checks that curl without it and plain HTTP get nothing,
# and that the host's `lstmcluster status --ca` reads the job.
# Steps: install docker.io, docker-compose, debootstrap and curl with apt if missing; start dockerd if
# none answers; build a Debian 12 base image with debootstrap + docker import (once: kept and reused);
# publish the app on the host, self-contained for linux-x64; build the app image from
# docker/Dockerfile.local on that base; `compose up` with that image; wait for GET /ready; POST a job;
# poll it; fetch forecast (JSON, CSV) and plot; SIGKILL the seed container, start it again, and check that the
# job is still Succeeded with the same forecast, plot and metrics and that new ids go on; tear everything down
# (also on failure or Ctrl+C).
# Every wait is bounded; on failure it prints the containers' logs and exits non-zero.
#
# Environment: LSTMCLUSTER_API_TOKEN (a random one), LSTMCLUSTER_CERTS (certificates made for the run), WORKERS (2), READY_TIMEOUT (300 s), JOB_TIMEOUT (900 s), LSTMCLUSTER_HTTP_BIND
# (127.0.0.1:5080), PROOF_DIR (/var/tmp/lstmcluster-proof: publish output, dockerd log, job results),
# BASE_IMAGE (lstmcluster-base:bookworm), APP_IMAGE (lstmcluster:local), SKIP_PUBLISH=1 (reuse the last
# publish), KEEP_DOCKERD=1 (leave a dockerd this script started running), SMOKE_ONLY=1 (stop after
# checking that the image runs `lstmcluster --help`).
set -Eeuo pipefail

cd "$(dirname "$0")/.."
REPO="$PWD"
WORKERS="${WORKERS:-2}"
READY_TIMEOUT="${READY_TIMEOUT:-300}"
JOB_TIMEOUT="${JOB_TIMEOUT:-900}"
PROOF_DIR="${PROOF_DIR:-/var/tmp/lstmcluster-proof}"
BASE_IMAGE="${BASE_IMAGE:-lstmcluster-base:bookworm}"
APP_IMAGE="${APP_IMAGE:-lstmcluster:local}"
PROJECT="lstmproof"
COMPOSE_FILE="$REPO/docker/docker-compose.yml"
export LSTMCLUSTER_HTTP_BIND="${LSTMCLUSTER_HTTP_BIND:-127.0.0.1:5080}"
API="https://${LSTMCLUSTER_HTTP_BIND}"
# The seed binds 0.0.0.0 in its container, so it serves the job API only with a token: one made for this run unless
# LSTMCLUSTER_API_TOKEN is given. Every request to /jobs sends it; /health and /ready need none.
if [ -z "${LSTMCLUSTER_API_TOKEN:-}" ]; then
  LSTMCLUSTER_API_TOKEN="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
fi
export LSTMCLUSTER_API_TOKEN
AUTH=(-H "Authorization: Bearer $LSTMCLUSTER_API_TOKEN")
# What the base image holds beyond debootstrap's minbase: what .NET needs at run time (ICU, OpenSSL,
# CA certificates, time zones). libstdc++6 and libgcc-s1 come with minbase (apt needs them); libtorch
# ships its own libgomp. A change here rebuilds the base image (the list is stored as a label).
BASE_PACKAGES="libicu72,libssl3,ca-certificates,tzdata"
DEBIAN_MIRROR="http://deb.debian.org/debian"

STARTED=$SECONDS
DOCKERD_PID=""
COMPOSE_UP=0
declare -a COMPOSE

step() { printf '\n== [%4ds] %s\n' "$((SECONDS - STARTED))" "$*"; }
info() { printf '   %s\n' "$*"; }
fail() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }

cleanup() {
  local status=$?
  trap - EXIT
  trap '' INT TERM   # a second Ctrl+C must not cut the teardown short (every step in it is bounded)
  set +e
  if [ "$COMPOSE_UP" = 1 ]; then
    if [ "$status" != 0 ]; then
      step "container logs (the run failed)"
      timeout 60 "${COMPOSE[@]}" ps
      timeout 60 "${COMPOSE[@]}" logs --no-color --tail=300
    fi
    step "tearing down: compose down -v"
    timeout 180 "${COMPOSE[@]}" down -v --remove-orphans --timeout 20
  fi
  if [ -n "$DOCKERD_PID" ] && [ "${KEEP_DOCKERD:-0}" != 1 ]; then
    step "stopping the dockerd this script started (pid $DOCKERD_PID)"
    kill -TERM "$DOCKERD_PID" 2>/dev/null
    for _ in $(seq 1 30); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 1; done
    kill -0 "$DOCKERD_PID" 2>/dev/null && { info "dockerd still running after 30 s: SIGKILL"; kill -KILL "$DOCKERD_PID"; }
  fi
  if [ "$status" = 0 ]; then
    printf '\n== [%4ds] PASSED\n' "$((SECONDS - STARTED))"
  else
    printf '\n== [%4ds] FAILED (exit %s); dockerd log: %s\n' "$((SECONDS - STARTED))" "$status" "$PROOF_DIR/dockerd.log" >&2
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ "$(id -u)" = 0 ] || fail "run as root: it installs packages with apt-get and starts dockerd"
mkdir -p "$PROOF_DIR"

# ---------------------------------------------------------------------------------------------- tools
step "tools: docker engine, compose, debootstrap, curl"
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if [ "${#missing[@]}" -gt 0 ]; then
  info "apt-get install ${missing[*]}"
  timeout 600 apt-get update -q >"$PROOF_DIR/apt.log" 2>&1 || { tail -20 "$PROOF_DIR/apt.log"; fail "apt-get update"; }
  DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q --no-install-recommends "${missing[@]}" \
    >>"$PROOF_DIR/apt.log" 2>&1 || { tail -20 "$PROOF_DIR/apt.log"; fail "apt-get install ${missing[*]}"; }
fi
command -v dotnet >/dev/null 2>&1 || fail "the .NET 10 SDK (dotnet) is needed on the host to publish the app"

# --------------------------------------------------------------------------------------------- daemon
step "docker daemon"
if timeout 20 docker info >/dev/null 2>&1; then
  info "a daemon already answers: using it"
else
  info "starting dockerd in the background (log: $PROOF_DIR/dockerd.log)"
  # In its own session, so a Ctrl+C on this script's terminal reaches the script (which tears down
  # the cluster first) and not the daemon.
  setsid dockerd >"$PROOF_DIR/dockerd.log" 2>&1 < /dev/null &
  DOCKERD_PID=$!
  for i in $(seq 1 60); do
    timeout 10 docker info >/dev/null 2>&1 && break
    kill -0 "$DOCKERD_PID" 2>/dev/null || { tail -30 "$PROOF_DIR/dockerd.log"; DOCKERD_PID=""; fail "dockerd exited"; }
    [ "$i" = 60 ] && { tail -30 "$PROOF_DIR/dockerd.log"; fail "dockerd did not answer within 60 s"; }
    sleep 1
  done
  info "dockerd answers after $((SECONDS - STARTED)) s"
fi
info "$(docker version --format 'client {{.Client.Version}}, server {{.Server.Version}}' 2>/dev/null)"
if docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose)
else
  COMPOSE=(docker-compose)
fi
info "compose: ${COMPOSE[*]} $("${COMPOSE[@]}" version --short 2>/dev/null || true)"
COMPOSE+=(-p "$PROJECT" -f "$COMPOSE_FILE")

# ----------------------------------------------------------------------------------------- base image
step "base image $BASE_IMAGE (Debian 12 by debootstrap, made once)"
have_packages="$(docker image inspect --format '{{index .Config.Labels "org.lstmcluster.base-packages"}}' "$BASE_IMAGE" 2>/dev/null || true)"
if [ "$have_packages" = "$BASE_PACKAGES" ]; then
  info "present: reused"
else
  t0=$SECONDS
  rootfs="$(mktemp -d /var/tmp/lstmcluster-rootfs.XXXXXX)"
  info "debootstrap --variant=minbase --include=$BASE_PACKAGES bookworm (log: $PROOF_DIR/debootstrap.log)"
  timeout 1200 debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$rootfs" "$DEBIAN_MIRROR" \
    >"$PROOF_DIR/debootstrap.log" 2>&1 || { tail -30 "$PROOF_DIR/debootstrap.log"; rm -rf "$rootfs"; fail "debootstrap"; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  info "docker import"
  tar -C "$rootfs" --numeric-owner -c . | timeout 600 docker import \
    --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' \
    --change "LABEL org.lstmcluster.base-packages=$BASE_PACKAGES" - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"
  info "built in $((SECONDS - t0)) s: $(docker image inspect --format '{{.Size}}' "$BASE_IMAGE" | awk '{printf "%.0f MB", $1/1e6}')"
fi

# ---------------------------------------------------------------------------------------- app image
stage="$PROOF_DIR/stage"
if [ "${SKIP_PUBLISH:-0}" = 1 ] && [ -x "$stage/app/lstmcluster" ]; then
  step "publish: reusing $stage/app (SKIP_PUBLISH=1)"
else
  step "dotnet publish src/LstmCluster.Cli (Release, linux-x64, self-contained) -> $stage/app"
  t0=$SECONDS
  rm -rf "$stage"
  mkdir -p "$stage"
  timeout 1200 dotnet publish "$REPO/src/LstmCluster.Cli/LstmCluster.Cli.csproj" -c Release -r linux-x64 --self-contained \
    -o "$stage/app" -nologo >"$PROOF_DIR/publish.log" 2>&1 || { tail -40 "$PROOF_DIR/publish.log"; fail "dotnet publish"; }
  grep -h 'TorchSharp native patch' "$PROOF_DIR/publish.log" | sed 's/^ */   /' | tail -1 || true
  info "published in $((SECONDS - t0)) s"
fi
for f in lstmcluster lstmcluster.dll libLibTorchSharp.so libtorch_cpu.so config/lstmcluster.json; do
  [ -e "$stage/app/$f" ] || fail "publish output lacks $f"
done
rm -f "$stage"/app/*.pdb
cp "$REPO/docker/healthcheck.sh" "$stage/healthcheck.sh"

step "docker build -f docker/Dockerfile.local -t $APP_IMAGE (FROM $BASE_IMAGE)"
t0=$SECONDS
old_image="$(docker image inspect --format '{{.Id}}' "$APP_IMAGE" 2>/dev/null || true)"
timeout 900 docker build -q -f "$REPO/docker/Dockerfile.local" --build-arg BASE_IMAGE="$BASE_IMAGE" -t "$APP_IMAGE" "$stage" \
  >"$PROOF_DIR/build.log" 2>&1 || { tail -40 "$PROOF_DIR/build.log"; fail "docker build"; }
info "built in $((SECONDS - t0)) s: $(docker image inspect --format '{{.Size}}' "$APP_IMAGE" | awk '{printf "%.0f MB", $1/1e6}')"
# The previous build of this tag is now an untagged 800 MB image: drop it (kept if something uses it).
if [ -n "$old_image" ] && [ "$old_image" != "$(docker image inspect --format '{{.Id}}' "$APP_IMAGE")" ]; then
  docker rmi "$old_image" >/dev/null 2>&1 || true
fi

step "smoke: docker run --rm $APP_IMAGE --help"
timeout 120 docker run --rm "$APP_IMAGE" --help >"$PROOF_DIR/help.txt" 2>&1 || { cat "$PROOF_DIR/help.txt"; fail "the image does not run lstmcluster --help"; }
sed 's/^/   | /' "$PROOF_DIR/help.txt" | head -25
if [ "${SMOKE_ONLY:-0}" = 1 ]; then
  step "SMOKE_ONLY=1: stopping before the cluster"
  exit 0
fi
grep -qw node "$PROOF_DIR/help.txt" || fail "this build's lstmcluster has no 'node' command yet"

# -------------------------------------------------------------------------------------------- cluster
export LSTMCLUSTER_IMAGE="$APP_IMAGE"
step "TLS certificates: scripts/make-certs.sh (a CA and seed, parameter-server, worker, api .pfx)"
if [ -z "${LSTMCLUSTER_CERTS:-}" ]; then
  LSTMCLUSTER_CERTS="$PROOF_DIR/certs"
  rm -rf "$LSTMCLUSTER_CERTS"   # a new CA for every run
fi
export LSTMCLUSTER_CERTS
"$REPO/scripts/make-certs.sh" -d "$LSTMCLUSTER_CERTS" seed parameter-server worker api | sed 's/^/   /' || fail "make-certs.sh"
# Every request to the HTTPS job API trusts the run's CA, as a client given --ca would.
CA=(--cacert "$LSTMCLUSTER_CERTS/ca.crt")
LSTMCLUSTER_TLS_PASSWORD="$(cat "$LSTMCLUSTER_CERTS/password")"
export LSTMCLUSTER_TLS_PASSWORD
# Leftovers of an interrupted run (restart: unless-stopped brings them back with the daemon).
timeout 120 "${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
port="${LSTMCLUSTER_HTTP_BIND##*:}"
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  fail "something already listens on 127.0.0.1:$port (set LSTMCLUSTER_HTTP_BIND=127.0.0.1:OTHER)"
fi

step "compose up: seed, parameter-server, $WORKERS workers (image $APP_IMAGE)"
COMPOSE_UP=1
t_up=$SECONDS
if ! timeout 600 "${COMPOSE[@]}" up -d --no-build --scale worker="$WORKERS" 2>&1 | sed 's/^/   /'; then
  fail "compose up"
fi
timeout 60 "${COMPOSE[@]}" ps | sed 's/^/   /'

step "waiting for GET $API/ready (at most ${READY_TIMEOUT} s)"
ready=""
while [ $((SECONDS - t_up)) -lt "$READY_TIMEOUT" ]; do
  code="$(curl "${CA[@]}" -s -o "$PROOF_DIR/ready.json" -w '%{http_code}' --max-time 5 "$API/ready" || true)"
  if [ "$code" = 200 ]; then ready=1; break; fi
  info "$((SECONDS - t_up)) s: /ready -> ${code:-no answer} $(head -c 200 "$PROOF_DIR/ready.json" 2>/dev/null | tr -d '\n')"
  sleep 5
done
[ -n "$ready" ] || fail "the cluster was not ready within ${READY_TIMEOUT} s"
TIME_TO_READY=$((SECONDS - t_up))
info "ready after ${TIME_TO_READY} s: $(tr -d '\n' <"$PROOF_DIR/ready.json" | head -c 400)"
# /ready needs one worker; the job asks for 2, so wait (within the same bound) until all have joined.
workers_up() { sed -n 's/.*"worker" *: *\([0-9]*\).*/\1/p' "$PROOF_DIR/ready.json" | head -1; }
while [ "$(workers_up)" != "" ] && [ "$(workers_up)" -lt "$WORKERS" ]; do
  [ $((SECONDS - t_up)) -lt "$READY_TIMEOUT" ] || fail "only $(workers_up) of $WORKERS workers up within ${READY_TIMEOUT} s"
  sleep 2
  curl "${CA[@]}" -s -o "$PROOF_DIR/ready.json" --max-time 5 "$API/ready" || true
done
TIME_TO_ALL=$((SECONDS - t_up))
info "all $WORKERS workers up after ${TIME_TO_ALL} s: $(tr -d '\n' <"$PROOF_DIR/ready.json" | head -c 400)"
curl "${CA[@]}" -fsS --max-time 5 "$API/health" >/dev/null || fail "GET /health is not 200"
code="$(curl "${CA[@]}" -s -o "$PROOF_DIR/no-token.json" -w '%{http_code}' --max-time 5 "$API/jobs" || true)"
[ "$code" = 401 ] || fail "GET /jobs without a token answered ${code:-nothing}, not 401"
code="$(curl "${CA[@]}" -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer not-the-token-of-this-run" "$API/jobs" || true)"
[ "$code" = 401 ] || fail "GET /jobs with a wrong token answered ${code:-nothing}, not 401"
info "the job API refuses a missing or wrong token (401: $(tr -d '\n' <"$PROOF_DIR/no-token.json")); /health and /ready answer without one"
# HTTPS only: curl without the CA refuses the certificate (exit 60), plain HTTP to the port gets no HTTP answer.
set +e
curl -s -o /dev/null --max-time 5 "$API/health"; untrusted=$?
plain_code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://${LSTMCLUSTER_HTTP_BIND}/health")"
set -e
[ "$untrusted" = 60 ] || fail "curl without the CA exited $untrusted, not 60 (certificate not trusted)"
[ "$plain_code" = 000 ] || fail "plain HTTP to the HTTPS port answered $plain_code"
info "HTTPS only: without ca.crt curl refuses the certificate (exit 60); plain http:// gets no answer"

step "TLS between the nodes"
timeout 60 "${COMPOSE[@]}" logs --no-color > "$PROOF_DIR/tls-start.log" 2>&1 || true
tls_nodes="$(grep -c 'TLS between nodes (mutual authentication)' "$PROOF_DIR/tls-start.log" || true)"
[ "$tls_nodes" -ge $((2 + WORKERS)) ] || fail "only $tls_nodes of $((2 + WORKERS)) nodes say they run TLS"
grep -q 'akka.tcp://' "$PROOF_DIR/tls-start.log" && fail "a node uses a plaintext akka.tcp:// address"
info "$tls_nodes nodes run TLS with mutual authentication (addresses akka.ssl.tcp://)"
# A container on the compose network that speaks plaintext: the seed refuses its connection and it never joins (it gives up
# joining after 20 s and exits non-zero).
network="$(docker network ls --format '{{.Name}}' | grep -E "^${PROJECT}_lstm\$" | head -1)"
[ -n "$network" ] || fail "no compose network ${PROJECT}_lstm"
set +e
timeout 120 docker run --rm --network "$network" -e LSTMCLUSTER_TLS_PASSWORD= "$APP_IMAGE" node --roles worker --http-port 0 \
  --seeds akka.tcp://lstm@seed:4053 --hocon 'akka.cluster.shutdown-after-unsuccessful-join-seed-nodes = 20s' >"$PROOF_DIR/plaintext.log" 2>&1
plain_status=$?
set -e
[ "$plain_status" != 0 ] && [ "$plain_status" != 124 ] || fail "the plaintext node exited $plain_status (expected: gives up joining, non-zero)"
grep -q 'is Up in the cluster' "$PROOF_DIR/plaintext.log" && fail "the plaintext node joined the TLS cluster"
timeout 60 "${COMPOSE[@]}" logs --no-color seed > "$PROOF_DIR/tls-seed.log" 2>&1 || true
grep -q 'Rejected incoming connection from' "$PROOF_DIR/tls-seed.log" || fail "the seed did not log refusing the plaintext node"
info "a plaintext node was refused (exit $plain_status, never Up); the seed says: $(grep -m1 -o 'Rejected incoming connection from.*traffic' "$PROOF_DIR/tls-seed.log" | cut -c1-160)"

step "POST $API/jobs (samples/AirPassengers.csv, target value, season 12, lookback 24, epochs 5, hidden 16, layers 1, workers 2)"
t_job=$SECONDS
code="$(curl "${CA[@]}" "${AUTH[@]}" -s -o "$PROOF_DIR/submit.json" -w '%{http_code}' --max-time 60 -X POST "$API/jobs" \
  -F "data=@$REPO/samples/AirPassengers.csv" -F target=value -F season=12 -F lookback=24 \
  -F epochs=5 -F hidden=16 -F layers=1 -F workers=2 || true)"
info "-> $code $(tr -d '\n' <"$PROOF_DIR/submit.json")"
[ "$code" = 202 ] || fail "POST /jobs answered ${code:-nothing}, not 202"
JOB="$(sed -n 's/.*"id" *: *"\([^"]*\)".*/\1/p' "$PROOF_DIR/submit.json")"
[ -n "$JOB" ] || fail "no job id in the answer"

step "polling GET $API/jobs/$JOB (at most ${JOB_TIMEOUT} s)"
state=""
last=""
while [ $((SECONDS - t_job)) -lt "$JOB_TIMEOUT" ]; do
  curl "${CA[@]}" "${AUTH[@]}" -s --max-time 10 -o "$PROOF_DIR/job.json" "$API/jobs/$JOB" || true
  # The state's case is not part of the contract (Succeeded, succeeded): compare in lower case.
  state="$(sed -n 's/.*"state" *: *"\([A-Za-z]*\)".*/\1/p' "$PROOF_DIR/job.json" | head -1 | tr '[:upper:]' '[:lower:]')"
  line="$(tr -d '\n' <"$PROOF_DIR/job.json" | head -c 300)"
  if [ "$line" != "$last" ]; then info "$((SECONDS - t_job)) s: $line"; last="$line"; fi
  case "$state" in succeeded|failed|cancelled) break ;; esac
  sleep 2
done
JOB_TIME=$((SECONDS - t_job))
case "$state" in
  succeeded) info "succeeded after ${JOB_TIME} s" ;;
  "") fail "no job state within ${JOB_TIMEOUT} s" ;;
  *) fail "the job ended $state after ${JOB_TIME} s: $(tr -d '\n' <"$PROOF_DIR/job.json")" ;;
esac

out="$PROOF_DIR/result"
rm -rf "$out"; mkdir -p "$out"
step "GET /jobs/$JOB/forecast"
curl "${CA[@]}" "${AUTH[@]}" -fsS --max-time 30 "$API/jobs/$JOB/forecast" -o "$out/forecast.json" || fail "GET forecast"
cat "$out/forecast.json"; echo
step "GET /jobs/$JOB/forecast?format=csv"
curl "${CA[@]}" "${AUTH[@]}" -fsS --max-time 30 "$API/jobs/$JOB/forecast?format=csv" -o "$out/forecast.csv" || fail "GET forecast as CSV"
cat "$out/forecast.csv"
step "GET /jobs/$JOB/metrics"
curl "${CA[@]}" "${AUTH[@]}" -fsS --max-time 30 "$API/jobs/$JOB/metrics" -o "$out/metrics.json" || fail "GET metrics"
head -c 1500 "$out/metrics.json"; echo
step "GET /jobs/$JOB/plot"
curl "${CA[@]}" "${AUTH[@]}" -fsS --max-time 30 "$API/jobs/$JOB/plot" -o "$out/plot.png" || fail "GET plot"
[ "$(head -c 8 "$out/plot.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "the plot is not a PNG"
info "plot.png: $(stat -c %s "$out/plot.png") bytes, PNG signature ok"
cp "$PROOF_DIR/job.json" "$out/job.json"
step "lstmcluster status --server $API --ca ca.crt $JOB (the published CLI on the host)"
"$stage/app/lstmcluster" status --server "$API" --ca "$LSTMCLUSTER_CERTS/ca.crt" --token "$LSTMCLUSTER_API_TOKEN" "$JOB" >"$out/status.txt" 2>&1 \
  || { cat "$out/status.txt"; fail "lstmcluster status over HTTPS"; }
grep -q 'Succeeded' "$out/status.txt" || { cat "$out/status.txt"; fail "lstmcluster status does not say Succeeded"; }
head -5 "$out/status.txt" | sed 's/^/   /'

# ------------------------------------------------------------------------------ coordinator loss
# The operator's worst case: the coordinator's container dies without leaving (SIGKILL) and is started again.
# The rest of the cluster downs it (keep-majority), the new container rejoins through the parameter server,
# the singleton recovers the journal from the state volume, and the finished job serves the same files.
step "SIGKILL the coordinator container (seed), then start it again"
t_kill=$SECONDS
timeout 60 "${COMPOSE[@]}" kill -s SIGKILL seed 2>&1 | sed 's/^/   /' || fail "compose kill seed"
code="$(curl "${CA[@]}" "${AUTH[@]}" -s -o /dev/null -w '%{http_code}' --max-time 5 "$API/jobs/$JOB" || true)"
info "while it is down: GET /jobs/$JOB -> ${code:-no answer}"
timeout 300 "${COMPOSE[@]}" up -d --no-deps --no-build seed 2>&1 | sed 's/^/   /' || fail "compose up seed"
state=""
rm -f "$PROOF_DIR/job-after.json"
while [ $((SECONDS - t_kill)) -lt "$READY_TIMEOUT" ]; do
  curl "${CA[@]}" "${AUTH[@]}" -s --max-time 10 -o "$PROOF_DIR/job-after.json" "$API/jobs/$JOB" || true
  # No answer yet (the node is still joining): no file, no state.
  state="$( (sed -n 's/.*"state" *: *"\([A-Za-z]*\)".*/\1/p' "$PROOF_DIR/job-after.json" 2>/dev/null || true) | head -1 | tr '[:upper:]' '[:lower:]')"
  [ "$state" = succeeded ] && break
  sleep 2
done
[ "$state" = succeeded ] || fail "after the restart GET /jobs/$JOB did not answer Succeeded within ${READY_TIMEOUT} s: $(tr -d '\n' <"$PROOF_DIR/job-after.json" 2>/dev/null)"
RECOVERY_TIME=$((SECONDS - t_kill))
info "the restarted coordinator serves $JOB as Succeeded ${RECOVERY_TIME} s after the kill"
curl "${CA[@]}" "${AUTH[@]}" -fsS --max-time 30 "$API/jobs/$JOB/forecast?format=csv" -o "$out/forecast-after.csv" || fail "GET forecast after the restart"
cmp -s "$out/forecast.csv" "$out/forecast-after.csv" || fail "the forecast changed across the restart"
curl "${CA[@]}" "${AUTH[@]}" -fsS --max-time 30 "$API/jobs/$JOB/plot" -o "$out/plot-after.png" || fail "GET plot after the restart"
cmp -s "$out/plot.png" "$out/plot-after.png" || fail "the plot changed across the restart"
curl "${CA[@]}" "${AUTH[@]}" -fsS --max-time 30 "$API/jobs/$JOB/metrics" -o "$out/metrics-after.json" || fail "GET metrics after the restart"
cmp -s "$out/metrics.json" "$out/metrics-after.json" || fail "metrics.json changed across the restart"
info "forecast, plot and metrics are byte for byte the ones served before the kill"
code="$(curl "${CA[@]}" "${AUTH[@]}" -s -o "$PROOF_DIR/submit2.json" -w '%{http_code}' --max-time 60 -X POST "$API/jobs" \
  -F "data=@$REPO/samples/AirPassengers.csv" -F target=value -F season=12 -F lookback=24 -F epochs=1 -F hidden=8 -F layers=1 || true)"
[ "$code" = 202 ] || fail "POST /jobs after the restart answered ${code:-nothing}: $(cat "$PROOF_DIR/submit2.json" 2>/dev/null)"
NEXT="$(sed -n 's/.*"id" *: *"\([^"]*\)".*/\1/p' "$PROOF_DIR/submit2.json")"
[ "$NEXT" != "$JOB" ] || fail "the restarted coordinator reused the id $JOB"
info "a new job after the restart gets id $NEXT (ids are never reused)"

step "the nodes' log lines about the worker pool and $JOB (all logs: $out/containers.log)"
timeout 60 "${COMPOSE[@]}" logs --no-color > "$out/containers.log" 2>&1 || true
grep -E "joined the pool|$JOB" "$out/containers.log" | cut -c1-240 | head -20 | sed 's/^/   /' || true

step "summary"
info "TLS with mutual authentication between all $((2 + WORKERS)) nodes; a plaintext node was refused; the job API served HTTPS only"
info "workers: $WORKERS; from compose up: /ready 200 after ${TIME_TO_READY} s, all workers up after ${TIME_TO_ALL} s; job $JOB: ${JOB_TIME} s (submit to Succeeded)"
info "coordinator container SIGKILLed and restarted: $JOB served again after ${RECOVERY_TIME} s, same files; next id $NEXT"
info "results kept in $out"
