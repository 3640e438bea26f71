#!/usr/bin/env bash
# HTTP ceiling benchmark: GET /v2/health/ready on Osprey against GET /health
# on the nginx peer of ../shared/bench, each server pinned to CPU 0 with one
# worker/thread, wrk pinned to CPU 1 (1 thread), 10 s per run, 3 runs, at 1
# and 64 connections, the two servers' runs alternating. Prints req/s, p50,
# p99 (medians of the runs) and the Osprey/nginx ratio, and each server's CPU time per request (user+system,
# from /proc/PID/stat): near 200k req/s a lean server no longer saturates its
# core and wrk's own core is the limit, so req/s alone ties; CPU per request
# still tells which server is cheaper.
# Usage: bench/health.sh [--duration 10] [--runs 3]
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

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# One run: url conns pid -> "BENCH_JSON-line cpu_us_per_request".
run_once() {
  local url=$1 c=$2 pid=$3 t0 t1 line
  t0=$(cpu_ticks "$pid")
  line="$(WRK_LUA_DIR=$work/bench/load taskset -c 1 timeout $((duration + 30)) wrk -t1 -c"$c" -d"${duration}s" \
    --latency -s "$work/bench/load/get.lua" "$url" | sed -n 's/^BENCH_JSON //p')"
  t1=$(cpu_ticks "$pid")
  echo "$line $(python3 -c "import json,sys; r=json.loads(sys.argv[1]); print('%.2f' % (($t1-$t0)/$(getconf CLK_TCK)*1e6/max(r['requests'],1)))" "$line")"
}

# This VM's speed drifts by 10-25% over tens of seconds (host load): the two
# servers' runs alternate, so that a slow spell hits both rather than one.
# Prints "rps p50 p99 errors cpu_us" (medians over the runs) per server.
measure_pair() { # conns -> two lines: nginx, osprey
  local c=$1 ngx=() osp=() ngx_cpu=() osp_cpu=() out
  taskset -c 1 wrk -t1 -c"$c" -d2s "$nginx_url" >/dev/null 2>&1 || true   # warm-up
  taskset -c 1 wrk -t1 -c"$c" -d2s "$osprey_url" >/dev/null 2>&1 || true
  for _ in $(seq "$runs"); do
    out=$(run_once "$nginx_url" "$c" "$nginx_pid"); ngx+=("${out% *}"); ngx_cpu+=("${out##* }")
    out=$(run_once "$osprey_url" "$c" "$opid"); osp+=("${out% *}"); osp_cpu+=("${out##* }")
  done
  median() { printf '%s\n' "$@" | sort -n | sed -n "$(( (runs + 1) / 2 ))p"; }
  echo "$(printf '%s\n' "${ngx[@]}" | python3 "$root/bench/lib/wrkstats.py") $(median "${ngx_cpu[@]}")"
  echo "$(printf '%s\n' "${osp[@]}" | python3 "$root/bench/lib/wrkstats.py") $(median "${osp_cpu[@]}")"
}

# The nginx worker (peer.sh starts a master with one worker): it serves the requests.
nginx_pid=$(pgrep -f "nginx: worker process" -P "$(cat "$work/bench/run/nginx-health/nginx.pid")" | head -1)

nginx_url=http://127.0.0.1:18080/health
osprey_url=http://127.0.0.1:18480/v2/health/ready
printf '%-7s %-6s %12s %9s %9s %7s %12s\n' server conns req/s p50_ms p99_ms errors cpu_us/req
declare -A rps cpu_of
for c in 1 64; do
  { read -r nline; read -r oline; } <<<"$(measure_pair "$c")"
  read -r r50 p50 p99 e cpu <<<"$nline"
  printf '%-7s %-6s %12s %9s %9s %7s %12s\n' nginx "$c" "$r50" "$p50" "$p99" "$e" "$cpu"; rps[nginx$c]=$r50; cpu_of[nginx$c]=$cpu
  read -r r50 p50 p99 e cpu <<<"$oline"
  printf '%-7s %-6s %12s %9s %9s %7s %12s\n' osprey "$c" "$r50" "$p50" "$p99" "$e" "$cpu"; rps[osprey$c]=$r50; cpu_of[osprey$c]=$cpu
done
for c in 1 64; do
  python3 -c "print('ratio osprey/nginx at c$c: %.2fx req/s, %.2fx CPU per request' % (${rps[osprey$c]} / ${rps[nginx$c]}, ${cpu_of[osprey$c]} / ${cpu_of[nginx$c]}))"
done
