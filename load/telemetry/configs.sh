# Sourced by load/telemetry/overhead.sh and profile.sh, after load/wrk-common.sh: starts the OTLP
# sink on 127.0.0.1:14318 and defines `start NAME PORT`, which execs the gateway in one of the
# telemetry configurations below.
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
