#!/usr/bin/env bash
# Writes the image references of images.env into every file that carries them:
#   - k8s/**/*.yaml: each container image, as the full reference with its tag, so that
#     `kubectl apply -f <file>` on its own pulls the right image;
#   - docker/compose.yaml: the defaults of ${IMAGE_REGISTRY:-…}, ${IMAGE_NAME_PREFIX:-…} and
#     ${IMAGE_VERSION:-…} in each Bookinfo image;
#   - docker/Dockerfile: the default of ARG VERSION (the image's version label).
# docker/build.sh reads images.env itself. An image is recognised by its variant, one of those
# docker/build.sh builds (`build <variant> …`), at the end of its name; other images are left
# alone. Running it twice changes nothing.
#
#   scripts/set-image-refs.sh           # rewrite the files that disagree with images.env
#   scripts/set-image-refs.sh --check   # change nothing; list them and exit 1 if any disagree
#   scripts/set-image-refs.sh --list    # print the reference of every variant, one a line
#                                       # (e.g. kind load docker-image $(scripts/set-image-refs.sh --list))
set -euo pipefail
cd "$(dirname "$0")/.."

mode=rewrite
case ${1:-} in
  '') ;;
  --check) mode=check ;;
  --list) mode=list ;;
  *) echo "usage: $0 [--check | --list]" >&2; exit 2 ;;
esac

# images.env only, never the environment: these files must agree with it.
registry='' prefix='' version=''
while IFS= read -r line || [ -n "$line" ]; do
  case $line in
    '' | '#'*) ;;
    IMAGE_REGISTRY=*) registry=${line#*=} ;;
    IMAGE_NAME_PREFIX=*) prefix=${line#*=} ;;
    IMAGE_VERSION=*) version=${line#*=} ;;
    *=*) ;; # another setting, not ours
    *) echo "images.env: not a KEY=value line: $line" >&2; exit 1 ;;
  esac
done < images.env
# Lower case for the repository part, as image references require; nothing that sed would
# read as special (# & \) can get through.
[[ $registry =~ ^[a-z0-9]([a-z0-9._:/-]*[a-z0-9])?$ ]] ||
  { echo "images.env: IMAGE_REGISTRY '$registry' is not a registry/owner" >&2; exit 1; }
[[ $prefix =~ ^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$ ]] ||
  { echo "images.env: IMAGE_NAME_PREFIX '$prefix' is not an image name" >&2; exit 1; }
[[ $version =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] ||
  { echo "images.env: IMAGE_VERSION '$version' is not an image tag" >&2; exit 1; }

variants=()
while IFS= read -r variant; do
  variants+=("$variant")
done < <(sed -n -E 's/^build[[:space:]]+([a-z0-9-]+)[[:space:]].*/\1/p' docker/build.sh)
[ ${#variants[@]} -gt 0 ] || { echo "docker/build.sh builds no variant" >&2; exit 1; }

if [ "$mode" = list ]; then
  for variant in "${variants[@]}"; do
    echo "$registry/$prefix-$variant:$version"
  done
  exit 0
fi

alternatives=$(IFS='|'; echo "${variants[*]}")
# `image: <anything>[/-]<variant>[:<anything>]`, whatever registry, prefix and tag it has now.
image_line="^([[:space:]]*(- )?image:[[:space:]]*)[^[:space:]]*[/-]($alternatives)(:[^[:space:]]*)?[[:space:]]*$"

stale=()
# Runs sed with the given script on a file; writes the result back only if it changed.
rewrite() {
  local file=$1 script=$2 new
  new=$(mktemp)
  sed -E "$script" "$file" > "$new"
  if ! cmp -s "$file" "$new"; then
    stale+=("$file")
    # cat, not mv: the file keeps its mode.
    [ "$mode" = check ] || cat "$new" > "$file"
  fi
  rm -f "$new"
}

while IFS= read -r -d '' file; do
  rewrite "$file" "s#$image_line#\\1$registry/$prefix-\\3:$version#"
done < <(find k8s -name '*.yaml' -print0 | sort -z)
rewrite docker/compose.yaml \
  "s#$image_line#\\1\${IMAGE_REGISTRY:-$registry}/\${IMAGE_NAME_PREFIX:-$prefix}-\\3:\${IMAGE_VERSION:-$version}#"
rewrite docker/Dockerfile "s#^ARG VERSION=.*\$#ARG VERSION=$version#"

if [ ${#stale[@]} -eq 0 ]; then
  echo "every image reference agrees with images.env ($registry/$prefix-<variant>:$version)"
elif [ "$mode" = check ]; then
  printf 'disagrees with images.env: %s\n' "${stale[@]}" >&2
  echo "run scripts/set-image-refs.sh" >&2
  exit 1
else
  printf 'rewritten: %s\n' "${stale[@]}"
fi
