#!/usr/bin/env bash
# Packs a root filesystem (from rootfs.sh) into an OCI image layout with umoci, with no Docker
# daemon, and prints its compressed size as skopeo reads it from the manifest.
#
#   build-oci.sh ROOTFS LAYOUT TAG
#
# The image config mirrors Dockerfile.aot's final stage: user 65532, entrypoint /app/gateway,
# listening on 0.0.0.0:8080 with the repository at /models.
set -euo pipefail

rootfs=${1:?usage: build-oci.sh ROOTFS LAYOUT TAG}
layout=${2:?usage: build-oci.sh ROOTFS LAYOUT TAG}
tag=${3:?usage: build-oci.sh ROOTFS LAYOUT TAG}
bundle=$(mktemp -d)
trap 'rm -rf "$bundle"' EXIT

rm -rf "$layout"
umoci init --layout "$layout"
umoci new --image "$layout:$tag"
umoci unpack --image "$layout:$tag" "$bundle/b" >/dev/null
cp -a "$rootfs"/. "$bundle/b/rootfs/"
umoci repack --image "$layout:$tag" "$bundle/b"
umoci config --image "$layout:$tag" \
    --config.user 65532:65532 \
    --config.workingdir /app \
    --config.entrypoint /app/gateway \
    --config.cmd --urls --config.cmd http://0.0.0.0:8080 --config.cmd --model-repository --config.cmd /models \
    --config.exposedports 8080/tcp \
    --config.volume /models --config.volume /data \
    --config.env DOTNET_gcServer=0 \
    --config.label org.opencontainers.image.title=inference-gateway \
    --config.label org.opencontainers.image.description="Native-AOT Open Inference Protocol gateway (CPU)"
umoci gc --layout "$layout"

# Compressed size: the sum of the layer blobs the manifest lists (what a registry stores and a pull moves).
manifest=$(skopeo inspect --raw "oci:$layout:$tag")
bytes=$(printf '%s' "$manifest" | python3 -c 'import json,sys; m=json.load(sys.stdin); print(sum(l["size"] for l in m["layers"]) + m["config"]["size"])')
echo "image $layout:$tag compressed size: $bytes bytes ($(( bytes / 1024 / 1024 )) MiB)"
