#!/usr/bin/env bash
# The official postgres image's entrypoint contract, for the stand-in (deploy/images/postgres):
#   - POSTGRES_PASSWORD / POSTGRES_USER / POSTGRES_DB / POSTGRES_INITDB_ARGS, each also as *_FILE;
#   - an empty PGDATA is initialised once (initdb, scram-sha-256 for the network, the database
#     POSTGRES_DB created, /docker-entrypoint-initdb.d/*.sh and *.sql run), never again;
#   - the server runs as the postgres user, in the foreground, listening on every address.
set -Eeuo pipefail

# VAR from VAR or from the file VAR_FILE names (both set is an error, as in the official image).
file_env() {
    local var=$1 file_var="${1}_FILE" default=${2:-}
    if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
        echo "error: both $var and $file_var are set (but are exclusive)" >&2
        exit 1
    fi
    local value=$default
    if [ -n "${!var:-}" ]; then
        value=${!var}
    elif [ -n "${!file_var:-}" ]; then
        value=$(< "${!file_var}")
    fi
    export "$var"="$value"
    unset "$file_var"
}

if [ "${1:0:1}" = '-' ]; then
    set -- postgres "$@"
fi

if [ "$1" = 'postgres' ] && [ "$(id -u)" = '0' ]; then
    mkdir -p "$PGDATA"
    chmod 00700 "$PGDATA"
    chown -R postgres:postgres "$PGDATA"
    # Read the secrets as root (files mounted for root only stay readable), then step down.
    file_env POSTGRES_PASSWORD
    file_env POSTGRES_USER postgres
    file_env POSTGRES_DB "$POSTGRES_USER"
    file_env POSTGRES_INITDB_ARGS
    export POSTGRES_PASSWORD POSTGRES_USER POSTGRES_DB POSTGRES_INITDB_ARGS
    exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [ "$1" = 'postgres' ]; then
    file_env POSTGRES_PASSWORD
    file_env POSTGRES_USER postgres
    file_env POSTGRES_DB "$POSTGRES_USER"
    file_env POSTGRES_INITDB_ARGS
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
        if [ -z "$POSTGRES_PASSWORD" ] && [ "${POSTGRES_HOST_AUTH_METHOD:-}" != 'trust' ]; then
            echo 'error: the database is uninitialised and no superuser password is set: set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE' >&2
            exit 1
        fi
        echo "initialising $PGDATA for $POSTGRES_USER (database $POSTGRES_DB)"
        # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of arguments.
        initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
            -E UTF8 --locale=C.UTF-8 $POSTGRES_INITDB_ARGS >/dev/null
        printf '\nhost all all all %s\n' "${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >> "$PGDATA/pg_hba.conf"
        # A temporary server on the socket only, for the database and the init scripts.
        pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start >/dev/null
        export PGPASSWORD=$POSTGRES_PASSWORD
        psql=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
        if [ "$POSTGRES_DB" != 'postgres' ]; then
            "${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";' >/dev/null
        fi
        shopt -s nullglob
        for f in /docker-entrypoint-initdb.d/*; do
            case "$f" in
                *.sh) echo "running $f"; . "$f" ;;
                *.sql) echo "running $f"; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
                *) echo "ignoring $f" ;;
            esac
        done
        unset PGPASSWORD
        pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
        echo 'initialisation done; starting the server'
    fi
    unset POSTGRES_PASSWORD
    exec postgres -c listen_addresses='*' "${@:2}"
fi

exec "$@"
