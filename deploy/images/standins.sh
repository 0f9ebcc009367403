#!/usr/bin/env bash
# Builds local stand-ins for the upstream images that Dockerfile.aot and docker-compose.prod.yml
# name, on a machine where no image registry can give them (this project's build machines reach a
# Debian mirror and NuGet, nothing else). Each stand-in is tagged with the upstream name ONLY when
# that name is absent from the engine, so the same Dockerfile and compose file run unchanged
# wherever a registry is reachable (a pulled image is never replaced).
#
#   deploy/images/standins.sh            pull what is missing, or build its stand-in when the pull fails
#   deploy/images/standins.sh --list     print "upstream-name<TAB>status" for every image named
#   STANDINS_PULL=0                      do not try the registries first
#
# What stands in for what (each honours the part of the official image's contract that the
# compose file and the Dockerfile use; see the Dockerfile beside each):
#   debian:bookworm-slim, debian:trixie-slim   debootstrap --variant=minbase from the machine's
#                                              Debian mirror, trimmed like the slim images, imported
#   mcr.microsoft.com/dotnet/sdk:10.0-noble    the .NET SDK of this machine under /usr/share/dotnet
#                                              (Dockerfile.aot copies only that folder out of it)
#   postgres:15                                Debian 12's postgresql-15; POSTGRES_* (and _FILE),
#                                              first-start initdb, pg_isready
#   redis:7                                    Debian 12's redis-server 7.0, redis-cli, sh
#   nginx:1.28                                 Debian 12's nginx 1.22, conf.d layout, curl
#   prom/prometheus:v3.1.0                     Debian 12's prometheus 2.42, wget
#   prom/blackbox-exporter:v0.25.0             Debian 12's prometheus-blackbox-exporter 0.23
# Not built (no Debian package): otel/opentelemetry-collector-contrib, grafana/loki and
# grafana/grafana. The compose file keeps them in the "observability" profile, which is not
# started unless asked for.
#
# The Debian roots are cached in .cache/images/ (ignored by git); a stand-in carries the label
# io.inference-gateway.standin with a hash of its recipe and is rebuilt when the recipe changes.
# Needs root (debootstrap) and a running engine (docker).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/deploy/images"
CACHE="$ROOT/.cache/images"
LABEL=io.inference-gateway.standin
export DOCKER_BUILDKIT=0

log() { printf '== %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# upstream name | recipe (a folder here, or debootstrap:RELEASE)
IMAGES=(
    "debian:bookworm-slim|debootstrap:bookworm"
    "debian:trixie-slim|debootstrap:trixie"
    "mcr.microsoft.com/dotnet/sdk:10.0-noble|sdk"
    "postgres:15|postgres"
    "redis:7|redis"
    "nginx:1.28|nginx"
    "prom/prometheus:v3.1.0|prometheus"
    "prom/blackbox-exporter:v0.25.0|blackbox-exporter"
)

# The first Debian mirror apt is configured with (deb822 first, then the one-line format). It is
# read here at run time and never written into the repository.
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

# The apt sources the image gets: this machine's own (deb822), with its release's name replaced,
# so updates and security updates come from the mirrors this machine already uses.
write_sources() {
    local release=$1 target=$2 host_release=""
    host_release=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    rm -f "$target/etc/apt/sources.list"
    mkdir -p "$target/etc/apt/sources.list.d"
    if [ -f /etc/apt/sources.list.d/debian.sources ] && [ -n "$host_release" ]; then
        sed -E "/^Suites:/ s/\b$host_release\b/$release/g" /etc/apt/sources.list.d/debian.sources \
            | grep -v '^#' > "$target/etc/apt/sources.list.d/debian.sources"
    else
        printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
            "$(read_mirror)" "$release" "$release" > "$target/etc/apt/sources.list.d/debian.sources"
    fi
}

# Recipe hash: what the stand-in was built from (its folder, or the debootstrap step of this script).
recipe_hash() {
    local recipe=$1
    case "$recipe" in
        debootstrap:*) { echo "$recipe"; sed -n '/^debian_tarball()/,/^}/p' "${BASH_SOURCE[0]}"; } | sha256sum | cut -c1-16 ;;
        sdk) { tar -C "$HERE/$recipe" -cf - --sort=name --mtime=@0 --owner=0 --group=0 .; dotnet --version; } | sha256sum | cut -c1-16 ;;
        *) tar -C "$HERE/$recipe" -cf - --sort=name --mtime=@0 --owner=0 --group=0 . | sha256sum | cut -c1-16 ;;
    esac
}

