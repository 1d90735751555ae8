#!/usr/bin/env bash
# tests/example_tcp_handoff.sh - runs examples/tcp_handoff in both modes and fetches from it
# with a real HTTP client (curl), as a user would. Usage: example_tcp_handoff.sh EXAMPLE
set -u
example=$1
for mode in "" "--acceptor"; do
  out=$(mktemp)
  "$example" $mode --count 3 >"$out" &
  pid=$!
  port=""
  for _ in $(seq 100); do
    port=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)/$|\1|p' "$out")
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || { echo "example$mode did not start"; kill $pid; exit 1; }
  for i in 1 2 3; do
    body=$(curl -s --max-time 10 "http://127.0.0.1:$port/")
    if [ "$body" != "Child handled it." ]; then
      echo "request $i to example$mode: got '$body'"; kill $pid; exit 1
    fi
  done
  if ! wait $pid; then echo "example$mode exited with failure"; exit 1; fi
  rm -f "$out"
  echo "ok: tcp_handoff $mode"
done
