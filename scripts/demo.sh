#!/usr/bin/env bash
# The production compose stack, then a tour and a soak: ./build.sh demo [--soak-seconds N] [--soak-rate R].
#
# ./build.sh demo builds the images (./build.sh image cpu: stand-ins for the base images first
# where no registry answers) and calls this script, which starts docker-compose.prod.yml exactly
# as docs/RUNBOOK.md does (make-secrets.sh, then up -d), with deploy/compose/demo.yml on top so
# each replica is also published on 127.0.0.1, as the project "inference-gateway-demo":
#   - nginx (deploy/nginx/gateway.conf) in front of gateway-a and gateway-b (inference-gateway:cpu,
#     read-only, uid 65532), sharing PostgreSQL, Redis and one JWT signing key (Compose secrets);
#   - Prometheus scraping both replicas every 10 s, with the alert rules and the readiness prober;
# a model repository with identity, mobilenet_v2 (dynamic batching) and bert_tiny (inference for
# supervisors and admins only) from tests/fixtures/models. Then load/Gateway.Demo seeds one user
# per role, runs the tour and the soak through the published ports, reads each replica's RSS
# from /proc (the containers' processes, as the host sees them), and prints the figures.
# The stack is removed on the way out, failure or Ctrl+C included (trap), volumes too; the
# containers' logs and the demo's report are kept in artifacts/demo/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
FIXTURES="$ROOT/tests/fixtures/models"
OUT="$ROOT/artifacts/demo"
export COMPOSE_PROJECT_NAME="${COMPOSE_PROJECT_NAME:-inference-gateway-demo}"
export COMPOSE_FILE="docker-compose.prod.yml:deploy/compose/demo.yml"
export GATEWAY_IMAGE="${GATEWAY_IMAGE:-inference-gateway:cpu}"
export GATEWAY_ADDRESS=127.0.0.1 GATEWAY_PORT= PROMETHEUS_PORT=
# The backend network's own /24, beside an operator's stack (172.16.87) or the tests' (172.16.88).
export BACKEND_PREFIX="${BACKEND_PREFIX:-172.16.89}"

WORK="$(mktemp -d /tmp/gateway-demo.XXXXXX)"
chmod 755 "$WORK"
export GATEWAY_MODELS="$WORK/models"
mkdir -p "$OUT"

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    echo
    echo "== stopping the demo stack (docker-compose down -v)"
    rm -rf "$OUT/logs"
    mkdir -p "$OUT/logs"
    local service
    for service in gateway-a gateway-b nginx postgres redis prometheus blackbox-exporter; do
        docker-compose logs --no-color "$service" > "$OUT/logs/$service.log" 2>&1 || true
    done
    docker-compose down -v --remove-orphans >/dev/null 2>&1 || true
    rm -rf "$WORK"
    echo "logs: $OUT/logs"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- models (copies: the containers cannot follow links out of the mounted folder) ------------
for model in identity mobilenet_v2 bert_tiny; do
    mkdir -p "$GATEWAY_MODELS/$model/1"
    cp "$FIXTURES/$model.onnx" "$GATEWAY_MODELS/$model/1/model.onnx"
done
cat > "$GATEWAY_MODELS/mobilenet_v2/config.json" <<'JSON'
{
  // Images from several callers are merged into one run of up to 8 (docs/CONFIGURATION.md).
  "max_batch_size": 8,
  "dynamic_batching": { "preferred_batch_size": [4, 8], "max_queue_delay_microseconds": 2000, "max_queue_size": 256 }
}
JSON
cat > "$GATEWAY_MODELS/bert_tiny/config.json" <<'JSON'
{
  // Per-model access: workers may run identity and mobilenet_v2, not this one (docs/AUTH.md).
  "access": { "roles": ["supervisor", "admin"] }
}
JSON
# The gateway runs as uid 65532: everything readable.
chmod -R a+rX "$GATEWAY_MODELS"

# --- the stack, as the runbook starts it ------------------------------------------------------
./deploy/compose/make-secrets.sh
docker-compose down -v --remove-orphans >/dev/null 2>&1 || true
echo "== docker-compose up -d ($COMPOSE_FILE, project $COMPOSE_PROJECT_NAME, image $GATEWAY_IMAGE)"
start=$SECONDS
docker-compose up -d
services=(gateway-a gateway-b nginx postgres redis prometheus blackbox-exporter)
for i in $(seq 1 240); do
    pending=()
    for service in "${services[@]}"; do
        id=$(docker-compose ps -q "$service")
        state=$( [ -n "$id" ] && docker inspect -f '{{.State.Status}}/{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$id" || echo missing)
        case "$state" in running/healthy | running/none) ;; *) pending+=("$service:$state") ;; esac
    done
    [ ${#pending[@]} -eq 0 ] && break
    [ "$i" -lt 240 ] || { echo "demo: not healthy within 120 s: ${pending[*]}" >&2; exit 1; }
    sleep 0.5
done
echo "every service healthy $((SECONDS - start)) s after up -d"

address() { echo "http://$(docker-compose port "$1" "$2" | head -1)"; }
pid() { docker inspect -f '{{.State.Pid}}' "$(docker-compose ps -q "$1")"; }
NGINX=$(address nginx 8080)
PROMETHEUS=$(address prometheus 9090)
A=$(address gateway-a 8080)
B=$(address gateway-b 8080)
echo "nginx:      $NGINX (deploy/nginx/gateway.conf)"
echo "replica a:  $A (container process $(pid gateway-a))"
echo "replica b:  $B (container process $(pid gateway-b))"
echo "prometheus: $PROMETHEUS (scraping both replicas every 10 s)"

# --- tour and soak ----------------------------------------------------------------------------
echo "== building the demo driver (load/Gateway.Demo)"
dotnet build "$ROOT/load/Gateway.Demo/Gateway.Demo.csproj" -c Release -nologo -v quiet -clp:NoSummary >/dev/null
set +e
dotnet "$ROOT/artifacts/bin/Gateway.Demo/release/Gateway.Demo.dll" \
    --nginx "$NGINX" \
    --replica "a=$A,$(pid gateway-a)" \
    --replica "b=$B,$(pid gateway-b)" \
    --prometheus "$PROMETHEUS" \
    --models "$FIXTURES" --admin-password-file "$ROOT/secrets/bootstrap_admin_password" \
    --report "$OUT/report.txt" "$@"
rc=$?
set -e
exit $rc
