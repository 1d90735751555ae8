#!/usr/bin/env bash
# tests/compile_fail/check.sh - compile-fail twins: FILE must compile as it is, must fail to
# compile with -DIPC_COMPILE_FAIL, and the error must contain the file's "// expect:" text.
# Usage: check.sh FILE INCLUDE_DIR COMPILER [COMPILER ARGS...]
set -u
file=$1 include=$2
shift 2
expect=$(sed -n 's|^// expect: ||p' "$file")
if ! "$@" -std=c++20 -fsyntax-only -DASIO_STANDALONE -I"$include" "$file" 2>/tmp/compile_fail.$$.good; then
  echo "the good twin of $file does not compile:"; cat /tmp/compile_fail.$$.good
  rm -f /tmp/compile_fail.$$.*; exit 1
fi
if "$@" -std=c++20 -fsyntax-only -DASIO_STANDALONE -DIPC_COMPILE_FAIL -I"$include" "$file" \
     2>/tmp/compile_fail.$$.bad; then
  echo "$file compiles with IPC_COMPILE_FAIL: it must not"; rm -f /tmp/compile_fail.$$.*; exit 1
fi
if ! grep -qF -- "$expect" /tmp/compile_fail.$$.bad; then
  echo "$file fails to compile, but the error does not say: $expect"
  head -40 /tmp/compile_fail.$$.bad; rm -f /tmp/compile_fail.$$.*; exit 1
fi
rm -f /tmp/compile_fail.$$.*
echo "ok: $file"
