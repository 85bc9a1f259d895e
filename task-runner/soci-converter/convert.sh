#!/bin/bash
# The SOCI converter (core/images/soci.ts): one Fargate task per large image the pull-through
# cache pulled, started by the autoscaler (lambdas/autoscaler/index-image.ts). It copies the
# cached image into an OCI layout, writes its SOCI-enabled copy with `soci convert --standalone`
# (index manifest v2: an OCI index holding the image and its SOCI index; no containerd needed,
# awslabs/soci-snapshotter cmd/soci/commands/convert.go), pushes the copy where the cache never
# writes, and reports source digest → converted digest on its last line, as the agent reports
# (its exit code and a `SLIPWAY_SOCI {json}` line the task-events Lambda reads from its log stream).
#
# Environment (set by RunTask's overrides, core/images/soci.ts converterRun):
#   SLIPWAY_SOCI_SOURCE  <account>.dkr.ecr.<region>.amazonaws.com/<cached repository>
#   SLIPWAY_SOCI_DIGEST  sha256:<64 hex>, the digest the cache stored
#   SLIPWAY_SOCI_TARGET  <same registry>/slipway-soci/<cached repository>:soci-<64 hex>
# ECR is reached with the task role through docker-credential-ecr-login (containers-auth.json's
# credHelpers): no password on a command line or in the task's overrides.
set -euo pipefail

SOURCE=${SLIPWAY_SOCI_SOURCE:?the cached repository, <registry>/<repository>}
DIGEST=${SLIPWAY_SOCI_DIGEST:?the cached image digest, sha256:<64 hex>}
TARGET=${SLIPWAY_SOCI_TARGET:?where the copy goes, <registry>/slipway-soci/<repository>:soci-<hex>}
WORK=${SLIPWAY_SOCI_WORK:-/tmp/slipway-soci}

log() { echo "soci-converter: $*" >&2; }
fail() {
  log "$*"
  exit 1
}

# Nothing else ends a converter that hangs (a stalled pull or push): ECS has no task timeout, and
# it would bill and hold a vCPU of the account's Fargate quota for good. So every step is bounded
# by what is left of SLIPWAY_SOCI_LIMIT_SECONDS, well within the hour after which the claim it
# works for is taken again (core/images/soci.ts SOCI_CLAIM_STALE_MS), so that one converter at
# most runs per image.
LIMIT=${SLIPWAY_SOCI_LIMIT_SECONDS:-2700}
[[ $LIMIT =~ ^[1-9][0-9]*$ ]] || fail "SLIPWAY_SOCI_LIMIT_SECONDS=$LIMIT is not a whole number of seconds"
deadline=$((SECONDS + LIMIT))
bounded() {
  local left=$((deadline - SECONDS)) code=0
  ((left > 0)) || { log "out of time: the conversion's ${LIMIT} s are spent before: $1"; return 1; }
  timeout "$left" "$@" || code=$?
  ((code == 0 || SECONDS < deadline)) || log "$1 did not end within the conversion's ${LIMIT} s: stopped"
  return "$code"
}

# What the task was given is checked before anything is fetched: the report names only what
# these allow, and the task-events Lambda checks it again against the claim.
[[ $DIGEST =~ ^sha256:[a-f0-9]{64}$ ]] || fail "SLIPWAY_SOCI_DIGEST=$DIGEST is not sha256:<64 lower-case hex>"
registry=${SOURCE%%/*}
repository=${SOURCE#*/}
[[ $registry =~ ^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$ ]] || fail "SLIPWAY_SOCI_SOURCE=$SOURCE is not in an ECR registry"
[[ $repository =~ ^([a-z0-9]+([._-][a-z0-9]+)*/)*[a-z0-9]+([._-][a-z0-9]+)*$ ]] || fail "SLIPWAY_SOCI_SOURCE=$SOURCE does not name an ECR repository"
tag="soci-${DIGEST#sha256:}"
target_repository="slipway-soci/$repository"
[[ $TARGET == "$registry/$target_repository:$tag" ]] || fail "SLIPWAY_SOCI_TARGET=$TARGET; expected $registry/$target_repository:$tag"

rm -rf "$WORK"
mkdir -p "$WORK"
export REGISTRY_AUTH_FILE="$WORK/auth.json"
printf '{"credHelpers":{"%s":"ecr-login"}}\n' "$registry" >"$REGISTRY_AUTH_FILE"

# The platforms Fargate runs (linux/amd64, linux/arm64) that the image has: an index lists
# them; a single image says its own in its config.
raw=$(bounded skopeo inspect --raw "docker://$SOURCE@$DIGEST") || fail "cannot read the manifest of $SOURCE@$DIGEST"
platforms=()
if jq -e '.manifests | type == "array"' <<<"$raw" >/dev/null; then
  mapfile -t platforms < <(jq -r '.manifests[] | select(.platform.os == "linux" and (.platform.architecture == "amd64" or .platform.architecture == "arm64") and ((.platform.variant // "") | IN("", "v8")))
    | "linux/\(.platform.architecture)"' <<<"$raw" | sort -u)
else
  mapfile -t platforms < <(bounded skopeo inspect --config "docker://$SOURCE@$DIGEST" | jq -r 'select(.os == "linux" and (.architecture == "amd64" or .architecture == "arm64")) | "linux/\(.architecture)"')
fi
((${#platforms[@]} > 0)) || fail "$SOURCE@$DIGEST has no linux/amd64 or linux/arm64 image: nothing Fargate runs"
platform_flags=()
for p in "${platforms[@]}"; do platform_flags+=(--platform "$p"); done
log "converting $SOURCE@$DIGEST for ${platforms[*]}"

# 1. The cached image into an OCI layout (every platform of its index: soci picks its own).
bounded skopeo copy --quiet --multi-arch all "docker://$SOURCE@$DIGEST" "oci:$WORK/in" || fail "cannot copy $SOURCE@$DIGEST"
# 2. The SOCI-enabled copy (zTOCs for layers of 10 MB or more, soci's default --min-layer-size).
bounded soci convert --standalone --format oci-dir "${platform_flags[@]}" "$WORK/in" "$WORK/out" || fail "soci convert failed"
# 3. Pushed as it is (no recompression: the layers stay the cache's, stored once more in ECR).
bounded skopeo copy --quiet --multi-arch all --preserve-digests --digestfile "$WORK/digest" "oci:$WORK/out" "docker://$TARGET" || fail "cannot push $TARGET"
converted=$(tr -d '[:space:]' <"$WORK/digest")
[[ $converted =~ ^sha256:[a-f0-9]{64}$ ]] || fail "the push gave no digest (got \"$converted\")"
[[ $converted != "$DIGEST" ]] || fail "the copy has the source's digest: it carries no SOCI index"

rm -rf "$WORK"
echo "SLIPWAY_SOCI {\"source\":\"$DIGEST\",\"converted\":\"$converted\",\"repository\":\"$target_repository\",\"tag\":\"$tag\"}"
