#!/usr/bin/env bash
# The GPU check: both backends on CUDA, every reference sample, and mobilenet_v2 throughput
# through the gateway against raw in-process runs at the same batch size. See docs/GPU.md.
#
#   scripts/gpu-check.sh prepare   here (.NET, no GPU): self-contained AOT bundle, xz, 60 MiB parts
#   scripts/gpu-check.sh run       on the GPU machine (python3 with CUDA PyTorch, no .NET)
#
# run: pass 1 serves the torch models on cuda:0 over the machine's PyTorch libtorch
# (Torch:LibTorchPath = python's torch/lib); pass 2 serves the onnx models on cuda:0 with ONNX
# Runtime's CUDA provider (LD_LIBRARY_PATH: the bundle, site-packages/nvidia/cudnn/lib and
# nvidia/cu13/lib). Each pass checks the 20 reference samples (1e-3 absolute, TF32 on CUDA) and
# measures single-image binary requests against the raw runner, printing medians and the ratio.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GPU_DIR="$ROOT/.cache/gpu"
FIXTURES="$ROOT/tests/fixtures/models"
LEG_SECONDS="${LEG_SECONDS:-10}"

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

# Writes DIR/NAME/config.json and links NAME's model file for BACKEND on cuda:0.
write_model() {
    local repo="$1" name="$2" backend="$3" inputs outputs file
    case "$name" in
        identity) inputs='{"name":"INPUT0","data_type":"TYPE_FP32","dims":[-1,16]}'
                  outputs='{"name":"OUTPUT0","data_type":"TYPE_FP32","dims":[-1,16]}' ;;
        add_sub) inputs='{"name":"INPUT0","data_type":"TYPE_INT32","dims":[-1,16]},{"name":"INPUT1","data_type":"TYPE_INT32","dims":[-1,16]}'
                 outputs='{"name":"OUTPUT0","data_type":"TYPE_INT32","dims":[-1,16]},{"name":"OUTPUT1","data_type":"TYPE_INT32","dims":[-1,16]}' ;;
        mlp) inputs='{"name":"input","data_type":"TYPE_FP32","dims":[-1,784]}'
             outputs='{"name":"logits","data_type":"TYPE_FP32","dims":[-1,10]}' ;;
        mobilenet_v2) inputs='{"name":"input","data_type":"TYPE_FP32","dims":[-1,3,224,224]}'
                      outputs='{"name":"logits","data_type":"TYPE_FP32","dims":[-1,1000]}' ;;
        bert_tiny) inputs='{"name":"input_ids","data_type":"TYPE_INT64","dims":[-1,-1]},{"name":"attention_mask","data_type":"TYPE_INT64","dims":[-1,-1]}'
                   outputs='{"name":"last_hidden_state","data_type":"TYPE_FP32","dims":[-1,-1,128]}' ;;
    esac
    mkdir -p "$repo/$name/1"
    if [ "$backend" = torch ]; then
        # A trace can bake its device into the graph: bert_tiny has a CUDA trace.
        file="$FIXTURES/$name.pt"
        [ -f "$FIXTURES/$name.cuda.pt" ] && file="$FIXTURES/$name.cuda.pt"
        ln -s "$file" "$repo/$name/1/model.pt"
    else
        ln -s "$FIXTURES/$name.onnx" "$repo/$name/1/model.onnx"
    fi
    printf '{"backend":"%s","device":"cuda:0","input":[%s],"output":[%s]}\n' "$backend" "$inputs" "$outputs" >"$repo/$name/config.json"
}

wait_ready() {
    local port="$1" pid="$2" i
    for i in $(seq 1 1200); do
        kill -0 "$pid" 2>/dev/null || { echo "the gateway exited" >&2; return 1; }
        if exec 3<>"/dev/tcp/127.0.0.1/$port" 2>/dev/null; then
            printf 'GET /v2/health/ready HTTP/1.0\r\n\r\n' >&3
            if head -1 <&3 | grep -q ' 200 '; then exec 3>&-; return 0; fi
            exec 3>&-
        fi
        sleep 0.1
    done
    echo "the gateway was not ready after 120 s" >&2
    return 1
}

