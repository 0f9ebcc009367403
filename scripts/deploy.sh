#!/usr/bin/env bash
# Updates the compose stack on a Docker host to a gateway image, one replica at a time, smoke
# tests each replica and then the stack, and rolls back to the image that ran before when
# anything fails.
#
#   ./build.sh deploy IMAGE      e.g. inference-gateway:cpu-3f2c1ab, ghcr.io/org/inference-gateway:cpu-<sha>
#   ./build.sh deploy --status   the image each replica runs now
#
# Environment:
#   DOCKER_HOST           the engine: unset (this machine), unix:///..., or ssh://user@host[:port]:
#                         then the stack files of this checkout (the release being deployed) are
#                         copied to DEPLOY_DIR on that host and the deploy runs there (see remote())
#   DEPLOY_DIR            the stack's folder on an ssh:// host (/srv/inference-gateway)
#   COMPOSE_PROJECT_NAME  the stack's project name (inference-gateway)
#   COMPOSE_FILE          compose files, colon-separated (docker-compose.prod.yml)
#   DEPLOY_TIMEOUT        seconds a replica gets to turn ready (120)
#   DEPLOY_SETTLE         seconds to wait after a replica passed its smoke test before the next one
#                         is replaced (6: nginx's fail_timeout of 5 s in deploy/nginx/gateway.conf, and 1)
#   DEPLOY_SMOKE_MODEL    the model of the smoke inference (the first READY model of the index)
#   DEPLOY_SMOKE_USER     the user the smoke test logs in as (admin) ...
#   DEPLOY_SMOKE_PASSWORD_FILE  ... with this password (secrets/bootstrap_admin_password)
#
# What it does:
#   1. The image that runs now (docker inspect of gateway-a) is the one to roll back to. With no
#      stack yet, the whole stack is started with IMAGE and there is nothing to roll back to.
#   2. The other services are brought up to the compose file (normally a no-op).
#   3. For gateway-a, then gateway-b: recreate it with IMAGE (it comes back at its fixed address
#      on the backend network, where nginx already sends its share), wait until it is ready, and
#      smoke test it directly from the nginx container (readiness, login, one inference). nginx
#      retries a replica's refused connections on the other one, so no request fails on the
#      replica being replaced. A new replica that turns ready but answers wrongly takes its share
#      of requests from the moment it listens until its smoke test fails and it is replaced
#      again (about 6 s and 246 requests answered 503 at 100 requests/s in the deploy test).
#   4. The smoke test again through nginx itself.
#   Any failure: both replicas go back to the previous image the same way, and it exits 1.
# The smoke test runs curl inside the nginx container (its own network), so it needs no route
# from here to the host: the same for a local engine and an ssh:// one.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export COMPOSE_PROJECT_NAME="${COMPOSE_PROJECT_NAME:-inference-gateway}"
export COMPOSE_FILE="${COMPOSE_FILE:-docker-compose.prod.yml}"
TIMEOUT="${DEPLOY_TIMEOUT:-120}"
SETTLE="${DEPLOY_SETTLE:-6}"
SMOKE_USER="${DEPLOY_SMOKE_USER:-admin}"
SMOKE_PASSWORD_FILE="${DEPLOY_SMOKE_PASSWORD_FILE:-secrets/bootstrap_admin_password}"
REPLICAS=(gateway-a gateway-b)

say() { printf 'deploy: %s\n' "$*"; }
fail() { printf 'deploy: FAILED: %s\n' "$*"; return 1; }

compose() { docker-compose "$@"; }

container_of() { compose ps -q "$1" 2>/dev/null | head -1; }

image_of() {
    local id
    id=$(container_of "$1")
    [ -n "$id" ] || return 0
    docker inspect -f '{{.Config.Image}}' "$id"
}

# Waits until the replica answers its readiness probe, asked every half second from the nginx
# container (sooner than the Docker health check's 10 s interval, so a bad replica is found and
# replaced sooner); fails at once when the container exits or restarts.
wait_ready() {
    local service=$1 id state restarts answer deadline=$((SECONDS + TIMEOUT))
    id=$(container_of "$service")
    [ -n "$id" ] || { fail "$service has no container"; return 1; }
    while :; do
        read -r state restarts < <(docker inspect -f '{{.State.Status}} {{.RestartCount}}' "$id")
        if [ "$state" = exited ] || [ "$state" = dead ] || [ "$restarts" -gt 0 ]; then
            docker logs --tail 15 "$id" 2>&1 | sed 's/^/    /'
            fail "$service ($state, restarted $restarts times) exits instead of serving"
            return 1
        fi
        answer=$(http GET "http://$service:8080/health/ready" 2>/dev/null) || true
        [ "${answer##*$'\n'}" = 200 ] && return 0
        if [ "$SECONDS" -ge "$deadline" ]; then
            docker logs --tail 15 "$id" 2>&1 | sed 's/^/    /'
            fail "$service not ready within ${TIMEOUT} s"
            return 1
        fi
        sleep 0.5
    done
}

