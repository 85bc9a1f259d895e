#!/usr/bin/env bash
# Installs the Debian packages Slipway's local mode and tests need:
# git (the agent clones with it), busybox (step scripts are tested under its sh), iproute2 (a network namespace per local task),
# postgresql and redis-server (service images mapped to host programs), buildah and
# docker-registry (image build steps build and push locally: local/image-builder.sh), a Java
# runtime (DynamoDB Local) and chromium (the dashboard's browser test).
# Idempotent: installs only what is missing.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have git || need+=(git)
have ip || need+=(iproute2)
have java || need+=(openjdk-17-jre-headless)
have redis-server || need+=(redis-server)
{ have pg_ctl || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; } || need+=(postgresql)
have mysqld || have mariadbd || [ "${SLIPWAY_SKIP_MARIADB:-1}" = 1 ] || need+=(mariadb-server)
have chromium || [ "${SLIPWAY_SKIP_BROWSER:-0}" = 1 ] || need+=(chromium)
have nsenter || need+=(util-linux)
have busybox || need+=(busybox)  # the step-script tests also run under busybox sh
have buildah || need+=(buildah)  # image build steps (plugins/docker) build with it locally
have docker-registry || need+=(docker-registry)  # and push to it (local/image-registry.ts)
have zstd || need+=(zstd)  # the agent's workspace snapshots between the segments of a split pipeline (tar --zstd)

if [ ${#need[@]} -eq 0 ]; then
  echo "setup: all system packages present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "setup: missing packages: ${need[*]}; install them with: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "setup: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The Debian packages start their daemons on install where they can; Slipway starts its own.
service redis-server stop >/dev/null 2>&1 || true
service postgresql stop >/dev/null 2>&1 || true
service docker-registry stop >/dev/null 2>&1 || true
echo "setup: done"
