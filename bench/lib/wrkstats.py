#!/usr/bin/env python3
"""Reads wrk BENCH_JSON lines (one per run) on stdin; prints the medians
"rps p50_ms p99_ms errors" (errors summed) on one line."""
import json
import statistics
import sys

rows = []
for line in sys.stdin:
    line = line.strip()
    if line.startswith("BENCH_JSON "):
        line = line[len("BENCH_JSON "):]
    if line.startswith("{"):  # wrk's own text report is ignored
        rows.append(json.loads(line))
if not rows:
    print("0 0 0 -1")
    sys.exit(0)
med = lambda k: statistics.median(r[k] for r in rows)
errs = sum(r["err_status"] + r["err_connect"] + r["err_read"] + r["err_timeout"] for r in rows)
print("%.1f %.3f %.3f %d" % (med("rps"), med("p50_ms"), med("p99_ms"), errs))
