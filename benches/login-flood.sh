#!/usr/bin/env bash
# A flood of sign-ins against a fresh server: N wrong-password logins, P at a time, through
# GraphQL. Prints the answers by HTTP status, the server's peak memory (VmHWM), the time the
# flood took and how long /healthz took in the middle of it. Each login is an argon2
# verification (19 MiB, tens of ms of a core); see benches/README.md (session 14).
# Usage: benches/login-flood.sh [server binary] [N] [P]
# (default: $CARGO_TARGET_DIR or target, release/choso; 400; 100). Needs curl.
set -euo pipefail
bin=${1:-${CARGO_TARGET_DIR:-target}/release/choso}
n=${2:-400}
p=${3:-100}
dir=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
trap 'kill -INT "$pid" 2>/dev/null || true; sleep 1; rm -rf "$dir"' EXIT
"$bin" serve --addr "127.0.0.1:$port" --database-url "sqlite://$dir/db.sqlite?mode=rwc" \
  --data-dir "$dir/data" >"$dir/log" 2>&1 &
pid=$!
for _ in $(seq 50); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
  sleep 0.2
done
cat >"$dir/login.json" <<'JSON'
{"query":"mutation($i: LoginInput!) { login(input: $i) { token userErrors { code } } }","variables":{"i":{"email":"nobody@example.vn","password":"not the password"}}}
JSON
start=$(date +%s.%N)
seq "$n" | xargs -P "$p" -I{} curl -s -o /dev/null -w "%{http_code}\n" \
  -H 'content-type: application/json' --data @"$dir/login.json" "http://127.0.0.1:$port/graphql" \
  >"$dir/codes" &
flood=$!
sleep 0.5
healthz=$(curl -s -o /dev/null -w "%{time_total}" "http://127.0.0.1:$port/healthz")
wait "$flood"
end=$(date +%s.%N)
echo "answers: $(sort "$dir/codes" | uniq -c | awk '{printf "%s×%s ", $1, $2}')"
echo "server peak memory: $(awk '/VmHWM/ {printf "%.1f MB", $2 / 1024}' "/proc/$pid/status")"
echo "flood: $n logins, $p at a time, in $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }') s; /healthz during it: ${healthz} s"