median_of() { sed -n 's/.*: median \([0-9.]*\) img\/s.*/\1/p' | head -1; }

# One backend: serve, check every sample, then gateway vs raw throughput for mobilenet_v2.
pass() {
    local backend="$1" port="$2"; shift 2
    local repo log pid tool="$BUNDLE/Gateway.Throughput" failed=0
    repo=$(mktemp -d)
    log=$(mktemp)
    for name in identity add_sub mlp mobilenet_v2 bert_tiny; do write_model "$repo" "$name" "$backend"; done
    echo "== $backend on cuda:0"
    (cd "$BUNDLE" && exec ./gateway --model-repository "$repo" --urls "http://127.0.0.1:$port" "$@") >"$log" 2>&1 &
    pid=$!
    if ! wait_ready "$port" "$pid"; then tail -40 "$log"; kill "$pid" 2>/dev/null || true; return 1; fi
    "$tool" check --url "http://127.0.0.1:$port" --fixtures "$FIXTURES" --tolerance 1e-3 || failed=1

    local raw_args=(raw --backend "$backend" --device cuda:0 --seconds "$LEG_SECONDS")
    local model="$FIXTURES/mobilenet_v2.onnx"
    if [ "$backend" = torch ]; then model="$FIXTURES/mobilenet_v2.pt"; raw_args+=(--libtorch "$TORCH_LIB"); fi
    local concurrency http raw
    for concurrency in 1 8; do
        # Without a batching scheduler every request is one image: raw runs batch 1 with as many callers.
        http=$("$tool" http --url "http://127.0.0.1:$port" --model mobilenet_v2 --batch 1 --concurrency "$concurrency" --seconds "$LEG_SECONDS" | tee -a /dev/stderr | median_of)
        raw=$("$tool" "${raw_args[@]}" --model "$model" --batch 1 --parallel "$concurrency" | tee -a /dev/stderr | median_of)
        awk -v b="$backend" -v c="$concurrency" -v h="$http" -v r="$raw" \
            'BEGIN { printf "RESULT %s mobilenet_v2 batch 1, %s caller(s): gateway %.1f img/s, raw %.1f img/s, ratio %.2f\n", b, c, h, r, (r > 0 ? h / r : 0) }'
    done
    "$tool" "${raw_args[@]}" --model "$model" --batch 8 | grep '^raw' | sed 's/^/RESULT reference: /' || true
    kill "$pid"; wait "$pid" 2>/dev/null || true
    rm -rf "$repo" "$log"
    return "$failed"
}

run() {
    BUNDLE="${GPU_BUNDLE:-$GPU_DIR/bundle}"
    if [ ! -x "$BUNDLE/gateway" ]; then
        ls "$GPU_DIR"/parts/bundle.tar.xz.part-* >/dev/null 2>&1 || { echo "no bundle: put the parts in $GPU_DIR/parts (docs/GPU.md)" >&2; return 1; }
        cat "$GPU_DIR"/parts/bundle.tar.xz.part-* | xz -d | tar -x -C "$GPU_DIR"
    fi
    TORCH_LIB=$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
    local nvidia
    nvidia=$(python3 -c 'import nvidia; print(list(nvidia.__path__)[0])')
    echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "card: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -1)"
    echo "torch: $(python3 -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda)') at $TORCH_LIB"
    local status=0
    pass torch 18601 --Torch:LibTorchPath "$TORCH_LIB" || status=1
    # ONNX Runtime's CUDA provider finds CUDA 13 and cuDNN 9 in the pip packages PyTorch brought.
    export LD_LIBRARY_PATH="$BUNDLE:$nvidia/cudnn/lib:$nvidia/cu13/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    pass onnx 18602 || status=1
    echo "gpu-check: $([ "$status" -eq 0 ] && echo passed || echo FAILED)"
    return "$status"
}

case "${1:-}" in
    prepare) prepare ;;
    run) run ;;
    *) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
