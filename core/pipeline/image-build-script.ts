// The script an image build step runs in the builder (kaniko) image: it reads the PLUGIN_*
// variables of the step's settings, as the Drone plugin does (drone-plugins/drone-docker
// cmd/drone-docker/main.go, docker.go; cmd/drone-ecr, drone-gcr, drone-acr), and runs
// kaniko's executor with the matching flags. Portable sh: it runs under the busybox of
// kaniko's debug image (and under the host's sh in local mode, local/images.ts).
//
// What it reads besides the plugin's variables:
//   SLIPWAY_IMAGE_BUILD_KIND   docker | ecr | gcr | acr | buildx (which plugin's defaults apply)
//   SLIPWAY_AUTO_TAGS          per run, when auto_tag is on: `tags:1,1.2`, `skip:why` or `error:why` (auto-tags.ts)
//   SLIPWAY_CACHE_REPO         the layer cache repository (kaniko --cache-repo); empty: no cache
//   SLIPWAY_ECR_ACCOUNT, SLIPWAY_ECR_REGION   ECR's default registry (plugins/ecr without `registry`)
//   SLIPWAY_KANIKO_EXECUTOR    the executor (default /kaniko/executor; local mode points it at its buildah translator)
//   DOCKER_CONFIG              where the registry credentials are written (kaniko's image sets /kaniko/.docker)

/** Prefix of every line the script itself prints. */
export const IMAGE_BUILD_LOG_PREFIX = 'slipway: image build:';