# absent | standin (current recipe) | stale (a stand-in of an older recipe) | upstream (not ours)
status_of() {
    local name=$1 recipe=$2 label
    if ! label=$(docker image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$name" 2>/dev/null); then
        echo absent
    elif [ -z "$label" ] || [ "$label" = "<no value>" ]; then
        echo upstream
    elif [ "$label" = "$(recipe_hash "$recipe")" ]; then
        echo standin
    else
        echo stale
    fi
}

# A minbase Debian root, trimmed as the official slim images are (no docs, man pages or locales,
# no apt lists or cached packages), as a tarball cached per release and recipe.
debian_tarball() {
    local release=$1 hash=$2
    local tarball="$CACHE/debian-$release-$hash.tar"
    [ -f "$tarball" ] && return 0
    command -v debootstrap >/dev/null || as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends debootstrap >/dev/null
    local mirror work
    mirror=$(read_mirror)
    work=$(mktemp -d "$CACHE/root-$release.XXXXXX")
    log "debootstrap --variant=minbase $release (from this machine's Debian mirror)"
    if ! as_root debootstrap --variant=minbase "$release" "$work/root" "$mirror" >"$CACHE/debootstrap-$release.log" 2>&1; then
        tail -20 "$CACHE/debootstrap-$release.log" >&2
        as_root rm -rf --one-file-system "$work"
        echo "debootstrap failed; log in $CACHE/debootstrap-$release.log" >&2
        return 1
    fi
    local r="$work/root"
    write_sources "$release" "$r"
    # What the slim images leave out, also for packages installed later.
    cat > "$r/etc/dpkg/dpkg.cfg.d/docker" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
CFG
    printf 'APT::Install-Recommends "false";\n' > "$r/etc/apt/apt.conf.d/docker-no-recommends"
    printf 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n' > "$r/etc/apt/apt.conf.d/docker-clean"
    as_root find "$r/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
    as_root rm -rf "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/lintian/* \
        "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/* "$r"/var/log/* "$r"/dev/*
    as_root find "$r/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
    as_root tar -C "$r" --numeric-owner -cf "$tarball.tmp" .
    as_root rm -rf --one-file-system "$work"
    # A root of an older recipe is not used again.
    find "$CACHE" -maxdepth 1 -name "debian-$release-*.tar" ! -name "debian-$release-$hash.tar*" -delete
    mv "$tarball.tmp" "$tarball"
}

# The tarball imported as NAME.
debian_root() {
    local release=$1 name=$2 hash=$3
    debian_tarball "$release" "$hash"
    log "importing $name from debian-$release-$hash.tar"
    docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' \
        --change "LABEL $LABEL=$hash" \
        --change "LABEL org.opencontainers.image.description=\"stand-in for $name: debootstrap --variant=minbase $release, trimmed\"" \
        "$CACHE/debian-$release-$hash.tar" "$name" >/dev/null
}

# The .NET SDK installed on this machine, at /usr/share/dotnet as in Microsoft's SDK images. The
# build context links the SDK's files rather than copying them (same filesystem), or copies them.
sdk_image() {
    local name=$1 hash=$2 dotnet_dir context
    dotnet_dir="$(dirname "$(readlink -f "$(command -v dotnet)")")"
    context=$(mktemp -d "$ROOT/.cache/images/sdk-context.XXXXXX")
    cp "$HERE/sdk/Dockerfile" "$context/"
    cp -al "$dotnet_dir" "$context/dotnet" 2>/dev/null || cp -a "$dotnet_dir" "$context/dotnet"
    log "building $name from $dotnet_dir ($(dotnet --version))"
    docker build -q --label "$LABEL=$hash" --build-arg "SDK_VERSION=$(dotnet --version)" -t "$name" "$context" >/dev/null || { rm -rf "$context"; return 1; }
    rm -rf "$context"
}

folder_image() {
    local name=$1 recipe=$2 hash=$3
    log "building $name from deploy/images/$recipe (Debian packages)"
    docker build -q --label "$LABEL=$hash" -t "$name" "$HERE/$recipe" >/dev/null
}

main() {
    docker info >/dev/null 2>&1 || { echo "standins.sh: no Docker engine answers (start dockerd)" >&2; return 1; }
    mkdir -p "$CACHE"
    local entry name recipe status
    if [ "${1:-}" = "--list" ]; then
        for entry in "${IMAGES[@]}"; do
            printf '%s\t%s\n' "${entry%%|*}" "$(status_of "${entry%%|*}" "${entry#*|}")"
        done
        return 0
    fi

    # 1. What is missing (or a stand-in of an older recipe); where a registry answers, the real
    #    image is what the name must stand for, so a pull comes first.
    local -a todo=()
    for entry in "${IMAGES[@]}"; do
        name=${entry%%|*}
        recipe=${entry#*|}
        status=$(status_of "$name" "$recipe")
        case "$status" in
            upstream) log "$name: present (not a stand-in), left as it is"; continue ;;
            standin) continue ;;
        esac
        if [ "${STANDINS_PULL:-1}" = 1 ] && timeout 300 docker pull -q "$name" >/dev/null 2>&1; then
            log "$name: pulled from its registry"
            continue
        fi
        todo+=("$entry")
    done

    # 2. The Debian roots, fetched side by side (mostly waiting on the mirror), then imported;
    #    then the SDK; then the service images side by side (each FROM debian:bookworm-slim).
    local -a jobs=()
    local job
    for entry in "${todo[@]}"; do
        recipe=${entry#*|}
        case "$recipe" in
            debootstrap:*) debian_tarball "${recipe#debootstrap:}" "$(recipe_hash "$recipe")" & jobs+=($!) ;;
        esac
    done
    for job in "${jobs[@]}"; do wait "$job"; done
    for entry in "${todo[@]}"; do
        name=${entry%%|*}
        recipe=${entry#*|}
        case "$recipe" in
            debootstrap:*) debian_root "${recipe#debootstrap:}" "$name" "$(recipe_hash "$recipe")" ;;
            sdk) sdk_image "$name" "$(recipe_hash "$recipe")" ;;
        esac
    done
    jobs=()
    for entry in "${todo[@]}"; do
        name=${entry%%|*}
        recipe=${entry#*|}
        case "$recipe" in
            debootstrap:* | sdk) ;;
            *) folder_image "$name" "$recipe" "$(recipe_hash "$recipe")" & jobs+=($!) ;;
        esac
    done
    for job in "${jobs[@]}"; do wait "$job"; done
    log "stand-ins: ${#todo[@]} built, $((${#IMAGES[@]} - ${#todo[@]})) present"
}

main "$@"
