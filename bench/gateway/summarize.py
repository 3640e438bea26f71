#!/usr/bin/python3
"""Prints the gateway benchmark table from run.sh's results.jsonl."""
import json
import sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
wrk = {(r["target"], r["mode"], r["conns"]): r for r in rows if r["kind"] == "wrk"}
binary = next((r for r in rows if r["kind"] == "binary"), {})
print(f"Gateway under test: {binary.get('path')} ({binary.get('mode')}); server CPU 0, load CPU 1\n")
print("| mode | conns | direct req/s | direct p50 ms | osprey req/s | osprey p50 ms | osprey p99 ms | added p50 us | "
      "osprey RSS MiB | osprey CPU us/req | portkey req/s | portkey p50 ms | osprey/portkey | errors (osprey) |")
print("| --- " * 14 + "|")
for mode in ("json", "stream"):
    for c in (1, 64):
        d, o, p = (wrk.get((t, mode, c), {}).get("wrk") for t in ("direct", "osprey", "portkey"))
        if not (d and o):
            continue
        errs = sum(o[k] for k in o if k.startswith("err_"))
        ratio = o["rps"] / p["rps"] if p and p["rps"] else float("nan")
        rss = wrk[("osprey", mode, c)]["rss_kib"] / 1024
        cpu_us = wrk[("osprey", mode, c)].get("cpu_ticks", 0) * 1e4 / max(1, o["requests"])
        print(f"| {mode} | {c} | {d['rps']:,.0f} | {d['p50_ms']:.3f} | {o['rps']:,.0f} | {o['p50_ms']:.3f} | {o['p99_ms']:.3f} | "
              f"{(o['p50_ms'] - d['p50_ms']) * 1000:.0f} | {rss:.1f} | {cpu_us:.0f} | {p['rps'] if p else float('nan'):,.0f} | "
              f"{p['p50_ms'] if p else float('nan'):.2f} | {ratio:.1f}x | {errs} |")
for c in (1, 64):
    n, o = wrk.get(("nginx_proxy", "json", c)), wrk.get(("osprey", "json", c))
    p = wrk.get(("portkey", "json", c))
    if n and o:
        n_cpu = n.get("cpu_ticks", 0) * 1e4 / max(1, n["wrk"]["requests"])
        o_cpu = o.get("cpu_ticks", 0) * 1e4 / max(1, o["wrk"]["requests"])
        pk = f", {n['wrk']['rps'] / p['wrk']['rps']:.1f}x portkey" if p and p["wrk"]["rps"] else ""
        print(f"\nReference, nginx as a bare reverse proxy (CPU 0), json c{c}: {n['wrk']['rps']:,.0f} req/s{pk}, "
              f"{n_cpu:.1f} us CPU/req; osprey {o['wrk']['rps']:,.0f} req/s, {o_cpu:.1f} us CPU/req "
              f"({o['wrk']['rps'] / n['wrk']['rps']:.2f}x nginx)")
colo, direct1 = wrk.get(("osprey_colocated", "json", 1)), wrk.get(("direct", "json", 1))
if colo and direct1:
    o, d = colo["wrk"], direct1["wrk"]
    print(f"\nColocated (osprey, upstream and load all on CPU 1, json c1): osprey p50 {o['p50_ms'] * 1000:.0f} us, "
          f"p99 {o['p99_ms'] * 1000:.0f} us; direct p50 {d['p50_ms'] * 1000:.0f} us; "
          f"added p50 {(o['p50_ms'] - d['p50_ms']) * 1000:.0f} us, p99 {(o['p99_ms'] - d['p99_ms']) * 1000:.0f} us")
alt = next((r for r in rows if r["kind"] == "alt_busy_poll"), None)
if alt:
    off = " (polling off)" if alt["us"] == 0 else ""
    print(f"\nOsprey with --busy-poll-us {alt['us']}{off}; on CPU 0 as in the table above:")
    for mode in ("json", "stream"):
        for c in (1, 64):
            b, d, p = (wrk.get((t, mode, c)) for t in ("osprey_alt", "direct", "portkey"))
            if not (b and d):
                continue
            o = b["wrk"]
            cpu_us = b.get("cpu_ticks", 0) * 1e4 / max(1, o["requests"])
            pk = f", {o['rps'] / p['wrk']['rps']:.1f}x portkey" if p and p["wrk"]["rps"] else ""
            print(f"- {mode} c{c}: {o['rps']:,.0f} req/s{pk}, p50 {o['p50_ms'] * 1000:.0f} us, "
                  f"p99 {o['p99_ms'] * 1000:.0f} us, added p50 {(o['p50_ms'] - d['wrk']['p50_ms']) * 1000:.0f} us, "
                  f"{cpu_us:.0f} us CPU/req")
tt = {r["target"]: r["r"] for r in rows if r["kind"] == "ttfb"}
if "direct" in tt and "osprey" in tt:
    print("\nStreaming time to first `data:` byte (sequential, keep-alive):")
    for t in ("direct", "osprey", "portkey"):
        if t in tt:
            print(f"- {t}: p50 {tt[t]['first_p50_ms']:.3f} ms, p90 {tt[t]['first_p90_ms']:.3f} ms")
    if "osprey_alt" in tt and alt:
        print(f"- osprey, --busy-poll-us {alt['us']}: p50 {tt['osprey_alt']['first_p50_ms']:.3f} ms, "
              f"p90 {tt['osprey_alt']['first_p90_ms']:.3f} ms")
    print(f"- added by osprey (p50): {(tt['osprey']['first_p50_ms'] - tt['direct']['first_p50_ms']) * 1000:.0f} us")
    if "osprey_alt" in tt and alt:
        print(f"- added by osprey, --busy-poll-us {alt['us']} (p50): "
              f"{(tt['osprey_alt']['first_p50_ms'] - tt['direct']['first_p50_ms']) * 1000:.0f} us")
    if "portkey" in tt:
        print(f"- added by portkey (p50): {(tt['portkey']['first_p50_ms'] - tt['direct']['first_p50_ms']):.2f} ms")
for r in rows:
    if r["kind"] == "streams":
        print(f"\n{r['n']} concurrent open streams through osprey: RSS idle {r['idle_rss_kib'] / 1024:.1f} MiB, "
              f"peak {r['peak_rss_kib'] / 1024:.1f} MiB; client: {r['settled']} / {r['final']}")
