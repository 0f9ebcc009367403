#!/usr/bin/env bash
# Runs a command inside a Debian 13 (trixie) root, for the Torch tests.
#
#   scripts/debian13.sh COMMAND [ARGS...]   e.g. scripts/debian13.sh dotnet test tests/Backends.Torch.Tests --no-build
#
# Why: libLibTorchSharp.so (TorchSharp 0.107.0) needs GLIBCXX_3.4.32, newer than Debian 12's
# libstdc++. The root is made once with debootstrap from the mirror this machine's apt already
# uses and cached under .cache/debian13 (ignored by git). The .NET SDK, the NuGet cache and the
# checkout are bind-mounted at their own paths, so the binaries built outside run unchanged
# inside; everything is unmounted again when the script exits, however it exits.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOTFS="$ROOT/.cache/debian13"
READY="$ROOTFS/.gateway-root-ready"
MOUNTED=()

log() { printf '== %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# The first Debian mirror apt is configured with (deb822 first, then the one-line format).
read_mirror() {
    local mirror=""
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
    fi
    if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
        mirror=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list)
    fi
    [ -n "$mirror" ] || { echo "no Debian mirror found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list" >&2; return 1; }
    echo "$mirror"
}

# Unmounts whatever is still mounted below the root (a run that was killed), deepest first.
unmount_stale() {
    local target
    while read -r target; do
        [ -n "$target" ] || continue
        as_root umount "$target" 2>/dev/null || as_root umount -l "$target"
    done < <(awk -v root="$ROOTFS" 'index($2, root "/") == 1 { print $2 }' /proc/self/mounts | sort -r)
}

cleanup() {
    local i
    for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
        as_root umount "${MOUNTED[i]}" 2>/dev/null || as_root umount -l "${MOUNTED[i]}" || true
    done
    MOUNTED=()
}

ensure_root() {
    [ -f "$READY" ] && return 0
    unmount_stale
    if ! command -v debootstrap >/dev/null 2>&1; then
        log "installing debootstrap"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
    fi
    local mirror
    mirror=$(read_mirror)
    log "creating the Debian 13 root in $ROOTFS (debootstrap --variant=minbase trixie)"
    as_root rm -rf --one-file-system "$ROOTFS.tmp" "$ROOTFS"
    mkdir -p "$(dirname "$ROOTFS")"
    as_root debootstrap --variant=minbase trixie "$ROOTFS.tmp" "$mirror" >"$ROOT/.cache/debootstrap.log" 2>&1 || {
        tail -20 "$ROOT/.cache/debootstrap.log" >&2
        echo "debootstrap failed; full log in .cache/debootstrap.log" >&2
        return 1
    }
    # The tree must hold no link out of itself: the gateway, run from the checkout, watches its
    # working directory recursively (appsettings.json), and dev/fd -> /proc/self/fd loops back.
    # /dev is bind-mounted at run time, and /var/run, /var/lock point at /run the relative way.
    as_root find "$ROOTFS.tmp/dev" -mindepth 1 -delete
    as_root ln -sfn ../run "$ROOTFS.tmp/var/run"
    as_root ln -sfn ../run/lock "$ROOTFS.tmp/var/lock"
    as_root mv "$ROOTFS.tmp" "$ROOTFS"
    as_root touch "$READY"
}

# Binds SOURCE at the same path inside the root.
bind_same() {
    local source="$1" target="$ROOTFS$1"
    as_root mkdir -p "$target"
    as_root mount --bind "$source" "$target"
    MOUNTED+=("$target")
}

main() {
    [ $# -gt 0 ] || { sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//' >&2; return 2; }
    ensure_root
    unmount_stale
    trap cleanup EXIT
    trap 'exit 130' INT TERM

    local dotnet_dir nuget_home
    dotnet_dir="$(dirname "$(readlink -f "$(command -v dotnet)")")"
    nuget_home="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
    mkdir -p "$nuget_home"

    as_root mount -t proc proc "$ROOTFS/proc"
    MOUNTED+=("$ROOTFS/proc")
    bind_same /dev
    bind_same /sys
    bind_same "$dotnet_dir"
    bind_same "$nuget_home"
    bind_same "$ROOT"

    # Only what the tests need crosses over; GATEWAY_* settings are passed through.
    local -a environment=(
        "HOME=$HOME"
        "PATH=$dotnet_dir:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        "DOTNET_ROOT=$dotnet_dir"
        "NUGET_PACKAGES=$nuget_home"
        "DOTNET_CLI_TELEMETRY_OPTOUT=1" "DOTNET_NOLOGO=1" "DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1"
        "TMPDIR=/tmp" "LANG=C.UTF-8"
        # The root has no ICU; the gateway and its tests run invariant anyway.
        "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1"
    )
    local name
    while IFS='=' read -r name _; do
        [[ "$name" == GATEWAY_* ]] && environment+=("$name=${!name}")
    done < <(env)

    local rc=0
    as_root env -i "${environment[@]}" chroot "$ROOTFS" /bin/sh -c 'cd "$0" && exec "$@"' "$PWD" "$@" || rc=$?
    return "$rc"
}

main "$@"
