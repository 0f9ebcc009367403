#!/usr/bin/env bash
# Torch backend on the CPU: mobilenet_v2 single-image binary requests through the AOT gateway (1 and
# 2 callers) against raw in-process TorchSharp at the same batch size (1, on 1 and 2 threads), in one run, alternating
# gateway/raw/gateway/raw so that drift on a shared machine hits both. Prints medians.
#
#   scripts/bench-torch-cpu.sh [seconds per leg, default 20]
#   THREADS=1 scripts/bench-torch-cpu.sh   libtorch intra-op threads for both sides (default: libtorch's)
#
# Runs inside the Debian 13 root (scripts/debian13.sh), which libLibTorchSharp needs.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_PER_LEG="${1:-20}"
THREADS="${THREADS:-0}"
TOOL="$ROOT/artifacts/bin/Gateway.Throughput/release/Gateway.Throughput.dll"
GATEWAY="$ROOT/artifacts/publish/gateway/gateway"
MODEL="$ROOT/tests/fixtures/models/mobilenet_v2.pt"

if [ "${GATEWAY_BENCH_INSIDE:-}" != 1 ]; then
    cd "$ROOT"
    [ -x "$GATEWAY" ] || ./build.sh publish
    dotnet build bench/Gateway.Throughput -c Release -nologo -v q -clp:NoSummary >&2
    exec env GATEWAY_BENCH_INSIDE=1 GATEWAY_BENCH_THREADS="$THREADS" scripts/debian13.sh "$0" "$SECONDS_PER_LEG"
fi

THREADS="${GATEWAY_BENCH_THREADS:-$THREADS}"
repository=$(mktemp -d)
mkdir -p "$repository/mobilenet_v2/1"
ln -s "$MODEL" "$repository/mobilenet_v2/1/model.pt"
cat >"$repository/mobilenet_v2/config.json" <<'EOF'
{
  "backend": "torch",
  "instance_count": 2,
  "input": [ { "name": "input", "data_type": "TYPE_FP32", "dims": [-1, 3, 224, 224] } ],
  "output": [ { "name": "logits", "data_type": "TYPE_FP32", "dims": [-1, 1000] } ]
}
EOF
port=18431
# Two execution instances (config above), so that two callers can run two forward passes at once
# as the two raw threads do. Authentication off, as in the load runner: this compares the Torch
# path with raw TorchSharp (authentication has its own benchmark); the user store goes to the
# temporary directory.
(cd "$(dirname "$GATEWAY")" && exec "$GATEWAY" --model-repository "$repository" --urls "http://127.0.0.1:$port" --Logging:LogLevel:Default Warning --Torch:IntraOpThreads "$THREADS" \
    --Auth:Mode none --RateLimit:Enabled false --Storage:SqlitePath "$repository/gateway.db") &
gateway_pid=$!
trap 'kill "$gateway_pid" 2>/dev/null; rm -rf "$repository"' EXIT
for _ in $(seq 1 600); do
    if exec 3<>"/dev/tcp/127.0.0.1/$port" 2>/dev/null; then
        printf 'GET /v2/health/ready HTTP/1.0\r\n\r\n' >&3
        if head -1 <&3 | grep -q ' 200 '; then exec 3>&-; break; fi
        exec 3>&-
    fi
    sleep 0.1
done

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg), intra-op threads ${THREADS/#0/default}; $(date -u +%Y-%m-%dT%H:%MZ)"
results=$(mktemp)
# Same batch size (1) on both sides; N callers against N raw threads.
for leg in 1 2 3 4; do
    for n in 1 2; do
        dotnet "$TOOL" http --url "http://127.0.0.1:$port" --model mobilenet_v2 --batch 1 --concurrency "$n" --seconds "$SECONDS_PER_LEG" |
            tee -a /dev/stderr | sed -n "s/^windows: /gateway-x$n /p" >>"$results"
        dotnet "$TOOL" raw --backend torch --model "$MODEL" --batch 1 --parallel "$n" --seconds "$SECONDS_PER_LEG" --threads "$THREADS" |
            tee -a /dev/stderr | sed -n "s/^windows: /raw-x$n /p" >>"$results"
    done
done
# All one-second windows of each side pooled over the four alternating legs.
awk '{ for (i = 2; i <= NF; i++) print $1, $i }' "$results" | sort -k1,1 -k2,2g | awk '
    { v[$1, ++n[$1]] = $2 }
    END {
        for (side in n) { c = n[side]; m[side] = (c % 2) ? v[side, (c + 1) / 2] : (v[side, c / 2] + v[side, c / 2 + 1]) / 2 }
        for (k = 1; k <= 2; k++)
            printf "%d caller(s), batch 1: gateway %.1f img/s, raw %.1f img/s (medians of %d and %d windows), gateway / raw %.2f\n",
                k, m["gateway-x" k], m["raw-x" k], n["gateway-x" k], n["raw-x" k], m["gateway-x" k] / m["raw-x" k]
    }'
rm -f "$results"