// Written with %{ for the shell's ${ (a template literal would read ${ as its own).
export const IMAGE_BUILD_SCRIPT = String.raw`set -e
say() { printf '%s %s\n' '${IMAGE_BUILD_LOG_PREFIX}' "$*"; }
fail() { printf '%s %s\n' '${IMAGE_BUILD_LOG_PREFIX}' "$*" >&2; exit 1; }
trim() { t=$1; t=%{t#"%{t%%[![:space:]]*}"}; t=%{t%"%{t##*[![:space:]]}"}; printf '%s' "$t"; }
is_true() { case "$1" in true|TRUE|True|1|t|T) return 0;; *) return 1;; esac; }
kind=%{SLIPWAY_IMAGE_BUILD_KIND:-docker}

# The image name, with the registry the plugin puts in front of it.
repo=$(trim "%{PLUGIN_REPO:-}")
[ -n "$repo" ] || fail "settings.repo is empty: set it to the image to build (e.g. org/app, or registry.example.com/org/app)"
registry=$(trim "%{PLUGIN_REGISTRY:-}")
case "$kind" in
  ecr)
    if [ -z "$registry" ]; then
      [ -n "%{SLIPWAY_ECR_ACCOUNT:-}" ] || fail "plugins/ecr: no registry given and this deployment's AWS account is unknown: set settings.registry (ACCOUNT.dkr.ecr.REGION.amazonaws.com)"
      registry="$SLIPWAY_ECR_ACCOUNT.dkr.ecr.%{PLUGIN_REGION:-%{SLIPWAY_ECR_REGION:-}}.amazonaws.com"
    fi ;;
  gcr) [ -n "$registry" ] || registry=gcr.io ;;
esac
registry=%{registry#https://}; registry=%{registry#http://}; registry=%{registry%/}
case "$kind" in
  ecr|gcr|acr) case "$repo" in "$registry"/*) ;; *) repo="$registry/$repo" ;; esac ;;
esac

# Tags: auto_tag (worked out per run), else tags/tag, else the tags file, else latest.
tags=
case "%{SLIPWAY_AUTO_TAGS:-}" in
  skip:*) say "%{SLIPWAY_AUTO_TAGS#skip:}"; exit 0 ;;
  error:*) fail "%{SLIPWAY_AUTO_TAGS#error:}" ;;
  tags:*) tags=%{SLIPWAY_AUTO_TAGS#tags:} ;;
esac
if [ -z "$tags" ]; then tags=%{PLUGIN_TAG:-%{PLUGIN_TAGS:-}}; fi
if [ -z "$tags" ]; then
  tags_file=%{PLUGIN_TAGS_FILE:-.tags}
  if [ -f "$tags_file" ]; then
    tags=$(tr '\n' ',' < "$tags_file")
  elif [ -n "%{PLUGIN_TAGS_FILE:-}" ]; then
    fail "settings.tags_file: no file $tags_file in $(pwd)"
  fi
fi
[ -n "$(trim "$(printf '%s' "$tags" | tr ',' ' ')")" ] || tags=latest

# Registry credentials, as the plugin's docker login would store them.
user=%{PLUGIN_USERNAME:-%{DOCKER_USERNAME:-}}
pass=%{PLUGIN_PASSWORD:-%{DOCKER_PASSWORD:-}}
case "$kind" in
  gcr) if [ -n "%{PLUGIN_JSON_KEY:-}" ]; then user=_json_key; pass=$PLUGIN_JSON_KEY; fi ;;
  acr) [ -n "$user" ] || user=%{PLUGIN_CLIENT_ID:-}; [ -n "$pass" ] || pass=%{PLUGIN_CLIENT_SECRET:-} ;;
esac
config_dir=%{DOCKER_CONFIG:-/kaniko/.docker}
mkdir -p "$config_dir"
if [ -n "%{PLUGIN_CONFIG:-}" ]; then
  printf '%s' "$PLUGIN_CONFIG" > "$config_dir/config.json"
  say "registry credentials from settings.config"
elif [ -n "$pass" ]; then
  host=$registry
  case "$host" in ''|docker.io|index.docker.io|registry-1.docker.io) host=https://index.docker.io/v1/ ;; esac
  case "$host$user" in *'"'*|*'\'*) fail "settings.registry or settings.username contains a quote or backslash" ;; esac
  auth=$(printf '%s:%s' "$user" "$pass" | base64 | tr -d '\n')
  printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$host" "$auth" > "$config_dir/config.json"
  say "registry credentials for $host (user $user)"
fi

# A Dockerfile feature kaniko lacks is named before the build, with what to do.
context=%{PLUGIN_CONTEXT:-.}
dockerfile=%{PLUGIN_DOCKERFILE:-Dockerfile}
[ -d "$context" ] || fail "settings.context: no directory $context in $(pwd)"
[ -f "$dockerfile" ] || fail "settings.dockerfile: no file $dockerfile in $(pwd) (it is read relative to the workspace, as docker build -f reads it)"
grep -n -i -E '^[[:space:]]*RUN[[:space:]].*--mount=type=(cache|ssh|secret|tmpfs)' "$dockerfile" | while IFS= read -r line; do
  say "warning: $dockerfile:%{line%%:*}: RUN --mount=type=cache/ssh/secret/tmpfs is BuildKit syntax that kaniko does not honour: remove the --mount (kaniko caches layers in the cache repository instead), or build this image outside Slipway"
done
grep -n -i -E '^#[[:space:]]*syntax[[:space:]]*=' "$dockerfile" | while IFS= read -r line; do
  say "warning: $dockerfile:%{line%%:*}: '# syntax=' selects a BuildKit frontend; kaniko ignores it and reads the Dockerfile itself"
done

abs() { case "$1" in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$(pwd)" "$1" ;; esac; }
set -- --context "dir://$(abs "$context")" --dockerfile "$(abs "$dockerfile")" --cleanup
oldifs=$IFS
IFS=','
for t in $tags; do
  t=$(trim "$t")
  [ -n "$t" ] && set -- "$@" --destination "$repo:$t"
done
for a in %{PLUGIN_BUILD_ARGS:-}; do
  a=$(trim "$a")
  [ -n "$a" ] && set -- "$@" --build-arg "$a"
done
for n in %{PLUGIN_BUILD_ARGS_FROM_ENV:-}; do
  n=$(trim "$n")
  case "$n" in ''|[!A-Za-z_]*|*[!A-Za-z0-9_]*) [ -z "$n" ] || fail "settings.build_args_from_env: $n is not a variable name"; continue ;; esac
  eval "v=\${$n:-}"
  set -- "$@" --build-arg "$n=$v"
done
for l in %{PLUGIN_CUSTOM_LABELS:-} %{PLUGIN_LABELS:-}; do
  l=$(trim "$l")
  [ -n "$l" ] && set -- "$@" --label "$l"
done
IFS=$oldifs
for p in http_proxy https_proxy no_proxy; do
  eval "v=\${$p:-}"
  [ -n "$v" ] && set -- "$@" --build-arg "$p=$v"
done
if is_true "%{PLUGIN_AUTO_LABEL:-true}"; then
  set -- "$@" --label "org.opencontainers.image.created=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    --label "org.opencontainers.image.revision=%{DRONE_COMMIT_SHA:-00000000}" \
    --label "org.opencontainers.image.source=%{DRONE_REMOTE_URL:-}" \
    --label "org.opencontainers.image.url=%{DRONE_REPO_LINK:-}"
fi
[ -z "%{PLUGIN_TARGET:-}" ] || set -- "$@" --target "$PLUGIN_TARGET"
if is_true "%{PLUGIN_DRY_RUN:-%{PLUGIN_NO_PUSH:-false}}"; then set -- "$@" --no-push; say "dry run: the image is built, not pushed"; fi
if [ -n "%{PLUGIN_MIRROR:-}" ]; then
  m=%{PLUGIN_MIRROR#https://}; m=%{m#http://}; m=%{m%/}
  set -- "$@" --registry-mirror "$m"
fi
if is_true "%{PLUGIN_INSECURE:-false}"; then
  host=%{repo%%/*}
  case "$host" in *.*|*:*|localhost) ;; *) host=%{registry:-index.docker.io} ;; esac
  set -- "$@" --insecure-registry "$host" --skip-tls-verify-registry "$host"
fi
if [ -n "%{SLIPWAY_CACHE_REPO:-}" ] && ! is_true "%{PLUGIN_NO_CACHE:-false}"; then
  set -- "$@" --cache=true --cache-repo "$SLIPWAY_CACHE_REPO"
fi
say "building $repo ($(printf '%s' "$tags" | tr -d ' '))"
"%{SLIPWAY_KANIKO_EXECUTOR:-/kaniko/executor}" "$@"
`.replaceAll('%{', '${');
