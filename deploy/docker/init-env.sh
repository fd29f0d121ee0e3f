#!/usr/bin/env bash
# Generates the secrets docker-compose.yml requires into .env (docker compose reads it), once:
# an existing .env is left as it is, and variables already in it are kept. Random values from
# /dev/urandom; the file is readable by its owner only and git-ignored.
#
#   bash deploy/docker/init-env.sh [path/to/.env]     (default: .env beside docker-compose.yml)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
file="${1:-$here/../../.env}"

rand_hex() { od -An -vtx1 -N"$1" /dev/urandom | tr -d ' \n'; }
rand_b64() { head -c "$1" /dev/urandom | base64 | tr -d '\n'; }

umask 077
touch "$file"
add() { # <name> <value>: appended only when the file does not set it yet
  grep -q "^$1=" "$file" || printf '%s=%s\n' "$1" "$2" >>"$file"
}
# Hex: safe inside postgres:// URLs without escaping.
add PGPASSWORD "$(rand_hex 24)"
# HS256 needs at least 32 characters.
add PEMS_SYNC_JWT_SECRET "$(rand_hex 32)"
# AES-256-GCM: a key id and 32 random bytes (schemas/config.ts pems.credentialKeys).
add PEMS_SYNC_CREDENTIAL_KEYS "k$(date -u +%Y%m%d):$(rand_b64 32)"
# HMAC-SHA256 of the audit chain (schemas/config.ts audit.keys).
add PEMS_SYNC_AUDIT_KEYS "a$(date -u +%Y%m%d):$(rand_b64 32)"
chmod 600 "$file"
echo "secrets for docker compose in $file (values not printed)"
