#!/usr/bin/env bash
# Runs every fuzz target of the module for a while (default 20s each).
# New inputs that fail are written to the package's testdata/fuzz/<Fuzz>/.
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-20s}
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "== $pkg $target"
    go test -run XXX -fuzz "^${target}\$" -fuzztime "$time" -fuzzminimizetime 5s "$pkg"
  done
done
