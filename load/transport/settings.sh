#!/usr/bin/env bash
# Low-latency transport and scheduling settings, each against the default, on `identity`: the same
# AOT binary in several configurations (CONFIGS, below), one process each, measured alternately
# round after round with wrk. Per round and configuration: p50 of the constant GET
# (/v2/health/live) and of a JSON infer with one connection, then saturated throughput of both
# with 2 threads and 32 connections. Prints each run, then medians, the issue-3 ratios (infer p50 /
# GET p50 at one connection, infer rps / GET rps at saturation) and each configuration against
# the first.
#   [CONFIGS="default sock-inline ..."] load/transport/settings.sh [rounds=8] [seconds=3]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LUA="$ROOT/load/telemetry/infer.lua"
ROUNDS="${1:-8}"
SECONDS_PER_RUN="${2:-3}"
# shellcheck source=../wrk-common.sh
source "$ROOT/load/wrk-common.sh"

# Authentication off and ASP.NET Core's per-request lines at Warning in all (as the load runner
# does): this measures the transport and the protocol path alone.
common=(--model-repository "$WORK/models" --Auth:Mode none --RateLimit:Enabled false)
# The configurations, the first being the baseline:
#   default             the shipped defaults (inline execution of short models on, Kestrel's socket scheduling off)
#   no-inline-exec      Gateway:InlineExecutionMicroseconds=0: every request handed to the model's execution thread
#   sock-inline         Gateway:InlineSocketScheduling=true (Kestrel's UnsafePreferInlineScheduling)
#   inline-completions  DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 (socket completions on the epoll thread)
#   no-spin             DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0 (idle thread-pool workers sleep at once)
CONFIGS=(${CONFIGS:-default no-inline-exec sock-inline inline-completions no-spin})
start() { # name port
    local base=("$BINARY" --urls "http://127.0.0.1:$2" "${common[@]}" --Storage:SqlitePath "$WORK/$1.db")
    case "$1" in
        default) exec "${base[@]}" ;;
        no-inline-exec) exec "${base[@]}" --Gateway:InlineExecutionMicroseconds 0 ;;
        sock-inline) exec "${base[@]}" --Gateway:InlineSocketScheduling true ;;
        inline-completions) exec env DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 "${base[@]}" ;;
        no-spin) exec env DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0 "${base[@]}" ;;
        *) echo "unknown configuration $1" >&2; exit 2 ;;
    esac
}
declare -A PORT
port=18181
for config in "${CONFIGS[@]}"; do
    PORT[$config]=$port
    start "$config" "$port" > "$WORK/$config.log" 2>&1 & PIDS+=($!)
    port=$((port + 1))
done
for config in "${CONFIGS[@]}"; do
    ready=0
    for _ in $(seq 300); do curl -sf "http://127.0.0.1:${PORT[$config]}/v2/health/ready" >/dev/null && { ready=1; break; }; sleep 0.1; done
    [ "$ready" = 1 ] || { echo "$config did not become ready; its log:" >&2; cat "$WORK/$config.log" >&2; exit 1; }
done

errors() { awk '/Non-2xx|Socket errors/ { bad=1 } END { print bad+0 }'; }
run() { # url lua-or-empty connections threads -> wrk output; fails on any non-2xx answer
    local out
    if [ -n "$2" ]; then out=$(wrk -t"$4" -c"$3" -d"${SECONDS_PER_RUN}s" --latency -s "$2" "$1"); else out=$(wrk -t"$4" -c"$3" -d"${SECONDS_PER_RUN}s" --latency "$1"); fi
    [ "$(errors <<<"$out")" = 0 ] || { echo "wrk saw errors against $1:" >&2; echo "$out" >&2; exit 1; }
    echo "$out"
}

# Warm each up (connection pools, ONNX Runtime arenas).
for config in "${CONFIGS[@]}"; do run "http://127.0.0.1:${PORT[$config]}/v2/models/identity/infer" "$LUA" 4 1 >/dev/null; done

declare -A GP IP GR IR LAT THR
for round in $(seq "$ROUNDS"); do
    for config in "${CONFIGS[@]}"; do
        base="http://127.0.0.1:${PORT[$config]}"
        gp=$(run "$base/v2/health/live" "" 1 1 | p50_us)
        ip=$(run "$base/v2/models/identity/infer" "$LUA" 1 1 | p50_us)
        gr=$(run "$base/v2/health/live" "" 32 2 | rps)
        ir=$(run "$base/v2/models/identity/infer" "$LUA" 32 2 | rps)
        GP[$config]+="$gp "; IP[$config]+="$ip "; GR[$config]+="$gr "; IR[$config]+="$ir "
        LAT[$config]+="$(awk -v a="$ip" -v b="$gp" 'BEGIN { print a/b }') "; THR[$config]+="$(awk -v a="$ir" -v b="$gr" 'BEGIN { print a/b }') "
        printf 'round %d %-18s GET p50 %6.1f us  infer p50 %6.1f us  GET %9.1f req/s  infer %9.1f req/s\n' "$round" "$config" "$gp" "$ip" "$gr" "$ir"
    done
done

first="${CONFIGS[0]}"
ip0=$(med "${IP[$first]}"); ir0=$(med "${IR[$first]}")
echo
echo "medians of $ROUNDS rounds (${SECONDS_PER_RUN} s per run); /GET: median of the rounds' infer/GET ratios within the configuration; (%): infer against $first"
for config in "${CONFIGS[@]}"; do
    gp=$(med "${GP[$config]}"); ip=$(med "${IP[$config]}"); gr=$(med "${GR[$config]}"); ir=$(med "${IR[$config]}")
    printf 'median %-18s GET p50 %6.1f  infer p50 %6.1f us (%s, /GET %s)  GET %9.1f  infer %9.1f req/s (%s, /GET %s)\n' "$config" \
        "$gp" "$ip" "$(pct "$ip0" "$ip")" "$(printf '%.2f' "$(med "${LAT[$config]}")")" "$gr" "$ir" "$(pct "$ir0" "$ir")" "$(printf '%.2f' "$(med "${THR[$config]}")")"
done
