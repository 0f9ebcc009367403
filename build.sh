#!/usr/bin/env bash
# The one entry point: run, test, publish, bench, load.
#   ./build.sh run [gateway args]   start the gateway on http://127.0.0.1:8080 with the sample models
#   ./build.sh test                 every test (installs what the tests need), ends with "tests: N passed, N failed"
#   ./build.sh publish              the Native-AOT binary at artifacts/publish/gateway/gateway, zero warnings
#   ./build.sh bench [filter]       BenchmarkDotNet suites in bench/
#   ./build.sh load [args]          the standard load scenarios in load/ against the AOT binary
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
    log "publishing the Native-AOT gateway to $PUBLISH_DIR"
    mkdir -p "$ROOT/artifacts"
    local logfile="$ROOT/artifacts/publish.log"
    set +e
    dotnet publish src/Gateway/Gateway.csproj -c Release -r linux-x64 -o "$PUBLISH_DIR" \
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
    log "published $(du -h "$PUBLISH_DIR/gateway" | cut -f1) binary: $PUBLISH_DIR/gateway (0 warnings)"
}

run() {
    log "building and starting the gateway (Ctrl+C stops it)"
    exec dotnet run -c Release --project src/Gateway/Gateway.csproj -- --model-repository "$ROOT/models" "$@"
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

test_all() {
    rm -rf "$RESULTS_DIR"
    mkdir -p "$RESULTS_DIR"
    publish >&2
    log "building the solution"
    dotnet build Gateway.sln -c Release -nologo -clp:NoSummary -warnaserror >&2

    log "running the tests"
    local rc=0
    GATEWAY_BINARY="$PUBLISH_DIR/gateway" dotnet test Gateway.sln -c Release --no-build \
        --logger "trx" --logger "console;verbosity=minimal" --results-directory "$RESULTS_DIR" >&2 || rc=$?

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
    [ "$failed" -eq 0 ]
}

bench() {
    log "running BenchmarkDotNet (results in artifacts/bench)"
    dotnet run -c Release --project bench/Gateway.Benchmarks/Gateway.Benchmarks.csproj -- \
        --artifacts "$ROOT/artifacts/bench" --filter "${1:-*}" "${@:2}"
}

load() {
    [ -x "$PUBLISH_DIR/gateway" ] || publish
    # wrk is the independent client the runner cross-checks its figures with.
    apt_ensure wrk
    log "running the load scenarios (results in artifacts/load)"
    dotnet run -c Release --project load/Gateway.Load/Gateway.Load.csproj -- \
        --binary "$PUBLISH_DIR/gateway" --models "$ROOT/tests/fixtures/models" --out "$ROOT/artifacts/load" "$@"
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
    run) run "$@" ;;
    test) test_all ;;
    publish) publish "$@" ;;
    bench) bench "$@" ;;
    load) load "$@" ;;
    *)
        sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
        exit 2
        ;;
esac
