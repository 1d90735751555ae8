#!/usr/bin/env bash
# scripts/example.sh - installs what is missing, builds the flagship example and runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
if [ ! -d build/example ]; then
  meson setup build/example -Dtests=false -Dbench=false -Dexamples=true >/dev/null
fi
meson compile -C build/example parent_child >/dev/null
exec build/example/examples/parent_child
