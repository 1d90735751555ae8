#!/usr/bin/env bash
# scripts/example.sh - installs what is missing, builds the flagship example and runs it:
# examples/cluster, an HTTP server whose connections are served by three worker processes.
# It makes a few requests with curl, shows the live connection counts the parent gathers from
# its workers, and shuts the cluster down gracefully (SIGTERM: it waits for open connections).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh curl
if [ ! -d build/example ]; then
  meson setup build/example -Dtests=false -Dbench=false -Dexamples=true >/dev/null
fi
meson compile -C build/example cluster >/dev/null

out=$(mktemp)
build/example/examples/cluster --workers 3 --status >"$out" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$out"' EXIT
port=""
for _ in $(seq 100); do
  port=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$out")
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || { cat "$out"; echo "the cluster did not start"; exit 1; }
cat "$out"

echo "--- three requests, one after the other (round robin over the workers):"
for _ in 1 2 3; do curl -s --max-time 10 "http://127.0.0.1:$port/"; done
echo "--- four slow requests at once (each worker holds its connections for a second):"
for _ in 1 2 3 4; do curl -s --max-time 10 "http://127.0.0.1:$port/slow" & done
sleep 0.7
echo "--- SIGTERM while they are open: the cluster stops accepting and waits for them"
kill -TERM $pid
wait $pid
status=$?
trap - EXIT
wait # the curls
echo "--- what the cluster printed:"
cat "$out"
rm -f "$out"
exit $status
