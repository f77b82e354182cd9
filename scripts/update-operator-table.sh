#!/usr/bin/env bash
# Regenerates the operator table in README.md from the kernel registry
# (`verge operators --markdown`). A test fails when the two differ.
#
# usage: scripts/update-operator-table.sh [path/to/verge]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
verge=${1:-$root/build/verge}
readme=$root/README.md
table=$("$verge" operators --markdown)

awk -v table="$table" '
  /<!-- operators:begin -->/ { print; print table; skipping = 1; next }
  /<!-- operators:end -->/ { skipping = 0 }
  !skipping { print }
' "$readme" > "$readme.tmp"
mv "$readme.tmp" "$readme"
