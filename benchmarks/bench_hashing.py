#!/usr/bin/env python
"""Content hashes (issue 18): pickler.hash against joblib.hash and
dask.base.tokenize, side by side in one run.

Workloads: 50,000 small dict records, nested lists and dicts, a pandas
DataFrame, 1,000 small arrays, and one large array (512 MiB by default).
Every tool hashes every workload once per round; the rounds interleave the
tools, and the table gives the median time with its spread (min-max) and
each tool's time relative to pickler.hash.  The hash functions: pickler.hash
with md5 (joblib.hash's default, so the two feed the same function) and with
xxh3_128 (when xxhash is installed); dask picks its own.

Also measured: the large array's bytes hashed directly
(``hashlib.md5(memoryview(arr))``, ``xxh3_128(memoryview(arr))``), the
ceiling for any hash of it; and deterministic_dumps against pickler.dumps on
the record and container workloads.

    python benchmarks/bench_hashing.py                 # the full run (~3 min)
    python benchmarks/bench_hashing.py --quick         # small sizes, 2 rounds
    python benchmarks/bench_hashing.py --out benchmarks/results/hashing.md
"""
import argparse
import gc
import hashlib
import statistics
import sys
import time

import numpy as np

import pickler

try:
    import xxhash
except ImportError:  # pragma: no cover
    xxhash = None
try:
    import joblib
except ImportError:  # pragma: no cover
    joblib = None
try:
    import dask.base
except ImportError:  # pragma: no cover
    dask = None
try:
    import pandas as pd
except ImportError:  # pragma: no cover
    pd = None

MiB = 1 << 20


def make_workloads(scale, big_mib):
    rnd = np.random.default_rng(0)
    n = int(50_000 * scale)
    records = [{"id": i, "name": f"user{i}", "score": i * 0.25,
                "active": i % 3 == 0, "tags": ["a", "b"] if i % 2 else []}
               for i in range(n)]
    containers = {f"group{g}": [{"key": f"k{i}", "values": list(range(i % 20)),
                                 "pair": (g, f"p{i % 7}"), "nested": {"x": [i, -i]}}
                                for i in range(int(1000 * scale) + 1)]
                  for g in range(20)}
    out = {"records": records, "containers": containers}
    if pd is not None:
        m = int(200_000 * scale) + 1
        out["dataframe"] = pd.DataFrame({
            "a": rnd.standard_normal(m), "b": rnd.integers(0, 1000, m),
            "c": rnd.standard_normal(m).astype(np.float32),
            "d": pd.Categorical(rnd.choice(["x", "y", "z"], m))})
    out["small_arrays"] = [rnd.standard_normal(100) for _ in range(1000)]
    out["large_array"] = np.ones(big_mib * MiB // 8)
    return out


def tools():
    t = {"pickler.hash md5": lambda obj: pickler.hash(obj, "md5")}
    if xxhash is not None:
        t["pickler.hash xxh3"] = lambda obj: pickler.hash(obj, xxhash.xxh3_128)
    if joblib is not None:
        t["joblib.hash"] = joblib.hash
    if dask is not None:
        t["dask tokenize"] = dask.base.tokenize
    return t


def raw_hashes():
    t = {"md5(memoryview(arr))": lambda arr: hashlib.md5(memoryview(arr)).hexdigest()}
    if xxhash is not None:
        t["xxh3_128(memoryview(arr))"] = (
            lambda arr: xxhash.xxh3_128(memoryview(arr)).hexdigest())
    return t


def clock(fn, obj):
    gc.collect()
    t0 = time.perf_counter()
    fn(obj)
    return time.perf_counter() - t0


def fmt(times):
    med = statistics.median(times)
    return f"{med * 1e3:.1f} ms ({min(times) * 1e3:.1f}-{max(times) * 1e3:.1f})"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--big-mib", type=int, default=512)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--quick", action="store_true", help="scale 0.1, 32 MiB, 2 rounds")
    ap.add_argument("--out", help="also write the tables (markdown) here")
    args = ap.parse_args(argv)
    if args.quick:
        args.scale, args.big_mib, args.rounds = 0.1, 32, 2
    work = make_workloads(args.scale, args.big_mib)
    hashers = tools()
    dumpers = {"pickler.dumps": pickler.dumps,
               "deterministic_dumps": pickler.deterministic_dumps}
    raws = raw_hashes()
    times = {}
    for name, obj in work.items():                    # warm-up, and a check
        for tool, fn in hashers.items():
            fn(obj)
    for _ in range(args.rounds):
        for name, obj in work.items():
            for tool, fn in hashers.items():
                times.setdefault((name, tool), []).append(clock(fn, obj))
            if name in ("records", "containers"):
                for tool, fn in dumpers.items():
                    times.setdefault((name, tool), []).append(clock(fn, obj))
            if name == "large_array":
                for tool, fn in raws.items():
                    times.setdefault((name, tool), []).append(clock(fn, obj))

    head = (f"Python {sys.version.split()[0]}, {args.rounds} rounds, medians (min-max); "
            "ratio = median / pickler.hash md5's median.")
    lines = [head, ""]
    cols = list(hashers)
    lines.append("| workload | " + " | ".join(cols) + " |")
    lines.append("|---" * (len(cols) + 1) + "|")
    for name in work:
        base = statistics.median(times[name, "pickler.hash md5"])
        cells = []
        for tool in cols:
            med = statistics.median(times[name, tool])
            cells.append(f"{fmt(times[name, tool])}, {med / base:.2f}x")
        lines.append(f"| {name} | {' | '.join(cells)} |")
    lines.append("")
    size = work["large_array"].nbytes
    lines.append(f"Large array ({size // MiB} MiB), throughput against the hash "
                 "function alone:")
    lines.append("")
    lines.append("| hash | alone | pickler.hash | pickler.hash / alone |")
    lines.append("|---|---|---|---|")
    pairs = [("md5(memoryview(arr))", "pickler.hash md5"),
             ("xxh3_128(memoryview(arr))", "pickler.hash xxh3")]
    for raw, ours in pairs:
        if (("large_array", raw) in times) and (("large_array", ours) in times):
            r = statistics.median(times["large_array", raw])
            o = statistics.median(times["large_array", ours])
            lines.append(f"| {raw.split('(')[0]} | {size / r / 1e6:.0f} MB/s | "
                         f"{size / o / 1e6:.0f} MB/s | {100 * r / o:.1f}% |")
    lines.append("")
    lines.append("deterministic_dumps against pickler.dumps:")
    lines.append("")
    lines.append("| workload | pickler.dumps | deterministic_dumps | ratio |")
    lines.append("|---|---|---|---|")
    for name in ("records", "containers"):
        d = times[name, "pickler.dumps"]
        e = times[name, "deterministic_dumps"]
        ratio = statistics.median(e) / statistics.median(d)
        lines.append(f"| {name} | {fmt(d)} | {fmt(e)} | {ratio:.2f}x |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
