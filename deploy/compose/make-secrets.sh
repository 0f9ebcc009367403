#!/usr/bin/env sh
# Creates ./secrets/ with random values for docker-compose.prod.yml, once. Existing files are
# kept, so running it again never rotates anything by accident (docs/RUNBOOK.md: rotation).
#
# Modes: the folder is 0700, so no other user of this host reads the secrets; the files are 0644,
# because Compose mounts each file into its containers as it is here, with this owner and mode,
# and the gateway runs as uid 65532 (the postgres and redis containers read theirs as root).
# A file of mode 0600 is unreadable to the gateway, which then starts without its secrets.
set -eu
cd "$(dirname "$0")/../.."
mkdir -p secrets
chmod 700 secrets
random() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }
key() { head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'; }
[ -f secrets/jwt_signing_keys ] || printf 'k1:%s' "$(key)" > secrets/jwt_signing_keys
for name in bootstrap_admin_password postgres_password redis_password grafana_admin_password; do
    [ -f "secrets/$name" ] || random > "secrets/$name"
done
chmod 644 secrets/*
echo "secrets in $(pwd)/secrets; the first admin is 'admin' with the password in secrets/bootstrap_admin_password"
