#!/usr/bin/env bash
# tests/example_cluster.sh - runs examples/cluster as a user would: real HTTP requests with curl,
# answers from distinct worker processes, live counts while connections are open, a graceful
# shutdown on SIGTERM that waits for them. Usage: example_cluster.sh EXAMPLE
set -u
example=$1
out=$(mktemp)
"$example" --workers 3 --status >"$out" 2>&1 &
pid=$!
fail() { echo "FAIL: $*"; cat "$out"; kill $pid 2>/dev/null; exit 1; }
port=""
for _ in $(seq 200); do
  port=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$out")
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || fail "did not start"
pids=""
for _ in 1 2 3 4 5 6; do
  body=$(curl -s --max-time 10 "http://127.0.0.1:$port/")
  case "$body" in "worker "[0-9]*) pids="$pids ${body#worker }" ;; *) fail "answer '$body'" ;; esac
done
distinct=$(echo $pids | tr ' ' '\n' | sort -u | wc -l)
[ "$distinct" -eq 3 ] || fail "answers came from $distinct workers, not 3: $pids"
for i in 1 2 3; do curl -s --max-time 10 "http://127.0.0.1:$port/slow" >"$out.slow$i" & done
# The status line shows the three open connections, one per worker.
seen=""
for _ in $(seq 40); do
  if grep -q '^status: 3 open (parent 0, worker [0-9]*: 1, worker [0-9]*: 1, worker [0-9]*: 1)' "$out"; then
    seen=yes; break
  fi
  sleep 0.05
done
[ -n "$seen" ] || fail "no status line with the open connections"
kill -TERM $pid
wait $pid || fail "exit status $?"
wait
grep -q '^closed: every connection done, 3 workers exited cleanly' "$out" || fail "no clean shutdown"
# The shutdown waited for the slow connections: each was answered.
for i in 1 2 3; do
  grep -q '^worker [0-9]*$' "$out.slow$i" || fail "slow request $i not answered: '$(cat "$out.slow$i")'"
done
rm -f "$out" "$out".slow*
echo "ok: cluster"
