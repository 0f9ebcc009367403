# Sourced by the wrk comparison scripts (load/telemetry/overhead.sh, load/transport/settings.sh):
# checks the binary and wrk, makes WORK with an `identity` repository, stops every process in PIDS
# on exit, and defines the helpers that read wrk's output. Expects ROOT to be set.
BINARY="${GATEWAY_BINARY:-$ROOT/artifacts/publish/gateway/gateway}"
[ -x "$BINARY" ] || { echo "no AOT binary at $BINARY: run ./build.sh publish" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }

WORK="$(mktemp -d)"
mkdir -p "$WORK/models/identity/1"
cp "$ROOT/tests/fixtures/models/identity.onnx" "$WORK/models/identity/1/model.onnx"
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

p50_us() { # wrk's "50%" line in microseconds
    awk '$1=="50%" { v=$2; if (v ~ /us$/) { sub(/us$/,"",v); print v } else if (v ~ /ms$/) { sub(/ms$/,"",v); print v*1000 } else { sub(/s$/,"",v); print v*1000000 } }'
}
rps() { awk '/^Requests\/sec:/ { print $2 }'; }
median() { sort -g | awk '{ a[NR]=$1 } END { print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2 }'; }
med() { tr ' ' '\n' <<<"$1" | grep . | median; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f%%", (b/a-1)*100 }'; }
