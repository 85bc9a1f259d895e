#!/bin/sh
# Local mode's stand-in for plugins/manifest (drone-plugins/drone-manifest, whose image runs
# /bin/drone-manifest): it joins images built one per architecture into one manifest list,
# with Debian's buildah (`buildah manifest create/add/push`) instead of manifest-tool.
# local/images.ts runs it for that image. Settings read, as the plugin reads them
# (plugin/plugin.go): username, password, platforms (os/arch[/variant], comma-separated),
# target, template (OS, ARCH, VARIANT replaced once each), tags, auto_tag (tagging.go:
# on a tag ref, or on the default branch), ignore_missing, skip_verify and its older name
# insecure (both: plain HTTP or unverified TLS to the registry).
# Not done here: `spec` (a handlebars template of manifest-tool's YAML) is refused with a
# message; the plugin's card output is not written; the lint line is not printed.
set -eu
say() { printf 'slipway: manifest (local, buildah): %s\n' "$*"; }
fail() { printf 'slipway: manifest (local, buildah): %s\n' "$*" >&2; exit 1; }

command -v buildah >/dev/null 2>&1 || fail "buildah is not installed: apt-get install buildah (or npm run setup)"

username=${PLUGIN_USERNAME:-}
password=${PLUGIN_PASSWORD:-}
target=${PLUGIN_TARGET:-}
template=${PLUGIN_TEMPLATE:-}
platforms=${PLUGIN_PLATFORMS:-}
# Local mode: a step that gives no login pushes to the local registry with the task role's
# push right (SLIPWAY_PUSH_GRANT, local/push-grant.ts), to the repositories it names only.
grant=${SLIPWAY_PUSH_GRANT:-}
if [ -z "$username$password" ] && [ -n "$grant" ] && [ -f "$grant/auth.json" ] && [ -n "$target" ] && grep -Fxq "${target%%/*}" "$grant/registries"; then
  :
else
  grant=
  # Before the checks, as the plugin's verifyArgs: a username and a password are required.
  [ -n "$username" ] || fail "error in the configuration: no username provided (settings.username)"
  [ -n "$password" ] || fail "error in the configuration: no password provided (settings.password, usually from_secret)"
fi
[ -z "${PLUGIN_SPEC:-}" ] || fail "settings.spec (a manifest-tool spec template) is not supported by the local stand-in: use platforms, target and template"
[ -n "$platforms" ] || fail "error in the configuration: no platforms provided (settings.platforms, e.g. [linux/amd64, linux/arm64])"
[ -n "$target" ] || fail "error in the configuration: no target provided (settings.target, e.g. registry/repo:1.0)"
[ -n "$template" ] || fail "error in the configuration: no template provided (settings.template, e.g. registry/repo:1.0-ARCH)"

tls=true
[ "${PLUGIN_SKIP_VERIFY:-}" = true ] && tls=false
if [ -n "${PLUGIN_INSECURE+x}" ]; then
  say "insecure is the older name of skip_verify (the plugin says the same)"
  [ "$PLUGIN_INSECURE" = true ] && tls=false
fi

# Tags beside the target, as the plugin: tags, or with auto_tag those of tagging.go.
tags=$(printf '%s' "${PLUGIN_TAGS:-}" | tr ',' ' ')
if [ "${PLUGIN_AUTO_TAG:-}" = true ]; then
  ref=${DRONE_COMMIT_REF:-}
  case "$ref" in
    refs/tags/*) ;;
    *)
      if [ "${ref#refs/heads/}" != "${DRONE_REPO_BRANCH:-}" ]; then
        say "skipping automated tags for $ref"
        exit 0
      fi ;;
  esac
  version=${ref#refs/tags/}
  version=${version#v}
  core=${version%%[-+]*}
  case "$ref" in
    refs/tags/*)
      if printf '%s' "$core" | grep -Eq '^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$'; then
        major=${core%%.*}; minor=${core#*.}; minor=${minor%%.*}
        if [ "$core" != "$version" ]; then tags=$version
        elif [ "$major" = 0 ]; then tags="$major.$minor $core"
        else tags="$major $major.$minor $core"; fi
      else
        tags=latest
      fi ;;
    *) tags=latest ;;
  esac
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
b() { buildah --root "$work/storage" --runroot "$work/run" --storage-driver vfs "$@"; }
registry=${target%%/*}
if [ -n "$grant" ]; then
  # The target's repository: without the tag of its last segment (a registry's :port stays).
  case "${target##*/}" in *:*) name=${target%:*} ;; *) name=$target ;; esac
  name=${name#*/}
  if ! grep -Fxq "$name" "$grant/repositories"; then
    allowed=$(tr '\n' ' ' < "$grant/repositories"); allowed=${allowed% }
    fail "this repository may not push to $name on $registry (allowed: ${allowed:-none}): the local registry's push rights are listed in SLIPWAY_IMAGE_PUSH_REPOSITORIES"
  fi
  cp "$grant/auth.json" "$work/auth.json"
  say "pushing to $registry with this build's push right"
else
  # The login as docker's config file, never on a command line (which `ps` shows).
  auth=$(printf '%s:%s' "$username" "$password" | base64 | tr -d '\n')
  printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$registry" "$auth" > "$work/auth.json"
  say "registry credentials for $registry (user $username)"
fi

# A value as sed's replacement text takes it literally.
literal() { printf '%s' "$1" | sed 's/[\\/&]/\\&/g'; }
list=slipway-manifest-list
b manifest create "$list" >/dev/null
added=0
for platform in $(printf '%s' "$platforms" | tr ',' ' '); do
  os=${platform%%/*}; rest=${platform#*/}
  [ "$os" != "$platform" ] || fail "platforms must be values of the form os/arch[/variant], not $platform"
  arch=${rest%%/*}; variant=''
  [ "$arch" = "$rest" ] || variant=${rest#*/}
  # The plugin replaces each placeholder once, in this order (strings.Replace(…, 1)).
  image=$(printf '%s' "$template" | sed "s/ARCH/$(literal "$arch")/; s/OS/$(literal "$os")/; s/VARIANT/$(literal "$variant")/")
  say "adding $image as $os/$arch${variant:+/$variant}"
  if b manifest add --authfile "$work/auth.json" --tls-verify=$tls --os "$os" --arch "$arch" ${variant:+--variant "$variant"} "$list" "docker://$image" >/dev/null; then
    added=$((added + 1))
  elif [ "${PLUGIN_IGNORE_MISSING:-}" = true ]; then
    say "$image is missing: left out (ignore_missing)"
  else
    fail "could not read $image from $registry: see the registry's answer above (the image must be pushed first, by the pipeline for $os/$arch)"
  fi
done
[ "$added" -gt 0 ] || fail "no image of the manifest list could be read: nothing to push"

destinations=$target
# The target's repository: without the tag of its last segment (a registry's :port stays).
case "${target##*/}" in *:*) repository=${target%:*} ;; *) repository=$target ;; esac
for tag in $tags; do destinations="$destinations $repository:$tag"; done
for destination in $destinations; do
  say "pushing manifest list $destination"
  if ! b manifest push --all --authfile "$work/auth.json" --tls-verify=$tls "$list" "docker://$destination"; then
    fail "the push of $destination was refused by $registry: see the registry's answer above (401/unauthorized or denied: settings.username and settings.password may not push there)"
  fi
done
