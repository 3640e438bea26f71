#!/usr/bin/env bash
# Real-time video benchmark: Osprey pulls a live 640x480 MJPEG camera over
# HTTP (ffmpeg -re, so frames arrive at the camera's pace) and publishes one
# event per processed frame; a client reads the events over SSE.
#   single: one 30 fps camera for --duration s per model (default yolov8n-ts
#           yolov5n-ts) and per --in-flight value (frames in detection at
#           once; default "1 2"): frames processed per second, dropped,
#           latency p50/p99 (frame received -> event published, from each
#           event's timings), and the server's CPU (utime+stime over wall
#           time, all cores).
#   pair:   two 15 fps cameras at once on the first model: the same figures
#           per stream, plus RSS and latency in the first and last thirds
#           (growth means a queue or a leak).
# Usage: bench/video.sh [--duration 60] [--models "yolov8n-ts yolov5n-ts"] [--in-flight "1 2"] [--only single|pair]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD; duration=60; models="yolov8n-ts yolov5n-ts"; only=all; inflight="1 2"
while (($#)); do case "$1" in
  --duration) duration=$2; shift 2 ;; --models) models=$2; shift 2 ;; --only) only=$2; shift 2 ;;
  --in-flight) inflight=$2; shift 2 ;;
  *) echo "unknown $1"; exit 2 ;; esac; done
shared=$(cd "${OSPREY_SHARED_DIR:-$root/../shared}" && pwd)
osprey=$root/build/src/cli/osprey
work=$(mktemp -d /tmp/osprey-bench-video.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# The camera's footage: street.jpg panned, so that boxes move and tracks are exercised.
make_video() { # fps file
  ffmpeg -loglevel error -y -loop 1 -i "$shared/images/street.jpg" -t 20 -r "$1" \
    -vf "scale=960:-2,crop=640:480:'mod(t*20,(iw-640))':240" -c:v mjpeg -q:v 5 "$2"
}
camera() { # file port
  ffmpeg -loglevel error -re -stream_loop -1 -i "$1" -c:v copy -f mpjpeg -listen 1 "http://127.0.0.1:$2/" &
  pids+=($!)
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_mib() { awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

start_osprey() { # models...
  mkdir -p "$work/models"; for m in "$@"; do ln -sfn "$shared/models/$m" "$work/models/$m"; done
  "$osprey" serve --port 18491 --access-log=false --auth=false --models "$work/models" --data-dir "$work/data" \
    ${OSPREY_SERVE_FLAGS:-} >"$work/osprey.log" 2>&1 &
  opid=$!; pids+=($opid)
  for _ in $(seq 600); do curl -sf http://127.0.0.1:18491/v2/health/ready >/dev/null && return; sleep 0.1; done
  echo "osprey did not start"; cat "$work/osprey.log"; exit 1
}

create_stream() { # source model [in_flight] -> id
  curl -sf http://127.0.0.1:18491/v1/streams -H 'Content-Type: application/json' \
    -d "{\"source\":\"$1\",\"model\":\"$2\",\"in_flight\":${3:-1}}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}

# Events of stream $1 for $2 seconds into $3.
listen() { timeout "$2" curl -sN "http://127.0.0.1:18491/v1/streams/$1/events" >"$3" || true; }

report() { # label events-file seconds stream-id
  curl -sf "http://127.0.0.1:18491/v1/streams/$4" >"$work/final.json"
  python3 - "$1" "$2" "$3" "$work/final.json" <<'PY'
import json, sys
label, path, secs, final = sys.argv[1], sys.argv[2], float(sys.argv[3]), json.load(open(sys.argv[4]))
evs = [e for e in (json.loads(l[6:]) for l in open(path) if l.startswith("data: ")) if "frame" in e and "detections" in e]
lat = sorted(e["timings"]["latency_ms"] for e in evs)
pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")
third = max(1, len(evs) // 3)
early = sorted(e["timings"]["latency_ms"] for e in evs[:third]); late = sorted(e["timings"]["latency_ms"] for e in evs[-third:])
med = lambda v: v[len(v) // 2] if v else float("nan")
f = final["frames"]
print(f"{label:<22} {len(evs)/secs:8.1f} {final['fps']['in']:8.1f} {f['dropped']:8d} "
      f"{pct(0.5):8.1f} {pct(0.99):8.1f} {med(early):9.1f} {med(late):9.1f}")
PY
}

# proc_fps: events received / duration; in_fps: the source's rate as the
# stream measured it; dropped: frames replaced before processing, since the
# stream started; p50_first/p50_last: median latency of the first and last
# third of the events.
header() { printf '%-22s %8s %8s %8s %8s %8s %9s %9s\n' stream proc_fps in_fps dropped p50_ms p99_ms p50_first p50_last; }

echo "machine: $(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2}'), $(nproc) cores; duration ${duration}s"
make_video 30 "$work/cam30.avi"; make_video 15 "$work/cam15.avi"
start_osprey $models

if [[ $only == all || $only == single ]]; then
  echo "== one 30 fps 640x480 camera per model"
  header
  for m in $models; do for n in $inflight; do
    camera "$work/cam30.avi" 18601; sleep 1
    id=$(create_stream http://127.0.0.1:18601/ "$m" "$n")
    sleep 3  # past the first frames
    t0=$(cpu_ticks "$opid"); s0=$(date +%s.%N)
    listen "$id" "$duration" "$work/ev-$m-$n.txt"
    t1=$(cpu_ticks "$opid"); s1=$(date +%s.%N)
    report "$m in_flight $n" "$work/ev-$m-$n.txt" "$duration" "$id"
    python3 -c "print(f'  server CPU: {($t1-$t0)/$(getconf CLK_TCK)/($s1-$s0)*100:.0f}% of one core, RSS $(rss_mib "$opid") MiB')"
    curl -sf -X DELETE "http://127.0.0.1:18491/v1/streams/$id" >/dev/null
    kill "${pids[-1]}" 2>/dev/null || true; sleep 1
  done; done
fi

if [[ $only == all || $only == pair ]]; then
  m=${models%% *}
  echo "== two 15 fps cameras at once, $m"
  camera "$work/cam15.avi" 18602; camera "$work/cam15.avi" 18603; sleep 1
  a=$(create_stream http://127.0.0.1:18602/ "$m"); b=$(create_stream http://127.0.0.1:18603/ "$m")
  sleep 3
  r0=$(rss_mib "$opid"); t0=$(cpu_ticks "$opid"); s0=$(date +%s.%N)
  listen "$a" "$duration" "$work/ev-a.txt" & la=$!
  listen "$b" "$duration" "$work/ev-b.txt" & lb=$!
  sleep $((duration / 3)); r1=$(rss_mib "$opid")
  wait "$la" "$lb" || true
  r2=$(rss_mib "$opid"); t1=$(cpu_ticks "$opid"); s1=$(date +%s.%N)
  header
  report "stream A" "$work/ev-a.txt" "$duration" "$a"
  report "stream B" "$work/ev-b.txt" "$duration" "$b"
  python3 -c "print(f'  server CPU: {($t1-$t0)/$(getconf CLK_TCK)/($s1-$s0)*100:.0f}% of one core; RSS MiB at start/third/end: $r0/$r1/$r2')"
fi
