#!/usr/bin/python3
"""Time to first SSE byte, over one keep-alive connection.

    ttfb.py HOST PORT PATH BODY_FILE N [HEADER ...]

Sends N streaming POSTs one after another and prints a JSON line with the
median and p90 (ms) of the time from sending the request to receiving the
first `data:` bytes, plus the median of the whole stream. Same client for
every target, so the difference between two targets is the added latency.
"""
import json
import socket
import statistics
import sys
import time


def main():
    host, port, path, body_file, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
    headers = sys.argv[6:]
    body = open(body_file, "rb").read()
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n").encode()
    s = socket.create_connection((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    firsts, totals = [], []
    for i in range(n + 20):  # 20 warm-up requests
        t0 = time.perf_counter()
        s.sendall(head + body)
        buf = b""
        t_first = None
        while True:
            chunk = s.recv(65536)
            if not chunk:
                raise SystemExit("connection closed by server")
            buf += chunk
            if t_first is None and b"data:" in buf:
                t_first = time.perf_counter()
            if b"\r\n\r\n" not in buf:
                continue
            hdr, _, rest = buf.partition(b"\r\n\r\n")
            lower = hdr.lower()
            if b"transfer-encoding: chunked" in lower:
                if rest.endswith(b"0\r\n\r\n"):
                    break
            else:
                cl = int(lower.split(b"content-length:")[1].split(b"\r\n")[0])
                if len(rest) >= cl:
                    break
        t_end = time.perf_counter()
        if i >= 20:
            firsts.append((t_first - t0) * 1000)
            totals.append((t_end - t0) * 1000)
    firsts.sort()
    print(json.dumps({"n": n, "first_p50_ms": statistics.median(firsts), "first_p90_ms": firsts[int(0.9 * len(firsts))],
                      "total_p50_ms": statistics.median(totals)}))


main()
