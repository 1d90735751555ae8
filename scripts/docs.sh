#!/usr/bin/env bash
# scripts/docs.sh - builds the API reference with Doxygen and checks the documentation.
# SPDX-License-Identifier: BSL-1.0
#
# Prints one line "PASS <name>" or "FAIL <name>" per check (scripts/test.sh counts them) and
# exits non-zero if any failed. The reference lands in build/docs/html/index.html.
#
#   doxygen           doxygen runs on Doxyfile (public headers, README, docs/, CHANGELOG)
#   doxygen-warnings  it warned about nothing (the warnings are printed otherwise)
#   links             every relative link in README.md, CHANGELOG.md and docs/*.md names a
#                     file that exists
#
# The ```cpp blocks of README.md and docs/*.md are compiled and run by the `checks`
# configuration of scripts/test.sh, not here.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

scripts/deps.sh doxygen >/dev/null || { echo "FAIL deps"; exit 1; }

out=build/docs
rm -rf "$out"
mkdir -p "$out"
failed=0
passed=0
verdict() { # verdict NAME STATUS
  if [ "$2" -eq 0 ]; then echo "PASS $1"; passed=$((passed + 1)); else echo "FAIL $1"; failed=$((failed + 1)); fi
}

IPCXX_VERSION=$(sed -n "s/^ *version: *'\([0-9.]*\)'.*/\1/p" meson.build | head -1)
export IPCXX_VERSION
doxygen Doxyfile >"$out/doxygen.log" 2>&1
status=$?
if [ $status -ne 0 ] || [ ! -f "$out/html/index.html" ]; then
  tail -20 "$out/doxygen.log" | sed 's/^/    /'
  status=1
fi
verdict doxygen $status

if [ -s "$out/warnings.log" ]; then
  sed "s|^$PWD/||" "$out/warnings.log" | sed 's/^/    /'
  verdict doxygen-warnings 1
else
  verdict doxygen-warnings 0
fi

python3 - README.md CHANGELOG.md docs/*.md <<'PY'
import os
import re
import sys
bad = 0
for doc in sys.argv[1:]:
    text = re.sub(r"```.*?```", "", open(doc).read(), flags=re.S)  # not inside code blocks
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # external or in-page
        path = os.path.normpath(os.path.join(os.path.dirname(doc), target.split("#")[0]))
        if not os.path.exists(path):
            print(f"    {doc}: broken link {target}")
            bad += 1
sys.exit(1 if bad else 0)
PY
verdict links $?

echo "docs: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
