#!/usr/bin/env bash
# HTTP ceiling benchmark: GET /v2/health/ready on Osprey against GET /health
# on the nginx peer of ../shared/bench, each server pinned to CPU 0 with one
# worker/thread, wrk pinned to CPU 1 (1 thread), 10 s per run, 3 runs, at 1
# and 64 connections, the servers' runs alternating. Osprey runs as shipped
# (adaptive busy polling, up to 100 us) and again with --busy-poll-us 0
# (its I/O thread always sleeps in epoll_wait, as nginx's worker does).
# Prints req/s, p50, p99 (medians of the runs), the Osprey/nginx ratios, and
# each server's CPU time per request (user+system, from /proc/PID/stat):
# near 200k req/s a lean server no longer saturates its core and wrk's own
# core is the limit, so req/s alone ties; CPU per request still tells which
# server is cheaper.
# Usage: bench/health.sh [--duration 10] [--runs 3]   (OSPREY_BINARY: another build to measure)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
duration=10; runs=3
while (($#)); do case "$1" in --duration) duration=$2; shift 2 ;; --runs) runs=$2; shift 2 ;; *) echo "unknown $1"; exit 2 ;; esac; done
shared=${OSPREY_SHARED_DIR:-$root/../shared}
osprey=${OSPREY_BINARY:-$root/build/src/cli/osprey}
[ -x "$osprey" ] || { echo "build first: make build"; exit 1; }

work=$(mktemp -d /tmp/osprey-bench-health.XXXXXX)
cp -r "$shared/bench" "$work/bench"
chmod -R u+w "$work/bench"
cleanup() {
  (cd "$work/bench" && ./peer.sh nginx-health stop >/dev/null 2>&1 || true)
  for p in "${opid:-}" "${offpid:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
(cd "$work/bench" && SHARED_DIR="$shared" ./peer.sh nginx-health start >/dev/null)

# Osprey twice: as it ships, where its I/O thread keeps polling for up to
# 100 us after an event while events come that close together (so that a
# request finds the core awake), and with --busy-poll-us 0, where it always
# sleeps. Only one of the three servers runs a load at a time.
start_osprey() { # port extra-args... -> pid on stdout
  local port=$1; shift
  taskset -c 0 "$osprey" serve --port "$port" --threads 1 --access-log=false --auth=false \
    --models "$work/empty" --data-dir "$work/data-$port" "$@" >"$work/osprey-$port.log" 2>&1 &
  echo $!
}
opid=$(start_osprey 18480)
offpid=$(start_osprey 18481 --busy-poll-us 0)
for port in 18480 18481; do
  for _ in $(seq 100); do curl -sf http://127.0.0.1:$port/v2/health/ready >/dev/null && break; sleep 0.1; done
done

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

# This VM's speed drifts by 10-25% over tens of seconds (host load): the
# servers' runs alternate, so that a slow spell hits all rather than one.
# Prints "rps p50 p99 errors cpu_us" (medians over the runs), one line per
# server, in the order of `servers`.
measure() { # conns
  local c=$1 name out
  declare -A lines cpus
  for name in "${servers[@]}"; do
    taskset -c 1 wrk -t1 -c"$c" -d2s "${url[$name]}" >/dev/null 2>&1 || true   # warm-up
  done
  for _ in $(seq "$runs"); do
    for name in "${servers[@]}"; do
      out=$(run_once "${url[$name]}" "$c" "${pid[$name]}")
      lines[$name]+="${out% *}"$'\n'; cpus[$name]+="${out##* } "
    done
  done
  median() { printf '%s\n' "$@" | sort -n | sed -n "$(( (runs + 1) / 2 ))p"; }
  for name in "${servers[@]}"; do
    # shellcheck disable=SC2086
    echo "$(printf '%s' "${lines[$name]}" | python3 "$root/bench/lib/wrkstats.py") $(median ${cpus[$name]})"
  done
}

# The nginx worker (peer.sh starts a master with one worker): it serves the requests.
declare -A url pid
servers=(nginx osprey osprey-no-busy-poll)
pid[nginx]=$(pgrep -f "nginx: worker process" -P "$(cat "$work/bench/run/nginx-health/nginx.pid")" | head -1)
pid[osprey]=$opid
pid[osprey-no-busy-poll]=$offpid
url[nginx]=http://127.0.0.1:18080/health
url[osprey]=http://127.0.0.1:18480/v2/health/ready
url[osprey-no-busy-poll]=http://127.0.0.1:18481/v2/health/ready
echo "osprey: osprey serve (as shipped); osprey-no-busy-poll: osprey serve --busy-poll-us 0"
printf '%-20s %-6s %12s %9s %9s %7s %12s\n' server conns req/s p50_ms p99_ms errors cpu_us/req
declare -A rps cpu_of
for c in 1 64; do
  i=0
  while read -r r50 p50 p99 e cpu; do
    name=${servers[$i]}; i=$((i + 1))
    printf '%-20s %-6s %12s %9s %9s %7s %12s\n' "$name" "$c" "$r50" "$p50" "$p99" "$e" "$cpu"
    rps[$name$c]=$r50; cpu_of[$name$c]=$cpu
  done <<<"$(measure "$c")"
done
for c in 1 64; do
  for name in osprey osprey-no-busy-poll; do
    python3 -c "print('ratio $name/nginx at c$c: %.2fx req/s, %.2fx CPU per request' % (${rps[$name$c]} / ${rps[nginx$c]}, ${cpu_of[$name$c]} / ${cpu_of[nginx$c]}))"
  done
done
