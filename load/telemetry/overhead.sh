#!/usr/bin/env bash
# Telemetry overhead on `identity`: the same AOT binary in several configurations (CONFIGS, see
# below), one process each, run alternately round after round; OTLP goes to a sink on loopback,
# /metrics is scraped once a run. All keep ASP.NET Core's per-request lines at Warning (the
# gateway's default on the perf branch). Per round and configuration: p50 latency with one
# connection, then saturated throughput with 32 connections (wrk). Prints each run, then the
# medians against the first configuration.
#   [CONFIGS="off on on-1"] load/telemetry/overhead.sh [rounds=15] [seconds=3]
# Short runs, many rounds: the cores are shared, and fine interleaving spreads the others' load
# evenly over the configurations.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/load/telemetry"
ROUNDS="${1:-15}"
SECONDS_PER_RUN="${2:-3}"
# shellcheck source=../wrk-common.sh
source "$ROOT/load/wrk-common.sh"

# The OTLP sink: nginx answering 200 to every POST (it reads and drops bodies in C, so the sink
# takes little of the 2 cores from the gateway), or a Python stand-in where nginx is missing.
if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then
    cat > "$WORK/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/sink.log;
events {}
http {
    access_log off;
    client_max_body_size 64m;
    client_body_buffer_size 16m;
    server { listen 127.0.0.1:14318; location / { return 200; } }
}
CONF
    "$(command -v nginx || echo /usr/sbin/nginx)" -c "$WORK/nginx.conf" -p "$WORK" & PIDS+=($!)
    echo "OTLP sink: nginx"
else
    python3 "$HERE/otlp_sink.py" 14318 > "$WORK/sink.log" 2>&1 & PIDS+=($!)
    echo "OTLP sink: python (apt-get install nginx-light for a cheaper one)"
fi
# Authentication off in every configuration (its cost is measured in its own section; with it on,
# the rate limit would cap the load): this measures telemetry alone.
common=(--model-repository "$WORK/models" --Logging:LogLevel:Microsoft.AspNetCore Warning --Auth:Mode none --Storage:SqlitePath "$WORK/gateway.db")
otlp=(env OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:14318 OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf)
# The configurations to compare, the first being the baseline (CONFIGS="off on" by default):
#   off      no OTLP endpoint, Prometheus metrics off, logging off
#   local    Prometheus metrics and JSON logs on, no OTLP endpoint
#   on       local + OTLP traces (every span sampled), metrics and logs
#   on-10    on, sampling 10% of traces (OTEL_TRACES_SAMPLER=parentbased_traceidratio)
#   on-1     on, sampling 1% of traces
#   notrace  local + OTLP metrics and logs, no traces
# Each piece alone against off (Prometheus metrics and console logs off as in off):
#   traces-1 OTLP traces only, 1% sampled       metrics  OTLP metrics only
#   logs     OTLP logs only, at Information (console logs off)
# A name prefixed with base: runs BASE_BINARY instead (e.g. CONFIGS="off base:off on-1 base:on-1"
# BASE_BINARY=/work/base/artifacts/publish/gateway/gateway): the baseline binary in the same run.
CONFIGS=(${CONFIGS:-off on})
quiet=(--Telemetry:Metrics:Enabled false --Logging:LogLevel:Default None)
start() { # name port
    local BINARY="$BINARY"
    if [[ "$1" == base:* ]]; then
        BINARY="${BASE_BINARY:?BASE_BINARY must name the baseline binary for $1}"
        set -- "${1#base:}" "$2"
    fi
    # Each process its own identity store: several migrating one SQLite file at once fail.
    common+=(--Storage:SqlitePath "$WORK/$1-$2.db")
    case "$1" in
        off) exec "$BINARY" --urls "http://127.0.0.1:$2" "${common[@]}" "${quiet[@]}" ;;
        traces-1) exec "${otlp[@]}" OTEL_METRICS_EXPORTER=none OTEL_LOGS_EXPORTER=none OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0.01 \
            "$BINARY" --urls "http://127.0.0.1:$2" "${common[@]}" "${quiet[@]}" ;;
        metrics) exec "${otlp[@]}" OTEL_TRACES_EXPORTER=none OTEL_LOGS_EXPORTER=none "$BINARY" --urls "http://127.0.0.1:$2" "${common[@]}" "${quiet[@]}" ;;
        logs) exec "${otlp[@]}" OTEL_TRACES_EXPORTER=none OTEL_METRICS_EXPORTER=none "$BINARY" --urls "http://127.0.0.1:$2" "${common[@]}" \
            --Telemetry:Metrics:Enabled false --Logging:LogLevel:Default Information --Logging:Console:LogLevel:Default None ;;
        local) exec "$BINARY" --urls "http://127.0.0.1:$2" "${common[@]}" ;;
        on) exec "${otlp[@]}" "$BINARY" --urls "http://127.0.0.1:$2" "${common[@]}" ;;
        on-10) exec "${otlp[@]}" OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0.1 "$BINARY" --urls "http://127.0.0.1:$2" "${common[@]}" ;;
        on-1) exec "${otlp[@]}" OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0.01 "$BINARY" --urls "http://127.0.0.1:$2" "${common[@]}" ;;
        notrace) exec "${otlp[@]}" OTEL_TRACES_EXPORTER=none "$BINARY" --urls "http://127.0.0.1:$2" "${common[@]}" ;;
        *) echo "unknown configuration $1" >&2; exit 2 ;;
    esac
}
declare -A PORT GPID
port=18081
for config in "${CONFIGS[@]}"; do
    PORT[$config]=$port
    start "$config" "$port" > "$WORK/$config.log" 2>&1 & PIDS+=($!); GPID[$config]=$!
    port=$((port + 1))
