#!/usr/bin/env python3
"""Markdown tables from serve_bench.sh's serve.jsonl (one line per command:
{"name", "result": tokamak-cli bench serve --json-out}).

  python3 tests/gpu/serve_tables.py OUT/serve.jsonl
"""
import json
import sys


def f(v, digits=1):
    return "" if v is None else f"{v:,.{digits}f}"


def dist(run, key, q):
    d = run.get(key) or {}
    return d.get(q)


def main(path):
    runs = []
    for line in open(path):
        line = line.strip()
        if not line:
            continue
        rec = json.loads(line)
        for run in rec["result"].get("runs", []):
            runs.append((rec["name"], run))
    print("| command | policy | conc | batch | req/s | out tok/s | TTFT p50 / p99 ms "
          "| TPOT p50 / p99 ms | ITL p50 / p99 ms | E2E p50 ms | KV waste | peak | steps |")
    print("|---|---|---:|---:|---:|---:|---|---|---|---:|---:|---:|---:|")
    for name, r in runs:
        cfg = r.get("config", r)
        conc = r.get("concurrency", cfg.get("concurrency"))
        batch = r.get("batch_size", cfg.get("batch_size"))
        print(f"| {name} | {r.get('policy')} | {conc} | {batch} "
              f"| {f(r.get('requests_per_second'), 2)} | {f(r.get('output_tokens_per_second'), 0)} "
              f"| {f(dist(r, 'ttft_ms', 'p50'))} / {f(dist(r, 'ttft_ms', 'p99'))} "
              f"| {f(dist(r, 'tpot_ms', 'p50'), 2)} / {f(dist(r, 'tpot_ms', 'p99'), 2)} "
              f"| {f(dist(r, 'itl_ms', 'p50'), 2)} / {f(dist(r, 'itl_ms', 'p99'), 2)} "
              f"| {f(dist(r, 'e2e_ms', 'p50'), 0)} | {f(r.get('kv_waste_percent'))}% "
              f"| {r.get('peak_running')} | {r.get('num_steps', '')} |")


if __name__ == "__main__":
    main(sys.argv[1])
