#!/usr/bin/env bash
# bench/spawn_compare.sh - spawn-to-first-message: posix_spawn+socketpair (floor), ipc::spawn and
# Node's child_process.fork, in one run. Usage: bench/spawn_compare.sh BUILD_DIR [--quick]
set -euo pipefail
build=${1:?build directory with bench/spawn_bench}
here=$(cd "$(dirname "$0")" && pwd)
out=$("$build/bench/spawn_bench" "${2:-}")
echo "$out" | grep -v '^RAW_US'
raw=$(echo "$out" | awk '/^RAW_US/ {print $2}')
if command -v node >/dev/null; then
  node_us=$(node "$here/spawn_node.js" "$([ "${2:-}" = --quick ] && echo 20 || echo 60)" | awk '/^NODE_US/ {print $2}')
  awk -v n="$node_us" -v r="$raw" 'BEGIN { printf "  node child_process.fork   %8.1f us   ratio to raw %.2f\n", n, n / r }'
else
  echo "  node: not installed, skipped"
fi
