#!/usr/bin/env bash
# HTTP ceiling benchmark: GET /v2/health/ready on Osprey against GET /health
# on the nginx peer of ../shared/bench, each server pinned to CPU 0 with one
# worker/thread, wrk pinned to CPU 1 (1 thread), 10 s per run, 3 runs, at 1
# and 64 connections. Prints req/s, p50, p99 (medians of the runs) and the
# Osprey/nginx ratio. Usage: bench/health.sh [--duration 10] [--runs 3]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
duration=10; runs=3
while (($#)); do case "$1" in --duration) duration=$2; shift 2 ;; --runs) runs=$2; shift 2 ;; *) echo "unknown $1"; exit 2 ;; esac; done
shared=${OSPREY_SHARED_DIR:-$root/../shared}
osprey=$root/build/src/cli/osprey
[ -x "$osprey" ] || { echo "build first: make build"; exit 1; }

work=$(mktemp -d /tmp/osprey-bench-health.XXXXXX)
cp -r "$shared/bench" "$work/bench"
chmod -R u+w "$work/bench"
cleanup() { (cd "$work/bench" && ./peer.sh nginx-health stop >/dev/null 2>&1 || true); [ -n "${opid:-}" ] && kill "$opid" 2>/dev/null || true; }
trap cleanup EXIT
(cd "$work/bench" && SHARED_DIR="$shared" ./peer.sh nginx-health start >/dev/null)

taskset -c 0 "$osprey" serve --port 18480 --threads 1 --access-log=false --auth=false \
  --models "$work/empty" --data-dir "$work/data" >"$work/osprey.log" 2>&1 &
opid=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:18480/v2/health/ready >/dev/null && break; sleep 0.1; done

measure() { # url conns -> "rps p50 p99" (medians over runs)
  local url=$1 c=$2 out=()
  taskset -c 1 wrk -t1 -c"$c" -d2s "$url" >/dev/null 2>&1 || true   # warm-up
  for _ in $(seq "$runs"); do
    out+=("$(WRK_LUA_DIR=$work/bench/load taskset -c 1 timeout $((duration + 30)) wrk -t1 -c"$c" -d"${duration}s" \
      --latency -s "$work/bench/load/get.lua" "$url" | sed -n 's/^BENCH_JSON //p')")
  done
  printf '%s\n' "${out[@]}" | python3 "$root/bench/lib/wrkstats.py"
}

printf '%-7s %-6s %12s %9s %9s %7s\n' server conns req/s p50_ms p99_ms errors
declare -A rps
for c in 1 64; do
  read -r r50 p50 p99 e <<<"$(measure http://127.0.0.1:18080/health "$c")"
  printf '%-7s %-6s %12s %9s %9s %7s\n' nginx "$c" "$r50" "$p50" "$p99" "$e"; rps[nginx$c]=$r50
  read -r r50 p50 p99 e <<<"$(measure http://127.0.0.1:18480/v2/health/ready "$c")"
  printf '%-7s %-6s %12s %9s %9s %7s\n' osprey "$c" "$r50" "$p50" "$p99" "$e"; rps[osprey$c]=$r50
done
for c in 1 64; do
  python3 -c "print('ratio osprey/nginx at c$c: %.2fx' % (${rps[osprey$c]} / ${rps[nginx$c]}))"
done
