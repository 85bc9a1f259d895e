#!/bin/sh
# Local mode's stand-in for kaniko's executor (/kaniko/executor): the builder step's script
# (core/pipeline/image-build-script.ts) calls it with kaniko's flags, and it runs the same
# build with Debian's buildah (no daemon, `--isolation chroot`, vfs storage) and pushes with
# buildah. local/images.ts points the builder image's SLIPWAY_KANIKO_EXECUTOR here.
#
# Kaniko flags understood: --context dir://PATH, --dockerfile, --destination (repeated),
# --build-arg, --label, --target, --no-push, --cleanup, --cache[=true|false], --cache-repo,
# --insecure-registry, --skip-tls-verify-registry, --registry-mirror.
# The layer cache is buildah's own storage (SLIPWAY_BUILDAH_ROOT), kept between builds:
# `--layers` reuses an unchanged instruction's layer, as kaniko's --cache-repo does on AWS.
# A destination on the local registry that the build gives no login for is pushed with the
# task role's push right (SLIPWAY_PUSH_GRANT, local/push-grant.ts), as kaniko pushes to ECR
# with the build task role's: only to the repositories it names.
set -eu
say() { printf 'slipway: image build (local, buildah): %s\n' "$*"; }
fail() { printf 'slipway: image build (local, buildah): %s\n' "$*" >&2; exit 1; }

command -v buildah >/dev/null 2>&1 || fail "buildah is not installed: apt-get install buildah (or npm run setup)"
root=${SLIPWAY_BUILDAH_ROOT:-/var/tmp/slipway-buildah}
mkdir -p "$root/storage" "$root/run"
b() { buildah --root "$root/storage" --runroot "$root/run" --storage-driver vfs "$@"; }

context=. dockerfile= target= push=yes layers=yes insecure=' '
dests=''
# Build flags, kept as positional parameters after a marker so that values with spaces survive.
set -- "$@" --slipway-end
while [ "$1" != --slipway-end ]; do
  flag=$1; shift
  case "$flag" in
    --*=*) value=${flag#*=}; flag=${flag%%=*}; set -- "$value" "$@" ;;
  esac
  case "$flag" in
    --context) context=${1#dir://}; shift ;;
    --dockerfile) dockerfile=$1; shift ;;
    --destination) dests="$dests
$1"; shift ;;
    --build-arg) set -- "$@" --build-arg "$1"; shift ;;
    --label) set -- "$@" --label "$1"; shift ;;
    --target) target=$1; shift ;;
    --no-push) push=no ;;
    --cleanup) ;;
    --cache) case "$1" in false) layers=no ;; esac; shift ;;
    --cache-repo) shift ;;
    --insecure-registry|--skip-tls-verify-registry) insecure="$insecure$1 "; shift ;;
    --registry-mirror) say "mirror $1 ignored: local mode pulls nothing from the internet"; shift ;;
    *) fail "kaniko flag $flag is not known to the local builder" ;;
  esac
done
shift

