#!/usr/bin/env bash
# Gateway benchmark: direct to the fake OpenAI upstream vs through Osprey vs
# through Portkey, JSON and SSE, c1 and c64; nginx as a bare reverse proxy
# in the same place, for reference; streaming first-byte latency;
# 10,000 concurrent open streams and Osprey's RSS.
#
#   bench/gateway/run.sh            # ~6 minutes; needs the build (see below)
#   DURATION=5 bench/gateway/run.sh # shorter runs
#
# Uses the peer harness of shared/bench (copied to /tmp, so the shared copy
# stays clean): nginx fake upstream on CPU 1, Portkey on CPU 0. Osprey runs
# pinned to CPU 0 with one I/O thread, the load generator (wrk -t1) on CPU 1.
# Osprey runs as shipped (adaptive busy polling up to 100 us), and again
# with --busy-poll-us $ALT_BUSY_POLL_US (default 0: polling off) for the
# c1/c64 rows and the first byte.
# Osprey binary: $OSPREY_BINARY, else build-*/src/cli/osprey if it serves the
# gateway routes, else build-*/bench/gateway/gateway_bench_server (the same
# server + gateway code with only the chat routes). Every process this script
# starts is stopped by PID on exit.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
DURATION="${DURATION:-10}"
STREAMS="${STREAMS:-10000}"
OUT="${OUT:-/tmp/osprey-gateway-bench-results}"
mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"
: > "$RESULTS"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# --- harness -------------------------------------------------------------
SRC=""
for d in "${BENCH_SRC:-}" /work/shared/bench "$REPO/../shared/bench"; do
  [[ -n "$d" && -f "$d/peer.sh" ]] && { SRC="$d"; break; }
