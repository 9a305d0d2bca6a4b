#!/usr/bin/env bash
# Debian's PostgreSQL server for the DuckLake tests (tests/test_storage_lake_location.py start their own
# throwaway cluster on 127.0.0.1 with initdb + pg_ctl), installed only when missing.
set -euo pipefail
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq postgresql >/dev/null
