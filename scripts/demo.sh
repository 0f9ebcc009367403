#!/usr/bin/env bash
# The whole stack on loopback, then a tour and a soak: ./build.sh demo [--soak-seconds N] [--soak-rate R].
#
# ./build.sh demo starts PostgreSQL 15 and Redis 7 (services_start) and calls this script with
# GATEWAY_TEST_POSTGRES and GATEWAY_TEST_REDIS set. This script starts, in a throwaway folder:
#   - two replicas of the Native-AOT gateway (artifacts/publish/gateway/gateway) sharing the
#     database, Redis and one JWT signing key, each with its /metrics on a separate listener;
#   - nginx in front of them with deploy/nginx/gateway.conf (addresses substituted);
#   - Prometheus scraping both replicas every 2 s;
# a model repository with identity, mobilenet_v2 (dynamic batching) and bert_tiny (inference for
# supervisors and admins only) from tests/fixtures/models, and secrets as files. Then
# load/Gateway.Demo seeds one user per role, runs the tour and the soak, and prints the figures.
# Everything started here is stopped on the way out, failure or Ctrl+C included (trap); logs and
# the demo's report are kept in artifacts/demo/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BINARY="${GATEWAY_BINARY:-$ROOT/artifacts/publish/gateway/gateway}"
FIXTURES="$ROOT/tests/fixtures/models"
OUT="$ROOT/artifacts/demo"
: "${GATEWAY_TEST_POSTGRES:?run through ./build.sh demo, which starts PostgreSQL and Redis}"
: "${GATEWAY_TEST_REDIS:?run through ./build.sh demo, which starts PostgreSQL and Redis}"
[ -x "$BINARY" ] || { echo "demo: $BINARY is missing: ./build.sh publish" >&2; exit 1; }
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Waits until a URL answers 2xx (curl-free: bash's /dev/tcp is not enough for HTTP status).
wait_http() {
    local url=$1 what=$2 pid=$3 i
    for i in $(seq 1 600); do
        if python3 - "$url" <<'PY' 2>/dev/null; then return 0; fi
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=1)
PY
        kill -0 "$pid" 2>/dev/null || { echo "demo: $what exited while starting; its log:" >&2; tail -n 30 "$WORK/logs/$what.log" >&2; return 1; }
        sleep 0.1
    done
    echo "demo: $what did not answer $url within 60 s" >&2
    return 1
}

WORK="$(mktemp -d /tmp/gateway-demo.XXXXXX)"
# Run as root, nginx's workers drop to an unprivileged user that must reach the temp paths.
chmod 755 "$WORK"
mkdir -p "$WORK/logs" "$WORK/secrets" "$WORK/prometheus" "$OUT"
declare -A PIDS=()

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    echo
    echo "== stopping the demo stack"
    # Replicas first, gracefully (SIGTERM: stop accepting, finish in flight, exit 0).
    local name
    for name in replica-a replica-b; do
        [ -n "${PIDS[$name]:-}" ] && kill -TERM "${PIDS[$name]}" 2>/dev/null || true
    done
    for name in replica-a replica-b; do
        if [ -n "${PIDS[$name]:-}" ]; then
            local code=0
            wait "${PIDS[$name]}" 2>/dev/null || code=$?
            echo "$name exited with code $code"
            unset "PIDS[$name]"
        fi
    done
    [ -n "${PIDS[nginx]:-}" ] && kill -QUIT "${PIDS[nginx]}" 2>/dev/null || true
    [ -n "${PIDS[prometheus]:-}" ] && kill -TERM "${PIDS[prometheus]}" 2>/dev/null || true
    for name in "${!PIDS[@]}"; do
        wait "${PIDS[$name]}" 2>/dev/null || true
    done
    rm -rf "$OUT/logs"
    cp -r "$WORK/logs" "$OUT/logs" 2>/dev/null || true
    rm -rf "$WORK"
    echo "logs: $OUT/logs"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- models -----------------------------------------------------------------------------------
MODELS="$WORK/models"
for model in identity mobilenet_v2 bert_tiny; do
    mkdir -p "$MODELS/$model/1"
    ln -s "$FIXTURES/$model.onnx" "$MODELS/$model/1/model.onnx"
done
cat > "$MODELS/mobilenet_v2/config.json" <<'JSON'
{
  // Images from several callers are merged into one run of up to 8 (docs/CONFIGURATION.md).
  "max_batch_size": 8,
  "dynamic_batching": { "preferred_batch_size": [4, 8], "max_queue_delay_microseconds": 2000, "max_queue_size": 256 }
}
JSON
cat > "$MODELS/bert_tiny/config.json" <<'JSON'
{
  // Per-model access: workers may run identity and mobilenet_v2, not this one (docs/AUTH.md).
  "access": { "roles": ["supervisor", "admin"] }
}
JSON

# --- secrets (files in Secrets:Directory, as /run/secrets in a container) ---------------------
ADMIN_PASSWORD="demo-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
printf 'k1:%s' "$(head -c 32 /dev/urandom | basenc --base64url | tr -d '=')" > "$WORK/secrets/Auth__JwtSigningKeys"
printf '%s' "$ADMIN_PASSWORD" > "$WORK/secrets/Auth__BootstrapAdminPassword"

