#!/usr/bin/env bash
# Telemetry overhead on `identity`: the same AOT binary in several configurations (CONFIGS, see
# below), one process each, run alternately round after round; OTLP goes to a sink on loopback,
# /metrics is scraped once a run. All keep ASP.NET Core's per-request lines at Warning (the
# gateway's default on the perf branch). Per round and configuration: p50 latency with one
# connection, then saturated throughput with 32 connections (wrk). Prints each run, then the
# medians against the first configuration.
#   [CONFIGS="off on on-1"] [PIN=1] load/telemetry/overhead.sh [rounds=15] [seconds=3]
# PIN=1 puts every gateway on core 1 and wrk on core 0: the throughput is then what one core does,
# not how the scheduler happens to share two between the gateway and the load generator (on this
# 2-core machine that sharing moved single runs by ±6%, more than the pieces being measured).
# Short runs, many rounds: the cores are shared, and fine interleaving spreads the others' load
# evenly over the configurations.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/load/telemetry"
ROUNDS="${1:-15}"
SECONDS_PER_RUN="${2:-3}"
# shellcheck source=../wrk-common.sh
source "$ROOT/load/wrk-common.sh"

# shellcheck source=configs.sh
source "$HERE/configs.sh"
CONFIGS=(${CONFIGS:-off on})
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

PIN="${PIN:-0}"
if [ "$PIN" = 1 ]; then
    for config in "${CONFIGS[@]}"; do taskset -a -p -c 1 "${GPID[$config]}" >/dev/null; done
fi
load() { if [ "$PIN" = 1 ]; then taskset -c 0 wrk "$@"; else wrk "$@"; fi; }

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; } # user + system, in clock ticks

# Warm each up (connection pools, ONNX Runtime arenas, the exporters' first batches).
for config in "${CONFIGS[@]}"; do load -t1 -c4 -d3s -s "$HERE/infer.lua" "http://127.0.0.1:${PORT[$config]}/v2/models/identity/infer" >/dev/null; done

declare -A P50 RPS CPU
TICK_US=$((1000000 / $(getconf CLK_TCK)))
for round in $(seq "$ROUNDS"); do
    for config in "${CONFIGS[@]}"; do
        url="http://127.0.0.1:${PORT[$config]}/v2/models/identity/infer"
        p=$(load -t1 -c1 -d"${SECONDS_PER_RUN}s" --latency -s "$HERE/infer.lua" "$url" | p50_us)
        before=$(cpu_ticks "${GPID[$config]}")
        out=$(load -t2 -c32 -d"${SECONDS_PER_RUN}s" -s "$HERE/infer.lua" "$url")
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
