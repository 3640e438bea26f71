#!/usr/bin/env bash
# Allocators compared on the gateway, the allocation-heaviest path: the
# shipped binary (mimalloc linked in as malloc) against the same code built
# with -DOSPREY_MIMALLOC=OFF running on glibc's malloc and on jemalloc
# (Debian's libjemalloc2, LD_PRELOADed).
#
#   bench/allocators.sh [--duration 10] [--rounds 2] [--streams 5000]
#   OSPREY_PLAIN_BINARY=path: a build with -DOSPREY_MIMALLOC=OFF to use
#
# Per round and allocator, alternating: chat JSON and chat stream through
# the gateway at c64 (wrk -t1 on CPU 1, the fake upstream of ../shared/bench
# on CPU 1, Osprey pinned to CPU 0 with one I/O thread): req/s and server
# CPU per request; then N open streams held at once: peak RSS. The VM's
# speed drifts between rounds: compare within a round, and CPU per request
# rather than req/s.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
duration=10; rounds=2; streams=5000
while (($#)); do case "$1" in
  --duration) duration=$2; shift 2 ;; --rounds) rounds=$2; shift 2 ;; --streams) streams=$2; shift 2 ;;
  *) echo "unknown $1"; exit 2 ;; esac; done
shipped=$REPO/build/src/cli/osprey
stream_load=$REPO/build/bench/gateway/stream_load
[ -x "$shipped" ] && [ -x "$stream_load" ] || { echo "build first: make build"; exit 1; }
jemalloc=$(ls /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 2>/dev/null | head -1 || true)
[ -n "$jemalloc" ] || { echo "needs libjemalloc2 (apt-get install libjemalloc2)"; exit 1; }

# The plain binary: $OSPREY_PLAIN_BINARY, else built in build-alloc/ (the
# first time that compiles what osprey links, some minutes).
plain=${OSPREY_PLAIN_BINARY:-}
if [ -z "$plain" ]; then
  if [ ! -f build-alloc/build.ninja ]; then
    cmake -S . -B build-alloc -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOSPREY_MIMALLOC=OFF >/dev/null
  fi
  cmake --build build-alloc --target osprey -j "$(nproc)" >/dev/null
  plain=$REPO/build-alloc/src/cli/osprey
fi

src=""
for d in "${BENCH_SRC:-}" "$REPO/../shared/bench"; do [[ -n "$d" && -f "$d/peer.sh" ]] && { src=$d; break; }; done
[ -n "$src" ] || { echo "../shared/bench not found (set BENCH_SRC)"; exit 1; }
work=/tmp/osprey-alloc-bench
rm -rf "$work"; mkdir -p "$work"; cp -r "$src/." "$work/"; rm -rf "$work/run"; mkdir -p "$work/run"
cd "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 1
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  ./peer.sh fake-openai stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
./peer.sh fake-openai start >/dev/null
/usr/bin/python3 - run <<'PY'
import json, os, sys
chat = {"model": "gpt-4o-mini", "messages": [{"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Say hello in one short sentence."}], "max_tokens": 64, "temperature": 0}
json.dump(chat, open(os.path.join(sys.argv[1], "chat.json"), "w"))
json.dump(dict(chat, stream=True, stream_options={"include_usage": True}),
          open(os.path.join(sys.argv[1], "chat_stream.json"), "w"))
PY

# start NAME BINARY PRELOAD BASE_URL PORT -> SERVER_PID
start() {
  local name=$1 bin=$2 preload=$3 base=$4 port=$5
  env ${preload:+LD_PRELOAD=$preload} OPENAI_BASE_URL="$base" OPENAI_API_KEY=sk-bench-not-a-real-key OSPREY_AUTH=false \
    OSPREY_LOG_LEVEL=warn OSPREY_ACCESS_LOG=false OSPREY_UPSTREAM_POOL_SIZE=256 OSPREY_ENV_FILE=/nonexistent \
    taskset -c 0 "$bin" serve --host 127.0.0.1 --port "$port" --threads 1 --data-dir "run/data-$name-$port" \
    >"run/$name-$port.log" 2>&1 &
  SERVER_PID=$!
  pids+=("$SERVER_PID")
  for _ in $(seq 1 100); do
    [ "$(curl -s -m 1 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/health/live")" = 200 ] && return 0
    sleep 0.1
  done
  echo "$name did not start"; cat "run/$name-$port.log"; exit 1
}
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