# The container's private directory (SLIPWAY_PRIVATE_DIR, local/images.ts) holds the task
# role's push right and the build's login: a context that is in it or holds it, or a Dockerfile
# in it, would put them into an image (COPY .) or a log line, so it is refused, links resolved.
private=${SLIPWAY_PRIVATE_DIR:-}
if [ -n "$private" ]; then
  private=$(realpath -m -- "$private")
  in_private() { case "$1/" in "$private"/*) return 0 ;; esac; return 1; }
  where=$(realpath -m -- "$context")
  if in_private "$where" || [ "$where" = / ] || case "$private/" in "$where"/*) true ;; *) false ;; esac; then
    fail "context $context ($where) is or holds this container's private directory $private, which keeps its registry logins: build from the workspace"
  fi
  # A relative Dockerfile: whether read from the working directory or the context.
  if [ -n "$dockerfile" ] && { in_private "$(realpath -m -- "$dockerfile")" || in_private "$(cd "$where" 2>/dev/null && realpath -m -- "$dockerfile")"; }; then
    fail "dockerfile $dockerfile is in this container's private directory $private, which keeps its registry logins: give a Dockerfile of the workspace"
  fi
fi

set -- "$@" --isolation chroot --pull-never
[ "$layers" = yes ] && set -- "$@" --layers
[ -n "$dockerfile" ] && set -- "$@" -f "$dockerfile"
[ -n "$target" ] && set -- "$@" --target "$target"
first=
for d in $dests; do
  [ -n "$first" ] || first=$d
  set -- "$@" -t "$d"
done
[ -n "$first" ] || { first=localhost/slipway-image-build:latest; set -- "$@" -t "$first"; }

# The pipeline's architecture (platform.arch: the task definition's cpuArchitecture, which
# local/images.ts passes as SLIPWAY_BUILD_ARCH). On AWS the builder runs on that CPU; here
# every pipeline runs on this machine's, and nothing emulates another: the image is labelled
# for the pipeline's architecture with --arch, which makes a real image only of a Dockerfile
# that runs nothing (FROM scratch, COPY, LABEL…): a RUN would run this machine's programs.
case "$(uname -m)" in x86_64) host_arch=amd64 ;; aarch64|arm64) host_arch=arm64 ;; *) host_arch=$(uname -m) ;; esac
arch=${SLIPWAY_BUILD_ARCH:-$host_arch}
if [ "$arch" != "$host_arch" ]; then
  say "labelled linux/$arch, built on this machine's $host_arch (no emulation: only a Dockerfile without RUN makes a real $arch image)"
  set -- "$@" --arch "$arch"
fi

config=${DOCKER_CONFIG:-/kaniko/.docker}/config.json
# buildah reads $DOCKER_CONFIG/config.json itself and stops when it is missing (no login given).
[ -f "$config" ] || unset DOCKER_CONFIG
grant=${SLIPWAY_PUSH_GRANT:-}
[ -n "$grant" ] && [ -f "$grant/auth.json" ] || grant=
# The login a destination is pushed with: the build's own (settings.username/password,
# config), else the role's push right where it covers the destination, else none.
auth_for() {
  if [ -f "$config" ]; then printf '%s' "--authfile $config"; return; fi
  [ -n "$grant" ] && grep -Fxq "${1%%/*}" "$grant/registries" || return 0
  name=${1#*/}; name=${name%@*}
  case "${name##*/}" in *:*) name=${name%:*} ;; esac
  if ! grep -Fxq "$name" "$grant/repositories"; then
    allowed=$(tr '\n' ' ' < "$grant/repositories"); allowed=${allowed% }
    fail "this repository may not push to $name on ${1%%/*} (allowed: ${allowed:-none}): the local registry's push rights are listed in SLIPWAY_IMAGE_PUSH_REPOSITORIES"
  fi
  printf '%s' "--authfile $grant/auth.json"
}
# Refused before the build, not after it.
if [ "$push" = yes ]; then for d in $dests; do auth_for "$d" >/dev/null; done; fi

say "buildah bud (storage $root, layers cached: $layers)"
b bud "$@" "$context"

[ "$push" = yes ] || { say "not pushed (no_push / dry_run)"; exit 0; }
for d in $dests; do
  host=${d%%/*}
  tls=true
  case "$insecure" in *" $host "*) tls=false ;; esac
  auth=$(auth_for "$d")
  if [ -n "$grant" ] && [ "$auth" = "--authfile $grant/auth.json" ]; then say "pushing $d with this build's push right to $host"; else say "pushing $d"; fi
  # shellcheck disable=SC2086
  if ! b push $auth --tls-verify=$tls "$d" "docker://$d"; then
    fail "the push of $d was refused by $host: see the registry's answer above (401/unauthorized or denied: the credentials in settings.username and settings.password, from secrets, are missing or may not push to this repository; the local registry takes a build's pushes without them only from a repository that SLIPWAY_IMAGE_PUSH_REPOSITORIES lists)"
  fi
done
