#!/usr/bin/env bash
# Detection benchmark: POST /v1/detect (Osprey) vs POST /detect (the
# seed-style FastAPI peer, uvicorn --workers 2) with dog.jpg as multipart, at
# 1, 4 and 16 connections, both servers on both cores, wrk on CPU 1.
#   pair 1: the same Darknet model (yolo-fastest-1.1-xl) on both
#   pair 2: best format each: Osprey yolov5n-ts (libtorch) vs peer yolov5n (ONNX on cv2)
#   pair 3: Osprey's yolov8n-class path, yolov8n-ts, vs the peer's yolov5n ONNX on cv2
#           (the peer decodes only YOLOv5-style outputs; its yolov8n ONNX forward on cv2
#           is slower than its yolov5n one, so this ratio understates Osprey's)
# OSPREY_SERVE_FLAGS: more `osprey serve` flags (e.g. --engine-threads 1 for an A/B).
# Then each engine's raw forward time in-process (osprey_bench_forward) for
# the end-to-end-vs-forward CPU ratio. Usage: bench/detect.sh [--duration 10] [--pair 1|2|3|forward|all]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD; duration=10; pair=all
while (($#)); do case "$1" in --duration) duration=$2; shift 2 ;; --pair) pair=$2; shift 2 ;; *) echo "unknown $1"; exit 2 ;; esac; done
shared=$(cd "${OSPREY_SHARED_DIR:-$root/../shared}" && pwd)
osprey=$root/build/src/cli/osprey
work=$(mktemp -d /tmp/osprey-bench-detect.XXXXXX)
cp -r "$shared/bench" "$work/bench"; chmod -R u+w "$work/bench"
(cd "$work/bench" && ./setup.sh >/dev/null)
opid=""
cleanup() { (cd "$work/bench" && ./peer.sh uvicorn2 stop >/dev/null 2>&1 || true); [ -n "$opid" ] && kill "$opid" 2>/dev/null || true; }
trap cleanup EXIT

boundary=----ospreybench7MA4YWxkTrZu0gW
python3 - "$shared/images/dog.jpg" "$work/dog.multipart" "$boundary" <<'PY'
import sys
img = open(sys.argv[1], "rb").read(); b = sys.argv[3].encode()
body = b"--" + b + b'\r\nContent-Disposition: form-data; name="image"; filename="dog.jpg"\r\nContent-Type: image/jpeg\r\n\r\n' + img + b"\r\n--" + b + b"--\r\n"
open(sys.argv[2], "wb").write(body)
PY

measure() { # url conns
  WRK_BODY_FILE=$work/dog.multipart WRK_CONTENT_TYPE="multipart/form-data; boundary=$boundary" \
    taskset -c 1 wrk -t1 -c"$2" -d2s -s "$work/bench/load/post.lua" "$1" >/dev/null 2>&1 || true
  WRK_BODY_FILE=$work/dog.multipart WRK_CONTENT_TYPE="multipart/form-data; boundary=$boundary" WRK_LUA_DIR=$work/bench/load \
    taskset -c 1 timeout $((duration + 60)) wrk -t1 -c"$2" -d"${duration}s" --timeout 30s --latency \
    -s "$work/bench/load/post.lua" "$1" | python3 "$root/bench/lib/wrkstats.py"
}

start_osprey() { # model
  mkdir -p "$work/models-$1"; ln -sfn "$shared/models/$1" "$work/models-$1/$1"
  "$osprey" serve --port 18481 --access-log=false --auth=false --models "$work/models-$1" --default-model "$1" \
    --data-dir "$work/data" ${OSPREY_SERVE_FLAGS:-} >"$work/osprey-$1.log" 2>&1 &
  opid=$!
  for _ in $(seq 300); do curl -sf http://127.0.0.1:18481/v2/health/ready >/dev/null && return; sleep 0.1; done
  echo "osprey did not start"; cat "$work/osprey-$1.log"; exit 1
}
stop_osprey() { kill "$opid"; wait "$opid" 2>/dev/null || true; opid=""; }

run_pair() { # osprey-model peer-model peer-input
  local om=$1 pm=$2 size=$3
  echo "== Osprey $om vs peer (uvicorn --workers 2) $pm"
  printf '%-8s %-5s %9s %9s %9s %6s\n' server conns req/s p50_ms p99_ms errors
  (cd "$work/bench" && SERVER_CPU=0-1 SHARED_DIR="$shared" YOLO_MODEL_NAME=$pm YOLO_INPUT_SIZE=$size ./peer.sh uvicorn2 start >/dev/null)
  start_osprey "$om"
  declare -gA R
  for c in 1 4 16; do
    read -r a b d e <<<"$(measure http://127.0.0.1:18002/detect "$c")"; R[peer$c]=$a
    printf '%-8s %-5s %9s %9s %9s %6s\n' peer "$c" "$a" "$b" "$d" "$e"
    read -r a b d e <<<"$(measure "http://127.0.0.1:18481/v1/detect?model=$om" "$c")"; R[osprey$c]=$a
    printf '%-8s %-5s %9s %9s %9s %6s\n' osprey "$c" "$a" "$b" "$d" "$e"
  done
  for c in 1 4 16; do python3 -c "print('ratio osprey/peer at c$c: %.2fx' % (${R[osprey$c]} / ${R[peer$c]}))"; done
  stop_osprey
  (cd "$work/bench" && ./peer.sh uvicorn2 stop >/dev/null)
}

[[ $pair == all || $pair == 1 ]] && run_pair yolo-fastest-1.1-xl yolo-fastest-1.1-xl 320
[[ $pair == all || $pair == 2 ]] && run_pair yolov5n-ts yolov5n 640
[[ $pair == all || $pair == 3 ]] && run_pair yolov8n-ts yolov5n 640
[[ $pair == all || $pair == forward ]] || exit 0

echo "== raw forward in-process"
OMP_WAIT_POLICY=PASSIVE "$root/build/bench/inference/osprey_bench_forward" 2>/dev/null | tail -30 || true
