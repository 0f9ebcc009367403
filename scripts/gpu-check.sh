#!/usr/bin/env bash
# The GPU check (docs/GPU.md): every reference sample through the gateway, then the throughput
# table of issue 14 item 7: mobilenet_v2 and bert_tiny, raw in-process against the gateway at 1, 8
# and 32 callers, batching off and on, p50/p99 and rows (images) per second, and the ratio to raw
# at the batch size the gateway formed.
#
#   scripts/gpu-check.sh prepare     here (.NET, no GPU): self-contained AOT bundle, xz, 60 MiB parts
#   scripts/gpu-check.sh run         on the GPU machine (python3 with CUDA PyTorch, no .NET): both backends on cuda:0
#   scripts/gpu-check.sh run-local   here: the published gateway and a JIT build of Gateway.Throughput,
#                                    DEVICE=cpu and BACKENDS=onnx unless set (torch: inside scripts/debian13.sh)
#   scripts/gpu-check.sh table FILE  the tables again from the LEG lines a run saved (LEGS=FILE)
#
# Environment: DEVICE (cuda:0 | cpu), BACKENDS ("torch onnx"), MODELS ("mobilenet_v2 bert_tiny"),
# CALLERS ("1 8 32"), RAW_BATCHES ("1 2 4 8 16 32"), LEG_SECONDS (4), WARMUP_SECONDS (1),
# MAX_BATCH (32), BATCH_DELAY_US (1000), CHECK (1: the 20 samples first), LEGS (where the LEG
# lines go; default a file under /tmp, printed at the end).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GPU_DIR="$ROOT/.cache/gpu"
FIXTURES="$ROOT/tests/fixtures/models"
MODELS="${MODELS:-mobilenet_v2 bert_tiny}"
CALLERS="${CALLERS:-1 8 32}"
RAW_BATCHES="${RAW_BATCHES:-1 2 4 8 16 32}"
LEG_SECONDS="${LEG_SECONDS:-4}"
WARMUP_SECONDS="${WARMUP_SECONDS:-1}"
MAX_BATCH="${MAX_BATCH:-32}"
BATCH_DELAY_US="${BATCH_DELAY_US:-1000}"
CHECK="${CHECK:-1}"