done
for config in "${CONFIGS[@]}"; do
    for _ in $(seq 200); do curl -sf "http://127.0.0.1:${PORT[$config]}/v2/health/ready" >/dev/null && break; sleep 0.1; done
done

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; } # user + system, in clock ticks

# Warm each up (connection pools, ONNX Runtime arenas, the exporters' first batches).
for config in "${CONFIGS[@]}"; do wrk -t1 -c4 -d3s -s "$HERE/infer.lua" "http://127.0.0.1:${PORT[$config]}/v2/models/identity/infer" >/dev/null; done

declare -A P50 RPS CPU
TICK_US=$((1000000 / $(getconf CLK_TCK)))
for round in $(seq "$ROUNDS"); do
    for config in "${CONFIGS[@]}"; do
        url="http://127.0.0.1:${PORT[$config]}/v2/models/identity/infer"
        p=$(wrk -t1 -c1 -d"${SECONDS_PER_RUN}s" --latency -s "$HERE/infer.lua" "$url" | p50_us)
        before=$(cpu_ticks "${GPID[$config]}")
        out=$(wrk -t2 -c32 -d"${SECONDS_PER_RUN}s" -s "$HERE/infer.lua" "$url")
        after=$(cpu_ticks "${GPID[$config]}")
        r=$(rps <<<"$out")
        # The gateway's own CPU per request: steadier than throughput when others share the cores.
        c=$(awk -v t=$(((after - before) * TICK_US)) -v n="$(awk '/requests in/ { print $1 }' <<<"$out")" 'BEGIN { printf "%.2f", t / n }')
        curl -sf "http://127.0.0.1:${PORT[$config]}/metrics" >/dev/null || true
        P50[$config]+="$p "; RPS[$config]+="$r "; CPU[$config]+="$c "
        printf 'round %d %-8s p50 %8.1f us  throughput %9.1f req/s  cpu %6.2f us/req\n' "$round" "$config" "$p" "$r" "$c"
    done
done

base="${CONFIGS[0]}"
p_base=$(med "${P50[$base]}"); r_base=$(med "${RPS[$base]}"); c_base=$(med "${CPU[$base]}")
for config in "${CONFIGS[@]}"; do
    p=$(med "${P50[$config]}"); r=$(med "${RPS[$config]}"); c=$(med "${CPU[$config]}")
    printf 'median %-8s p50 %7.1f us (%s)  throughput %9.1f req/s (%s)  cpu %6.2f us/req (%s)\n' "$config" \
        "$p" "$(pct "$p_base" "$p")" "$r" "$(pct "$r_base" "$r")" "$c" "$(pct "$c_base" "$c")"
done