# --- two replicas -----------------------------------------------------------------------------
PORT_A=$(free_port); PORT_B=$(free_port); METRICS_A=$(free_port); METRICS_B=$(free_port)
start_replica() {
    local name=$1 port=$2 metrics=$3
    Storage__Postgres="$GATEWAY_TEST_POSTGRES" \
    Redis__Configuration="$GATEWAY_TEST_REDIS" \
    Redis__Channel="demo:revocations" Redis__KeyPrefix="demo:" \
    ASPNETCORE_FORWARDEDHEADERS_ENABLED=true \
        "$BINARY" --urls "http://127.0.0.1:$port" --model-repository "$MODELS" \
        --Secrets:Directory "$WORK/secrets" \
        --Telemetry:Metrics:Url "http://127.0.0.1:$metrics" --Telemetry:Metrics:RequiredRole open \
        > "$WORK/logs/$name.log" 2>&1 &
    PIDS[$name]=$!
}
echo "== starting two gateway replicas (AOT binary $BINARY)"
start_replica replica-a "$PORT_A" "$METRICS_A"
start_replica replica-b "$PORT_B" "$METRICS_B"
wait_http "http://127.0.0.1:$PORT_A/v2/health/ready" replica-a "${PIDS[replica-a]}"
wait_http "http://127.0.0.1:$PORT_B/v2/health/ready" replica-b "${PIDS[replica-b]}"
echo "replica A: http://127.0.0.1:$PORT_A (pid ${PIDS[replica-a]}, metrics :$METRICS_A)"
echo "replica B: http://127.0.0.1:$PORT_B (pid ${PIDS[replica-b]}, metrics :$METRICS_B)"

# --- nginx ------------------------------------------------------------------------------------
PORT_NGINX=$(free_port)
sed -e "s/listen 127.0.0.1:8080;/listen 127.0.0.1:$PORT_NGINX;/" \
    -e "s/server 127.0.0.1:8081 /server 127.0.0.1:$PORT_A /" \
    -e "s/server 127.0.0.1:8082 /server 127.0.0.1:$PORT_B /" \
    "$ROOT/deploy/nginx/gateway.conf" > "$WORK/gateway.conf"
cat > "$WORK/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/logs/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $WORK/client_body;
    proxy_temp_path $WORK/proxy;
    fastcgi_temp_path $WORK/fastcgi;
    uwsgi_temp_path $WORK/uwsgi;
    scgi_temp_path $WORK/scgi;
    include $WORK/gateway.conf;
}
CONF
"$NGINX" -e "$WORK/logs/nginx-error.log" -p "$WORK" -c "$WORK/nginx.conf" > "$WORK/logs/nginx.log" 2>&1 &
PIDS[nginx]=$!
wait_http "http://127.0.0.1:$PORT_NGINX/health/live" nginx "${PIDS[nginx]}"
echo "nginx:     http://127.0.0.1:$PORT_NGINX (deploy/nginx/gateway.conf)"

# --- Prometheus -------------------------------------------------------------------------------
PORT_PROMETHEUS=$(free_port)
cat > "$WORK/prometheus.yml" <<YAML
global:
  scrape_interval: 2s
  evaluation_interval: 2s
scrape_configs:
  - job_name: gateway
    static_configs:
      - targets: ['127.0.0.1:$METRICS_A']
        labels: { replica: a }
      - targets: ['127.0.0.1:$METRICS_B']
        labels: { replica: b }
YAML
prometheus --config.file "$WORK/prometheus.yml" --storage.tsdb.path "$WORK/prometheus" \
    --web.listen-address "127.0.0.1:$PORT_PROMETHEUS" > "$WORK/logs/prometheus.log" 2>&1 &
PIDS[prometheus]=$!
wait_http "http://127.0.0.1:$PORT_PROMETHEUS/-/ready" prometheus "${PIDS[prometheus]}"
echo "prometheus: http://127.0.0.1:$PORT_PROMETHEUS (scraping both replicas every 2 s)"

# --- tour and soak ----------------------------------------------------------------------------
echo "== building the demo driver (load/Gateway.Demo)"
dotnet build "$ROOT/load/Gateway.Demo/Gateway.Demo.csproj" -c Release -nologo -v quiet -clp:NoSummary >/dev/null
set +e
dotnet "$ROOT/artifacts/bin/Gateway.Demo/release/Gateway.Demo.dll" \
    --nginx "http://127.0.0.1:$PORT_NGINX" \
    --replica "a=http://127.0.0.1:$PORT_A,${PIDS[replica-a]}" \
    --replica "b=http://127.0.0.1:$PORT_B,${PIDS[replica-b]}" \
    --prometheus "http://127.0.0.1:$PORT_PROMETHEUS" \
    --models "$FIXTURES" --admin-password-file "$WORK/secrets/Auth__BootstrapAdminPassword" \
    --report "$OUT/report.txt" "$@"
rc=$?
set -e
exit $rc