prepare() {
    local out="$ROOT/artifacts/gpu"
    rm -rf "$out"
    mkdir -p "$out/bundle" "$out/parts"
    # libtorch comes from the GPU machine's PyTorch: only libLibTorchSharp.so ships (BundleLibTorch=false).
    local -a props=(-c Release -r linux-x64 -o "$out/bundle" -p:OnnxGpu=true -p:BundleLibTorch=false -p:TreatWarningsAsErrors=true -nologo -clp:NoSummary)
    dotnet publish "$ROOT/src/Gateway/Gateway.csproj" "${props[@]}"
    dotnet publish "$ROOT/bench/Gateway.Throughput/Gateway.Throughput.csproj" "${props[@]}"
    rm -f "$out"/bundle/*.dbg "$out"/bundle/*.pdb "$out"/bundle/libonnxruntime_providers_tensorrt.so
    tar -C "$out" -cf - bundle | xz -T0 -6 >"$out/bundle.tar.xz"
    split -b 60M -d "$out/bundle.tar.xz" "$out/parts/bundle.tar.xz.part-"
    rm -rf "$out/bundle" "$out/bundle.tar.xz"
    ls -l "$out/parts"
    echo "carry one part per device call, back to back (see docs/GPU.md); the last call runs: scripts/gpu-check.sh run"
}

# The model file BACKEND serves NAME from on DEVICE.
model_file() {
    local name="$1" backend="$2"
    if [ "$backend" = torch ]; then
        # A trace can bake its device into the graph: bert_tiny has a CUDA trace.
        if [ "${DEVICE#cuda}" != "$DEVICE" ] && [ -f "$FIXTURES/$name.cuda.pt" ]; then echo "$FIXTURES/$name.cuda.pt"; else echo "$FIXTURES/$name.pt"; fi
    else
        echo "$FIXTURES/$name.onnx"
    fi
}

# Writes REPO/NAME[_batched]/config.json and links NAME's model file for BACKEND on DEVICE. The
# batched variant has max_batch_size MAX_BATCH and dynamic batching (dims then leave out the batch).
write_model() {
    local repo="$1" name="$2" backend="$3" batched="${4:-}" inputs outputs file dir extra=""
    local b="-1,"
    [ -z "$batched" ] || b=""
    case "$name" in
        identity) inputs="{\"name\":\"INPUT0\",\"data_type\":\"TYPE_FP32\",\"dims\":[${b}16]}"
                  outputs="{\"name\":\"OUTPUT0\",\"data_type\":\"TYPE_FP32\",\"dims\":[${b}16]}" ;;
        add_sub) inputs="{\"name\":\"INPUT0\",\"data_type\":\"TYPE_INT32\",\"dims\":[${b}16]},{\"name\":\"INPUT1\",\"data_type\":\"TYPE_INT32\",\"dims\":[${b}16]}"
                 outputs="{\"name\":\"OUTPUT0\",\"data_type\":\"TYPE_INT32\",\"dims\":[${b}16]},{\"name\":\"OUTPUT1\",\"data_type\":\"TYPE_INT32\",\"dims\":[${b}16]}" ;;
        mlp) inputs="{\"name\":\"input\",\"data_type\":\"TYPE_FP32\",\"dims\":[${b}784]}"
             outputs="{\"name\":\"logits\",\"data_type\":\"TYPE_FP32\",\"dims\":[${b}10]}" ;;
        mobilenet_v2) inputs="{\"name\":\"input\",\"data_type\":\"TYPE_FP32\",\"dims\":[${b}3,224,224]}"
                      outputs="{\"name\":\"logits\",\"data_type\":\"TYPE_FP32\",\"dims\":[${b}1000]}" ;;
        bert_tiny) inputs="{\"name\":\"input_ids\",\"data_type\":\"TYPE_INT64\",\"dims\":[${b}-1]},{\"name\":\"attention_mask\",\"data_type\":\"TYPE_INT64\",\"dims\":[${b}-1]}"
                   outputs="{\"name\":\"last_hidden_state\",\"data_type\":\"TYPE_FP32\",\"dims\":[${b}-1,128]}" ;;
    esac
    dir="$repo/$name${batched:+_batched}"
    mkdir -p "$dir/1"
    file=$(model_file "$name" "$backend")
    ln -s "$file" "$dir/1/model.${file##*.}"
    [ -z "$batched" ] || extra=",\"max_batch_size\":$MAX_BATCH,\"dynamic_batching\":{\"max_queue_delay_microseconds\":$BATCH_DELAY_US}"
    printf '{"backend":"%s","device":"%s"%s,"input":[%s],"output":[%s]}\n' "$backend" "$DEVICE" "$extra" "$inputs" "$outputs" >"$dir/config.json"
}

wait_ready() {
    local port="$1" pid="$2" i
    for i in $(seq 1 1200); do
        kill -0 "$pid" 2>/dev/null || { echo "the gateway exited" >&2; return 1; }
        # The braces take the shell's own "connection refused" message too, not only exec's.
        if { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
            printf 'GET /v2/health/ready HTTP/1.0\r\n\r\n' >&3
            if head -1 <&3 | grep -q ' 200 '; then exec 3>&-; return 0; fi
            exec 3>&-
        fi
        sleep 0.1
    done
    echo "the gateway was not ready after 120 s" >&2
    return 1
}

# Runs the tool, shows its output, and appends its LEG line (tagged with the backend and, for the
# gateway, whether the model batches) to $LEGS.
leg() {
    local tag="$1"; shift
    local out
    out=$("${TOOL[@]}" "$@" --seconds "$LEG_SECONDS" --warmup "$WARMUP_SECONDS" 2>&1) || { echo "$out" >&2; echo "leg failed: $*" >&2; return 1; }
    grep -v '^windows:' <<<"$out" | grep -v '^LEG' | sed 's/^/  /' >&2
    grep '^LEG' <<<"$out" | sed "s/^LEG /LEG $tag /" >>"$LEGS"
}

# One backend: serve the models (plain and batched), check every sample, then the legs.
pass() {
    local backend="$1" port="$2"; shift 2
    local repo log pid failed=0 name callers batch
    repo=$(mktemp -d)
    log=$(mktemp)
    for name in identity add_sub mlp mobilenet_v2 bert_tiny; do write_model "$repo" "$name" "$backend"; done
    for name in $MODELS; do write_model "$repo" "$name" "$backend" batched; done
    echo "== $backend on $DEVICE"
    # Authentication and rate limits off, as in the load runner: this compares the inference path
    # with raw in-process runs (authentication has its own benchmark).
    (cd "$(dirname "$GATEWAY")" && exec "$GATEWAY" --model-repository "$repo" --urls "http://127.0.0.1:$port" \
        --Auth:Mode none --RateLimit:Enabled false --Storage:SqlitePath "$repo/gateway.db" --Logging:LogLevel:Default Warning "$@") >"$log" 2>&1 &
    pid=$!
    if ! wait_ready "$port" "$pid"; then tail -40 "$log"; kill "$pid" 2>/dev/null || true; return 1; fi
    if [ "$CHECK" = 1 ]; then
        "${TOOL[@]}" check --url "http://127.0.0.1:$port" --fixtures "$FIXTURES" --tolerance 1e-3 || failed=1
    fi

    local -a raw_args=(raw --backend "$backend" --device "$DEVICE" --via runner)
    [ "$backend" != torch ] || [ -z "${TORCH_LIB:-}" ] || raw_args+=(--libtorch "$TORCH_LIB")
    for name in $MODELS; do
        local -a inputs=(--inputs "$FIXTURES/$name.s0")
        # Raw: one thread at each batch size (the curve the batched gateway is compared with), and
        # batch 1 on as many threads as there are callers (the counterpart of unbatched requests).
        for batch in $RAW_BATCHES; do
            leg "backend=$backend" "${raw_args[@]}" --model "$(model_file "$name" "$backend")" "${inputs[@]}" --batch "$batch" --parallel 1 || failed=1
        done
        for callers in $CALLERS; do
            [ "$callers" = 1 ] && [[ " $RAW_BATCHES " == *" 1 "* ]] && continue
            leg "backend=$backend" "${raw_args[@]}" --model "$(model_file "$name" "$backend")" "${inputs[@]}" --batch 1 --parallel "$callers" || failed=1
        done
        for callers in $CALLERS; do
            leg "backend=$backend batching=off" http --url "http://127.0.0.1:$port" --model "$name" "${inputs[@]}" --batch 1 --concurrency "$callers" || failed=1
            leg "backend=$backend batching=on" http --url "http://127.0.0.1:$port" --model "${name}_batched" "${inputs[@]}" --batch 1 --concurrency "$callers" || failed=1
        done
    done
    kill "$pid"; wait "$pid" 2>/dev/null || true
    rm -rf "$repo" "$log"
    return "$failed"
}

# The tables from the LEG lines.
table() {
    python3 "$ROOT/scripts/gpu-table.py" "$1"
}

header() {
    echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "device: $DEVICE; backends: $BACKENDS; models: $MODELS; callers: $CALLERS; raw batches: $RAW_BATCHES"
    echo "legs: $LEG_SECONDS s measured after $WARMUP_SECONDS s warm-up; batched models: max_batch_size $MAX_BATCH, max_queue_delay_microseconds $BATCH_DELAY_US"
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
}

passes() {
    LEGS="${LEGS:-$(mktemp /tmp/gpu-check-legs.XXXXXX)}"
    : >"$LEGS"
    local status=0 port=18601 backend
    for backend in $BACKENDS; do
        if [ "$backend" = torch ]; then
            pass torch "$port" ${TORCH_LIB:+--Torch:LibTorchPath "$TORCH_LIB"} || status=1
        else
            # ONNX Runtime's CUDA provider finds CUDA 13 and cuDNN 9 in the pip packages PyTorch
            # brought (run sets ONNX_LIBRARY_PATH); the torch pass runs without them on the path.
            [ -z "${ONNX_LIBRARY_PATH:-}" ] || export LD_LIBRARY_PATH="$ONNX_LIBRARY_PATH"
            pass "$backend" "$port" || status=1
        fi
        port=$((port + 1))
    done
    echo
    table "$LEGS" || status=1
    echo "LEG lines: $LEGS"
    echo "gpu-check: $([ "$status" -eq 0 ] && echo passed || echo FAILED)"
    return "$status"
}

run() {
    DEVICE="${DEVICE:-cuda:0}"
    BACKENDS="${BACKENDS:-torch onnx}"
    BUNDLE="${GPU_BUNDLE:-$GPU_DIR/bundle}"
    if [ ! -x "$BUNDLE/gateway" ]; then
        ls "$GPU_DIR"/parts/bundle.tar.xz.part-* >/dev/null 2>&1 || { echo "no bundle: put the parts in $GPU_DIR/parts (docs/GPU.md)" >&2; return 1; }
        cat "$GPU_DIR"/parts/bundle.tar.xz.part-* | xz -d | tar -x -C "$GPU_DIR"
    fi
    GATEWAY="$BUNDLE/gateway"
    TOOL=("$BUNDLE/Gateway.Throughput")
    TORCH_LIB=$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
    local nvidia
    nvidia=$(python3 -c 'import nvidia; print(list(nvidia.__path__)[0])')
    header
    echo "card: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -1)"
    echo "torch: $(python3 -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda)') at $TORCH_LIB"
    ONNX_LIBRARY_PATH="$BUNDLE:$nvidia/cudnn/lib:$nvidia/cu13/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    passes
}

# The same measuring part on this machine: the published gateway (./build.sh publish) and the
# throughput tool built here, on the CPU unless DEVICE says otherwise.
run_local() {
    DEVICE="${DEVICE:-cpu}"
    BACKENDS="${BACKENDS:-onnx}"
    GATEWAY="${GATEWAY_BIN:-$ROOT/artifacts/publish/gateway/gateway}"
    [ -x "$GATEWAY" ] || { echo "no gateway at $GATEWAY: ./build.sh publish (or GATEWAY_BIN=...)" >&2; return 1; }
    if [ "${GATEWAY_THROUGHPUT_BUILT:-}" != 1 ]; then
        dotnet build "$ROOT/bench/Gateway.Throughput" -c Release -nologo -v q -clp:NoSummary >&2
    fi
    TOOL=(dotnet "$ROOT/artifacts/bin/Gateway.Throughput/release/Gateway.Throughput.dll")
    TORCH_LIB="${TORCH_LIB:-}"
    header
    passes
}

case "${1:-}" in
    prepare) prepare ;;
    run) run ;;
    run-local) run_local ;;
    table) table "${2:?table FILE}" ;;
    *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