# curl inside the nginx container: METHOD URL [BODY] [TOKEN]; prints the body, then the status.
http() {
    local method=$1 url=$2 body=${3:-} token=${4:-}
    local -a args=(-sS -m 10 -X "$method" -w '\n%{http_code}' -H 'Content-Type: application/json')
    [ -z "$token" ] || args+=(-H "Authorization: Bearer $token")
    if [ -n "$body" ]; then
        printf '%s' "$body" | compose exec -T nginx curl "${args[@]}" --data-binary @- "$url"
    else
        compose exec -T nginx curl "${args[@]}" "$url" </dev/null
    fi
}

# Readiness, login and one inference against BASE (a replica, or nginx itself).
smoke() {
    local base=$1 answer status token model body
    answer=$(http GET "$base/health/ready") || true
    status=${answer##*$'\n'}
    [ "$status" = 200 ] || { fail "smoke $base: /health/ready answered $status"; return 1; }

    [ -r "$SMOKE_PASSWORD_FILE" ] || { fail "smoke: cannot read $SMOKE_PASSWORD_FILE (DEPLOY_SMOKE_PASSWORD_FILE)"; return 1; }
    body=$(jq -cn --arg u "$SMOKE_USER" --rawfile p "$SMOKE_PASSWORD_FILE" '{username: $u, password: ($p | rtrimstr("\n"))}') || return 1
    answer=$(http POST "$base/v1/auth/login" "$body") || true
    status=${answer##*$'\n'}
    [ "$status" = 200 ] || { fail "smoke $base: login as $SMOKE_USER answered $status: ${answer%$'\n'*}"; return 1; }
    token=$(jq -r .access_token <<<"${answer%$'\n'*}") || { fail "smoke $base: the login answer has no access token"; return 1; }

    model="${DEPLOY_SMOKE_MODEL:-}"
    if [ -z "$model" ]; then
        answer=$(http POST "$base/v2/repository/index" '{"ready": true}' "$token") || true
        status=${answer##*$'\n'}
        [ "$status" = 200 ] || { fail "smoke $base: the repository index answered $status: ${answer%$'\n'*}"; return 1; }
        model=$(jq -r '[.[] | select(.state == "READY") | .name] | first // empty' <<<"${answer%$'\n'*}")
        [ -n "$model" ] || { fail "smoke $base: no model is READY"; return 1; }
    fi
    answer=$(http GET "$base/v2/models/$model" "" "$token") || true
    status=${answer##*$'\n'}
    [ "$status" = 200 ] || { fail "smoke $base: GET /v2/models/$model answered $status: ${answer%$'\n'*}"; return 1; }
    # One request of zeros (false, empty strings) in the model's own shapes, -1 taken as 1.
    body=$(jq -c '{inputs: [.inputs[] | .datatype as $type | (.shape | map(if . < 0 then 1 else . end)) as $shape
        | {name, datatype, shape: $shape,
           data: [range(0; ($shape | reduce .[] as $d (1; . * $d)))
                  | if $type == "BOOL" then false elif $type == "BYTES" then "" else 0 end]}]}' <<<"${answer%$'\n'*}") \
        || { fail "smoke $base: cannot make a request from the metadata of $model"; return 1; }
    answer=$(http POST "$base/v2/models/$model/infer" "$body" "$token") || true
    status=${answer##*$'\n'}
    [ "$status" = 200 ] || { fail "smoke $base: inference on $model answered $status: ${answer%$'\n'*}"; return 1; }
    say "smoke $base: ready, $SMOKE_USER logged in, $model answered 200"
}

# Recreates one replica with IMAGE and checks it.
roll() {
    local service=$1 image=$2
    say "$service -> $image"
    GATEWAY_IMAGE="$image" compose up -d --no-deps "$service" 2>&1 | sed 's/^/    /'
    wait_ready "$service" || return 1
    smoke "http://$service:8080"
}

update() {
    local image=$1 service previous=
    for service in "${REPLICAS[@]}"; do
        if [ -n "$previous" ]; then
            # nginx counts the replica just replaced as down for fail_timeout after the last
            # connection it refused while being recreated, whatever its smoke test says. Taking the
            # next one down inside that window leaves nginx no live replica, and it answers 502
            # (4 requests at 100/s in one deploy test run); after it, nginx sends it work again.
            say "waiting ${SETTLE} s for nginx to take $previous back"
            sleep "$SETTLE"
        fi
        roll "$service" "$image" || return 1
        previous=$service
    done
    smoke "http://127.0.0.1:8080"
}

status() {
    local service
    for service in "${REPLICAS[@]}"; do
        printf '%-10s %s\n' "$service" "$(image_of "$service")"
    done
}

# DOCKER_HOST=ssh://user@host[:port]: Compose mounts the files it names (nginx and Prometheus
# configuration, ./secrets, the models) from the engine's own filesystem, so the stack is run from
# a folder on that host: this checkout's stack files are copied to DEPLOY_DIR there (default
# /srv/inference-gateway, which keeps its own ./secrets and models) and this script runs there
# against the host's local engine. The host needs docker-compose and jq.
remote() {
    local target=${DOCKER_HOST#ssh://} port="" dir="${DEPLOY_DIR:-/srv/inference-gateway}" name
    if [[ "$target" =~ ^(.+):([0-9]+)$ ]]; then
        target=${BASH_REMATCH[1]}
        port=${BASH_REMATCH[2]}
    fi
    local -a ssh=(ssh -o BatchMode=yes)
    [ -z "$port" ] || ssh+=(-p "$port")
    ssh+=("$target")
    say "copying the stack files of this checkout to $target:$dir"
    tar -czf - docker-compose.prod.yml deploy/compose deploy/nginx deploy/alerts scripts/deploy.sh \
        | "${ssh[@]}" "mkdir -p $(printf %q "$dir") && tar -xzf - -C $(printf %q "$dir")"
    local command="cd $(printf %q "$dir") &&"
    for name in COMPOSE_PROJECT_NAME COMPOSE_FILE DEPLOY_TIMEOUT DEPLOY_SMOKE_MODEL DEPLOY_SMOKE_USER DEPLOY_SMOKE_PASSWORD_FILE \
        GATEWAY_ADDRESS GATEWAY_PORT PROMETHEUS_PORT GATEWAY_MODELS OTEL_EXPORTER_OTLP_ENDPOINT; do
        [ -z "${!name+x}" ] || command+=" $name=$(printf %q "${!name}")"
    done
    exec "${ssh[@]}" "$command ./scripts/deploy.sh $(printf %q "$1")"
}

main() {
    [ $# -eq 1 ] || { sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; return 2; }
    if [[ "${DOCKER_HOST:-}" == ssh://* ]]; then
        remote "$1"
    fi
    command -v jq >/dev/null || { echo "deploy: needs jq" >&2; return 1; }
    if [ "$1" = --status ]; then
        status
        return 0
    fi
    local image=$1 previous start=$SECONDS
    docker image inspect "$image" >/dev/null 2>&1 || docker pull "$image" >/dev/null \
        || { fail "the engine has no image $image and cannot pull it"; return 1; }
    previous=$(image_of gateway-a)
    say "project $COMPOSE_PROJECT_NAME on ${DOCKER_HOST:-the local engine}: ${previous:-nothing} -> $image"

    if [ -z "$previous" ]; then
        say "no stack yet: starting every service with $image"
        GATEWAY_IMAGE="$image" compose up -d 2>&1 | sed 's/^/    /'
        local service
        for service in "${REPLICAS[@]}"; do wait_ready "$service"; done
        smoke "http://127.0.0.1:8080" || { fail "the first deployment of $image does not pass its smoke test; nothing to roll back to"; return 1; }
        say "deployed $image in $((SECONDS - start)) s"
        return 0
    fi

    # The rest of the stack as the compose file says (gateways as they are).
    GATEWAY_IMAGE="$previous" compose up -d 2>&1 | sed 's/^/    /'
    if update "$image"; then
        say "deployed $image in $((SECONDS - start)) s"
        return 0
    fi
    say "rolling back to $previous"
    if update "$previous"; then
        say "rolled back to $previous in $((SECONDS - start)) s; $image was not deployed"
    else
        say "rollback to $previous failed as well: look at 'docker-compose logs gateway-a gateway-b'"
    fi
    return 1
}

main "$@"