# load PID PORT BODY -> "req/s us-cpu-per-request"
load() {
  local pid=$1 port=$2 body=$3
  WRK_LUA_DIR=load WRK_BODY_FILE=$body WRK_CONTENT_TYPE=application/json WRK_HEADERS="Authorization: Bearer x" \
    taskset -c 1 wrk -t1 -c64 -d2s -s load/post.lua "http://127.0.0.1:$port/v1/chat/completions" >/dev/null 2>&1 || true
  local t0; t0=$(ticks "$pid")
  local out
  out=$(WRK_LUA_DIR=load WRK_BODY_FILE=$body WRK_CONTENT_TYPE=application/json WRK_HEADERS="Authorization: Bearer x" \
    taskset -c 1 wrk -t1 -c64 -d"${duration}s" -s load/post.lua "http://127.0.0.1:$port/v1/chat/completions" 2>&1)
  local t=$(( $(ticks "$pid") - t0 ))
  local rps; rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
  local n; n=$(echo "$out" | awk '/requests in/{print $1}')
  echo "$rps $(awk -v t="$t" -v n="$n" 'BEGIN{printf "%.1f", n ? t*10000/n : 0}')"
}

# hold PID PORT: peak RSS (MiB) while $streams streams are open
hold() {
  local pid=$1 port=$2
  taskset -c 1 timeout 300 "$stream_load" client "$port" "$streams" 40 >"run/client-$port.log" 2>&1 &
  local client=$!
  local peak=0 r
  while kill -0 "$client" 2>/dev/null; do
    r=$(awk '/VmRSS/{print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    (( r > peak )) && peak=$r
    sleep 0.2
  done
  awk -v k="$peak" 'BEGIN{printf "%.1f", k/1024}'
}
taskset -c 1 "$stream_load" upstream 18960 >run/slow-upstream.log 2>&1 &
pids+=("$!")

names=(mimalloc glibc jemalloc)
declare -A bin=([mimalloc]=$shipped [glibc]=$plain [jemalloc]=$plain)
declare -A pre=([mimalloc]= [glibc]= [jemalloc]=$jemalloc)
port=18970
printf '%-12s %5s %22s %22s %16s\n' allocator round "json c64 req/s (us CPU)" "stream c64 req/s (us)" "peak RSS MiB"
for r in $(seq 1 "$rounds"); do
  for n in "${names[@]}"; do
    port=$((port + 3))
    start "$n" "${bin[$n]}" "${pre[$n]}" http://127.0.0.1:18090/v1 "$port"; jp=$SERVER_PID
    j=$(load "$jp" "$port" run/chat.json); kill "$jp"; wait "$jp" 2>/dev/null || true
    start "$n" "${bin[$n]}" "${pre[$n]}" http://127.0.0.1:18090/sse/v1 $((port + 1)); sp=$SERVER_PID
    s=$(load "$sp" $((port + 1)) run/chat_stream.json); kill "$sp"; wait "$sp" 2>/dev/null || true
    start "$n" "${bin[$n]}" "${pre[$n]}" http://127.0.0.1:18960/v1 $((port + 2)); hp=$SERVER_PID
    h=$(hold "$hp" $((port + 2))); kill "$hp"; wait "$hp" 2>/dev/null || true
    read -r jr jc <<<"$j"; read -r sr sc <<<"$s"
    printf '%-12s %5s %14s (%5s) %14s (%5s) %16s\n' "$n" "$r" "$jr" "$jc" "$sr" "$sc" "$h"
  done
done
