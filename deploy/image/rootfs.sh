#!/usr/bin/env bash
# Assembles the gateway image's runtime root filesystem: the shared libraries the AOT binary and
# ONNX Runtime load (glibc, libgcc, libstdc++, OpenSSL for outbound TLS), a CA bundle, a
# non-root user, and the published application. Nothing else: no shell, no package manager.
#
# Dockerfile.aot's final stage is exactly this tree: its rootfs stage runs this script.
#
#   rootfs.sh OUT PUBLISH_DIR
#
# Runs on Debian (apt-get download takes the packages of the host's release: bookworm for the CPU
# image; trixie for images with the Torch backend, whose libLibTorchSharp needs GCC 13's libstdc++).
set -euo pipefail

out=${1:?usage: rootfs.sh OUT PUBLISH_DIR}
publish=${2:?usage: rootfs.sh OUT PUBLISH_DIR}
[ -x "$publish/gateway" ] || { echo "rootfs.sh: $publish/gateway is missing; publish first" >&2; exit 1; }
[ -f /etc/ssl/certs/ca-certificates.crt ] || { echo "rootfs.sh: install ca-certificates on the build machine" >&2; exit 1; }

# OpenSSL's library is libssl3t64 from trixie on (the 64-bit time_t transition), libssl3 before;
# trixie's libcrypto also links zlib and zstd.
packages=(libc6 libgcc-s1 libstdc++6 libssl3)
if apt-cache show libssl3t64 >/dev/null 2>&1; then
    packages=(libc6 libgcc-s1 libstdc++6 libssl3t64 zlib1g libzstd1)
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! (cd "$work" && apt-get download "${packages[@]}" >/dev/null 2>&1); then
    apt-get update -qq >/dev/null
    (cd "$work" && apt-get download "${packages[@]}" >/dev/null)
fi

rm -rf "$out"
mkdir -p "$out"
for deb in "$work"/*.deb; do
    dpkg-deb -x "$deb" "$out"
done

# Trim what a binary that only needs ld.so and a few libraries never reads.
rm -rf "$out"/usr/share/doc "$out"/usr/share/man "$out"/usr/share/info "$out"/usr/share/lintian \
       "$out"/usr/share/locale "$out"/usr/share/gcc "$out"/usr/share/gdb "$out"/usr/lib/x86_64-linux-gnu/gconv \
       "$out"/usr/libexec "$out"/usr/bin "$out"/usr/sbin "$out"/sbin "$out"/bin "$out"/etc/ld.so.conf.d \
       "$out"/usr/lib/x86_64-linux-gnu/engines-3 "$out"/usr/lib/x86_64-linux-gnu/ossl-modules "$out"/var
find "$out" -name '*.a' -delete

# Debian's merged /usr: the loader is found at /lib64 and libraries at /lib.
[ -e "$out/lib64" ] || ln -s usr/lib64 "$out/lib64"
[ -e "$out/lib" ] || ln -s usr/lib "$out/lib"

# /dev and /proc are mount points the container runtime fills.
mkdir -p "$out/etc/ssl/certs" "$out/tmp" "$out/app" "$out/models" "$out/data" "$out/dev" "$out/proc"
cp /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/ca-certificates.crt"
chmod 1777 "$out/tmp"
cat > "$out/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
PASSWD
cat > "$out/etc/group" <<'GROUP'
root:x:0:
nonroot:x:65532:
GROUP
echo 'hosts: files dns' > "$out/etc/nsswitch.conf"

# The application: the binary and the native libraries beside it (no symbols, no PDBs).
find "$publish" -maxdepth 1 -type f ! -name '*.dbg' ! -name '*.pdb' ! -name '*.json' -exec cp {} "$out/app/" \;
chown -R 65532:65532 "$out/data"

# Every shared library the binary and the libraries need must be in the tree itself: the image
# has nothing else. The tree's own loader lists them (as the container will), by full path.
missing=$(
    for file in "$out"/app/gateway "$out"/app/*.so* "$out"/usr/lib/x86_64-linux-gnu/*.so*; do
        [ -f "$file" ] || continue
        { chroot "$out" /lib64/ld-linux-x86-64.so.2 --list "${file#"$out"}" 2>&1 || true; } \
            | { grep -E 'not found|error while loading' || true; } | sed "s|^|${file#"$out"}: |"
    done | sort -u
)
if [ -n "$missing" ]; then
    echo "rootfs.sh: libraries missing from the image tree:" >&2
    echo "$missing" >&2
    exit 1
fi
echo "rootfs: $(du -sh "$out" | cut -f1) in $out"
