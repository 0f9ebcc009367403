#!/usr/bin/env bash
# Where the gateway's CPU goes at saturation, by piece of telemetry: `perf` samples the AOT binary
# (its symbols are in it) in one configuration of configs.sh while wrk drives `identity` with 32
# connections, and the samples are grouped by symbol name. A share of the process's own samples
# does not move with the load the other processes put on the cores, as throughput does, so this is
# how each piece's cost is measured apart; overhead.sh gives the throughput they add up to.
#   [PIN=1] load/telemetry/profile.sh CONFIG [seconds=10]   (CONFIG as in configs.sh, base: prefix too)
# PIN=1: the gateway on core 1 and wrk on core 0, as in overhead.sh. Prints each group's share of
# the process's samples and, from the samples' CPU time and wrk's request count, its µs per request.
# PROFILE_OUT=FILE keeps every symbol's share.
# Needs perf (apt-get install linux-perf) and the right to profile (root, or perf_event_paranoid ≤ 1).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/load/telemetry"
CONFIG="${1:?usage: profile.sh CONFIG [seconds]}"
SECONDS_PER_RUN="${2:-10}"
command -v perf >/dev/null || { echo "perf is missing: apt-get install linux-perf" >&2; exit 2; }
# shellcheck source=../wrk-common.sh
source "$ROOT/load/wrk-common.sh"
# shellcheck source=configs.sh
source "$HERE/configs.sh"

port=18181
start "$CONFIG" "$port" > "$WORK/gateway.log" 2>&1 & PIDS+=($!); pid=$!
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$port/v2/health/ready" >/dev/null && break; sleep 0.1; done
load=(wrk)
if [ "${PIN:-0}" = 1 ]; then
    taskset -a -p -c 1 "$pid" >/dev/null
    load=(taskset -c 0 wrk)
fi
url="http://127.0.0.1:$port/v2/models/identity/infer"
"${load[@]}" -t2 -c32 -d3s -s "$HERE/infer.lua" "$url" >/dev/null # warm-up
"${load[@]}" -t2 -c32 -d"$((SECONDS_PER_RUN + 2))s" -s "$HERE/infer.lua" "$url" > "$WORK/wrk.txt" & driver=$!
sleep 1
perf record -F 1999 -p "$pid" -o "$WORK/perf.data" -- sleep "$SECONDS_PER_RUN" >/dev/null 2>&1
wait "$driver"
# The samples' CPU time (cpu-clock counts nanoseconds) over the requests served while sampling.
cpu_ns=$(perf report -i "$WORK/perf.data" --stdio --no-children --sort dso -g none 2>/dev/null | awk '/^# Event count/ { print $NF }')
perf report -i "$WORK/perf.data" --no-children --sort sym -g none 2>/dev/null | grep -E '^ +[0-9]' > "$WORK/flat.txt"
[ -z "${PROFILE_OUT:-}" ] || cp "$WORK/flat.txt" "$PROFILE_OUT" # every symbol's share, to compare runs

# Each symbol counts once, in the first group it matches.
awk -v config="$CONFIG" -v rps="$(rps < "$WORK/wrk.txt")" -v cpu_ns="$cpu_ns" -v seconds="$SECONDS_PER_RUN" '
BEGIN {
    n = split("tracing|otel-metrics|otlp-export|prometheus|logging|gateway-telemetry|gc", names, "|")
    pattern["tracing"] = "OpenTelemetry_OpenTelemetry_Trace|OpenTelemetry_Api|Diagnostics_Activity|ActivitySource|ActivityCreator|HostingApplicationDiagnostics__(Start|Stop)Activity|W3CPropagator|BatchActivityExportProcessor"
    pattern["otel-metrics"] = "OpenTelemetry_OpenTelemetry_Metrics|Diagnostics_Metrics|HostingMetrics|KestrelMetrics|HostingTelemetryHelpers"
    pattern["otlp-export"] = "OpenTelemetry_Exporter"
    pattern["prometheus"] = "Prometheus_"
    pattern["logging"] = "Microsoft_Extensions_Logging|OpenTelemetry_OpenTelemetry_Logs|LogScope"
    pattern["gateway-telemetry"] = "gateway_Gateway_Telemetry"
    pattern["gc"] = "WKS::|RhpNew|RhpGcAlloc"
}
{
    share = $1; sub(/%/, "", share)
    symbol = $0; sub(/^ +[0-9.]+% +\[.\] +/, "", symbol)
    for (i = 1; i <= n; i++) if (symbol ~ pattern[names[i]]) { total[names[i]] += share; break }
}
END {
    per_request = cpu_ns / 1000 / (rps * seconds)
    printf "%s: %s req/s, %.2f us of gateway CPU per request; by piece (share of its samples, us per request):\n", config, rps, per_request
    for (i = 1; i <= n; i++) printf "  %-18s %5.2f%%  %5.2f us\n", names[i], total[names[i]], total[names[i]] * per_request / 100
}' "$WORK/flat.txt"