done
[[ -n "$SRC" ]] || { log "shared/bench not found (set BENCH_SRC)"; exit 1; }
WORK="/tmp/osprey-gw-bench"
rm -rf "$WORK"
mkdir -p "$WORK"
cp -r "$SRC/." "$WORK/"
rm -rf "$WORK/run"
cd "$WORK"

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  # A server holding open streams drains them first (its shutdown grace):
  # give the processes a few seconds before SIGKILL.
  for _ in $(seq 1 50); do
    alive=0
    for p in "${PIDS[@]}"; do  # a zombie (our exited child) counts as gone
      [[ -r /proc/$p/stat && "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ]] && alive=1
    done
    (( alive )) || break
    sleep 0.1
  done
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  ./peer.sh portkey stop >/dev/null 2>&1 || true
  ./peer.sh fake-openai stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM  # so that EXIT's cleanup runs on a signal too

# --- binaries ------------------------------------------------------------
find_build_file() { for b in "$REPO"/build-gateway "$REPO"/build "$REPO"/build-*; do [[ -x "$b/$1" ]] && { echo "$b/$1"; return; }; done; }
STREAM_LOAD="$(find_build_file bench/gateway/stream_load)"
BENCH_SERVER="$(find_build_file bench/gateway/gateway_bench_server)"
OSPREY="${OSPREY_BINARY:-$(find_build_file src/cli/osprey)}"
[[ -n "$STREAM_LOAD" ]] || { log "build stream_load first: cmake --build <dir> --target stream_load gateway_bench_server"; exit 1; }

# Each stream through the gateway holds two sockets (client + upstream) in one
# process: 10,000 streams need > 20,000 descriptors. Raise the limit as far
# as allowed; without CAP_SYS_RESOURCE the hard limit caps the stream count.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
max_streams=$(( ($(ulimit -n) - 100) / 2 ))
if (( STREAMS > max_streams )); then
  log "open-file limit $(ulimit -n): holding $max_streams streams instead of $STREAMS"
  STREAMS=$max_streams
fi

# start_gateway NAME PORT BASE_URL [CPU] -> pid in GW_PID; GW_EXTRA: more
# `osprey serve` flags (the bench server takes --busy-poll-us only).
GW_EXTRA=()
start_gateway() {
  local name="$1" port="$2" base="$3" logf="$OUT/$1.log" cpu="${4:-0}"
  if [[ "$MODE" == osprey ]]; then
    OPENAI_BASE_URL="$base" OPENAI_API_KEY=sk-bench-not-a-real-key OSPREY_AUTH=false OSPREY_LOG_LEVEL=warn \
      OSPREY_ACCESS_LOG=false OSPREY_UPSTREAM_POOL_SIZE=256 OSPREY_ENV_FILE=/nonexistent \
      taskset -c "$cpu" timeout 1800 "$OSPREY" serve --host 127.0.0.1 --port "$port" --threads 1 \
      --data-dir "$OUT/data-$name" "${GW_EXTRA[@]}" >"$logf" 2>&1 &
  else
    OPENAI_BASE_URL="$base" OPENAI_API_KEY=sk-bench-not-a-real-key \
      taskset -c "$cpu" timeout 1800 "$BENCH_SERVER" --port "$port" --threads 1 "${GW_EXTRA[@]}" >"$logf" 2>&1 &
  fi
  local wrapper=$!
  PIDS+=("$wrapper")
  # taskset execs `timeout`, which forks the server: measure the child.
  GW_PID=""
  for _ in $(seq 1 50); do
    GW_PID="$(pgrep -P "$wrapper" | head -1 || true)"
    [[ -n "$GW_PID" ]] && break
    sleep 0.05
  done
  [[ -n "$GW_PID" ]] || GW_PID=$wrapper
  PIDS+=("$GW_PID")
  for _ in $(seq 1 200); do
    # Any HTTP answer means it listens (a 404 route: never touches the upstream).
    [[ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/bench-ready" 2>/dev/null)" != 000 ]] && return 0
    sleep 0.1
  done
  log "$name did not start:"; tail -20 "$logf" >&2; return 1
}

# Pick the binary: the real one if it serves the gateway routes.
MODE=bench_server
if [[ -n "$OSPREY" ]]; then
  MODE=osprey
  if start_gateway probe 18899 http://127.0.0.1:18090/v1 2>/dev/null; then
    code="$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d '{}' http://127.0.0.1:18899/v1/chat/completions)"
    kill "$GW_PID"; wait "$GW_PID" 2>/dev/null || true
    [[ "$code" == 400 ]] || { log "osprey answers $code on /v1/chat/completions (routes not wired?): using gateway_bench_server"; MODE=bench_server; }
  else
    MODE=bench_server
  fi
fi
if [[ "$MODE" == bench_server ]]; then
  [[ -n "$BENCH_SERVER" ]] || { log "no osprey binary with the gateway routes and no gateway_bench_server"; exit 1; }
  log "gateway under test: $BENCH_SERVER (osprey server + chat routes)"
else
  log "gateway under test: $OSPREY"
fi
echo "{\"kind\":\"binary\",\"mode\":\"$MODE\",\"path\":\"$([[ $MODE == osprey ]] && echo "$OSPREY" || echo "$BENCH_SERVER")\"}" >> "$RESULTS"

# --- peers ---------------------------------------------------------------
log "starting fake-openai (CPU 1) and portkey (CPU 0)"
./peer.sh fake-openai start
./peer.sh portkey start
# The same chat bodies as bench.py's make_bodies() (which also needs the shared images).
BODIES="$WORK/run/bodies"
mkdir -p "$BODIES"
/usr/bin/python3 - "$BODIES" <<'PY'
import json, os, sys
d = sys.argv[1]
chat = {"model": "gpt-4o-mini",
        "messages": [{"role": "system", "content": "You are a helpful assistant."},
                     {"role": "user", "content": "Say hello in one short sentence."}],
        "max_tokens": 64, "temperature": 0}
json.dump(chat, open(os.path.join(d, "chat.json"), "w"))
json.dump(dict(chat, stream=True, stream_options={"include_usage": True}), open(os.path.join(d, "chat_stream.json"), "w"))
PY

start_gateway osprey-json 18901 http://127.0.0.1:18090/v1; OSPREY_JSON_PID=$GW_PID
start_gateway osprey-sse 18902 http://127.0.0.1:18090/sse/v1; OSPREY_SSE_PID=$GW_PID

KEY='Authorization: Bearer sk-bench-not-a-real-key'
# wrk_run LABEL TARGET MODE CONNS URL BODY HEADERS
wrk_run() {
  local label="$1" target="$2" mode="$3" conns="$4" url="$5" body="$6" headers="$7" pid="${8:-}"
  WRK_LUA_DIR=load WRK_BODY_FILE="$body" WRK_CONTENT_TYPE=application/json WRK_HEADERS="$headers" \
    taskset -c 1 timeout 70 wrk -t1 -c"$conns" -d2s --timeout 30s -s load/post.lua "$url" >/dev/null 2>&1 || true
  cpu_ticks() { [[ -n "$pid" && -r /proc/$pid/stat ]] && awk '{print $14+$15}' "/proc/$pid/stat" || echo 0; }
  local t0; t0="$(cpu_ticks)"
  local line
  line="$(WRK_LUA_DIR=load WRK_BODY_FILE="$body" WRK_CONTENT_TYPE=application/json WRK_HEADERS="$headers" \
    taskset -c 1 timeout 70 wrk -t1 -c"$conns" -d"${DURATION}s" --timeout 30s --latency -s load/post.lua "$url" 2>&1 | grep BENCH_JSON | sed 's/^BENCH_JSON //')"
  local rss=0
  [[ -n "$pid" && -r /proc/$pid/status ]] && rss="$(awk '/VmRSS/{print $2}' /proc/$pid/status)"
  local ticks=$(( $(cpu_ticks) - t0 ))  # server CPU time in 1/100 s: load-independent cost per request
  echo "{\"kind\":\"wrk\",\"target\":\"$target\",\"mode\":\"$mode\",\"conns\":$conns,\"rss_kib\":$rss,\"cpu_ticks\":$ticks,\"wrk\":$line}" >> "$RESULTS"
  log "$label: $line"
}

PK_JSON=$'Authorization: Bearer sk-bench-not-a-real-key\nx-portkey-provider: openai\nx-portkey-custom-host: http://127.0.0.1:18090/v1'
PK_SSE=$'Authorization: Bearer sk-bench-not-a-real-key\nx-portkey-provider: openai\nx-portkey-custom-host: http://127.0.0.1:18090/sse/v1'
for c in 1 64; do
  wrk_run "direct json c$c" direct json "$c" http://127.0.0.1:18090/v1/chat/completions "$BODIES/chat.json" "$KEY"
  wrk_run "osprey json c$c" osprey json "$c" http://127.0.0.1:18901/v1/chat/completions "$BODIES/chat.json" "Authorization: Bearer client-key" "$OSPREY_JSON_PID"
  wrk_run "portkey json c$c" portkey json "$c" http://127.0.0.1:18787/v1/chat/completions "$BODIES/chat.json" "$PK_JSON"
  wrk_run "direct stream c$c" direct stream "$c" http://127.0.0.1:18090/sse/v1/chat/completions "$BODIES/chat_stream.json" "$KEY"
  wrk_run "osprey stream c$c" osprey stream "$c" http://127.0.0.1:18902/v1/chat/completions "$BODIES/chat_stream.json" "Authorization: Bearer client-key" "$OSPREY_SSE_PID"
  wrk_run "portkey stream c$c" portkey stream "$c" http://127.0.0.1:18787/v1/chat/completions "$BODIES/chat_stream.json" "$PK_SSE"
done

# --- reference: nginx as a bare reverse proxy -------------------------------
# The same place in the harness (CPU 0, keep-alive pool to the fake upstream,
# the server key set on the way) with nothing else: no auth, no JSON checks,
# no usage ledger, no metrics. What a gateway costs beyond this is its own
# work; this line itself is mostly the kernel's (4 socket calls a request
# and the wake-ups of the other core).
NGX="$WORK/run/nginx-proxy"
mkdir -p "$NGX/logs"
cat > "$NGX/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $NGX/nginx.pid;
error_log $NGX/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream fake { server 127.0.0.1:18090; keepalive 256; }
  server {
    listen 127.0.0.1:18905;
    location / {
      proxy_pass http://fake;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "Bearer sk-bench-not-a-real-key";
    }
  }
}
NGINX
taskset -c 0 timeout 600 nginx -p "$NGX" -c "$NGX/nginx.conf" -e "$NGX/logs/error.log" &
PIDS+=("$!")
NGX_PID=""
for _ in $(seq 1 50); do
  [[ -f "$NGX/nginx.pid" ]] && NGX_PID="$(pgrep -P "$(cat "$NGX/nginx.pid")" | head -1 || true)"
  [[ -n "$NGX_PID" ]] && break
  sleep 0.1
done
for c in 1 64; do
  wrk_run "nginx proxy json c$c" nginx_proxy json "$c" http://127.0.0.1:18905/v1/chat/completions "$BODIES/chat.json" "Authorization: Bearer client-key" "$NGX_PID"
done
[[ -f "$NGX/nginx.pid" ]] && kill "$(cat "$NGX/nginx.pid")" 2>/dev/null || true

# --- added latency without cross-core wakeups ------------------------------
# Above, a request through a gateway on CPU 0 crosses cores four times
# (load -> gateway -> upstream -> gateway -> load), and on this VM each
# wake-up of the other core costs ~35 us, while the direct path stays on
# CPU 1. Run Osprey on CPU 1 too: the difference to direct is then what the
# gateway itself adds.
start_gateway osprey-colo 18904 http://127.0.0.1:18090/v1 1; OSPREY_COLO_PID=$GW_PID
wrk_run "osprey json c1 (colocated on CPU 1)" osprey_colocated json 1 http://127.0.0.1:18904/v1/chat/completions "$BODIES/chat.json" "Authorization: Bearer client-key" "$OSPREY_COLO_PID"
kill "$OSPREY_COLO_PID" 2>/dev/null || true

# --- the other busy-polling setting --------------------------------------
# The same place as the main table (CPU 0), with --busy-poll-us
# $ALT_BUSY_POLL_US (default 0). As shipped, Osprey's I/O thread keeps polling
# for up to 100 us after an event while events come that close together, so
# the two wake-ups of CPU 0 per request (the client's request, the upstream's
# answer) find it awake; with 0 it always sleeps in epoll_wait, as nginx's
# worker does. The other core sleeps and wakes twice either way.
ALT_BUSY_POLL_US="${ALT_BUSY_POLL_US:-0}"
GW_EXTRA=(--busy-poll-us "$ALT_BUSY_POLL_US")
start_gateway osprey-alt-json 18906 http://127.0.0.1:18090/v1; ALT_JSON_PID=$GW_PID
start_gateway osprey-alt-sse 18907 http://127.0.0.1:18090/sse/v1; ALT_SSE_PID=$GW_PID
GW_EXTRA=()
echo "{\"kind\":\"alt_busy_poll\",\"us\":$ALT_BUSY_POLL_US}" >> "$RESULTS"
for c in 1 64; do
  wrk_run "osprey json c$c (--busy-poll-us ${ALT_BUSY_POLL_US})" osprey_alt json "$c" http://127.0.0.1:18906/v1/chat/completions "$BODIES/chat.json" "Authorization: Bearer client-key" "$ALT_JSON_PID"
  wrk_run "osprey stream c$c (--busy-poll-us ${ALT_BUSY_POLL_US})" osprey_alt stream "$c" http://127.0.0.1:18907/v1/chat/completions "$BODIES/chat_stream.json" "Authorization: Bearer client-key" "$ALT_SSE_PID"
done
kill "$ALT_JSON_PID" 2>/dev/null || true

# --- streaming time to first byte ----------------------------------------
log "streaming first byte (500 sequential requests each)"
ttfb() {
  local target="$1"; shift
  local line; line="$(taskset -c 1 /usr/bin/python3 "$HERE/ttfb.py" "$@")"
  echo "{\"kind\":\"ttfb\",\"target\":\"$target\",\"r\":$line}" >> "$RESULTS"
  log "ttfb $target: $line"
}
ttfb direct 127.0.0.1 18090 /sse/v1/chat/completions "$BODIES/chat_stream.json" 500 "$KEY"
ttfb osprey 127.0.0.1 18902 /v1/chat/completions "$BODIES/chat_stream.json" 500
ttfb osprey_alt 127.0.0.1 18907 /v1/chat/completions "$BODIES/chat_stream.json" 500
kill "$ALT_SSE_PID" 2>/dev/null || true
ttfb portkey 127.0.0.1 18787 /v1/chat/completions "$BODIES/chat_stream.json" 100 "$KEY" \
  "x-portkey-provider: openai" "x-portkey-custom-host: http://127.0.0.1:18090/sse/v1"

# --- 10k open streams ------------------------------------------------------
log "$STREAMS concurrent open streams"
./peer.sh portkey stop >/dev/null 2>&1 || true
taskset -c 1 timeout 600 "$STREAM_LOAD" upstream 18950 >"$OUT/slow-upstream.log" 2>&1 &
PIDS+=("$!")
start_gateway osprey-hold 18903 http://127.0.0.1:18950/v1; HOLD_PID=$GW_PID
idle_rss="$(awk '/VmRSS/{print $2}' /proc/$HOLD_PID/status)"
taskset -c 1 timeout 600 "$STREAM_LOAD" client 18903 "$STREAMS" 40 >"$OUT/stream-client.log" 2>&1 &
CLIENT=$!
PIDS+=("$CLIENT")
peak=0; open_seen=""
while kill -0 "$CLIENT" 2>/dev/null; do
  r="$(awk '/VmRSS/{print $2}' /proc/$HOLD_PID/status 2>/dev/null || echo 0)"
  (( r > peak )) && peak=$r
  sleep 0.25
done
wait "$CLIENT" || true
settled="$(grep all_settled "$OUT/stream-client.log" | head -1 || true)"
final="$(tail -1 "$OUT/stream-client.log")"
echo "{\"kind\":\"streams\",\"n\":$STREAMS,\"idle_rss_kib\":$idle_rss,\"peak_rss_kib\":$peak,\"settled\":\"$settled\",\"final\":\"$final\"}" >> "$RESULTS"
log "streams: idle RSS ${idle_rss} KiB, peak ${peak} KiB; $settled; $final"

/usr/bin/python3 "$HERE/summarize.py" "$RESULTS" | tee "$OUT/summary.md"
