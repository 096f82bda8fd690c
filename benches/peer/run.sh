#!/bin/bash
# Measures the peer, Vendure 3.7 (Node, GraphQL, SQLite), on this machine in issue 9's shapes:
# `products(take:20)` with variants and `product(slug:)` with wrk at 32 connections, a full
# checkout at 8 clients (checkout.js), and the server's peak memory. Installs from npm into
# $PEER_DIR (default /var/tmp/choso-peer; better-sqlite3 builds against /usr/include/node).
# Usage: benches/peer/run.sh [seconds per shape, default 10]. Exits 1 if port 3000 is taken,
# the peer does not start, or a checkout failed (checkout.js checks every answer).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=${PEER_DIR:-/var/tmp/choso-peer}
secs=${1:-10}
for tool in node npm wrk curl python3; do
    command -v $tool >/dev/null || { echo "run.sh needs $tool (wrk: apt-get install wrk)" >&2; exit 1; }
done
# Before anything in $work is touched: a peer left running would lose its database below.
if curl -s -o /dev/null http://127.0.0.1:3000/; then
    echo "port 3000 already answers (a peer left running?): stop it first" >&2
    exit 1
fi
mkdir -p "$work"
cp "$here"/*.js "$here"/*.lua "$here"/initial.json "$here"/package.json "$work"/
cd "$work"
if [ ! -d node_modules/@vendure/core ]; then
    npm_config_nodedir=${NODEDIR:-/usr} npm install --no-audit --no-fund --foreground-scripts >install.log 2>&1
fi
export VENDURE_DISABLE_TELEMETRY=true NODE_ENV=production
python3 "$here/products.py" products.csv
rm -f vendure.sqlite*
node populate.js products.csv >populate.log 2>&1
node server.js >server.log 2>&1 &
pid=$!
stop_peer() {
    local rc=$?
    { kill $pid && wait $pid; } 2>/dev/null || true # wait answers 143 for the stopped peer
    exit $rc
}
trap stop_peer EXIT
for _ in $(seq 240); do
    curl -sf http://127.0.0.1:3000/health >/dev/null && break
    kill -0 $pid 2>/dev/null || { echo "the peer did not start:" >&2; tail -20 server.log >&2; exit 1; }
    sleep 0.5
done
curl -sf http://127.0.0.1:3000/health >/dev/null || { echo "the peer did not answer in 2 minutes" >&2; exit 1; }
url=http://127.0.0.1:3000/shop-api
for shape in list single; do
    wrk -t2 -c32 -d2s -s $shape.lua $url >/dev/null
    echo "== $shape (wrk, 32 connections, ${secs}s)"
    wrk -t2 -c32 -d${secs}s --latency -s $shape.lua $url | grep -E "Requests/sec|Non-2xx|50%|99%|Socket errors"
done
echo "== checkout (8 clients, ${secs}s after 2s)"
status=0
node checkout.js 8 "$secs" || status=$?
echo "== peer peak memory: $(grep VmHWM /proc/$pid/status)"
exit $status
