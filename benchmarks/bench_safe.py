#!/usr/bin/env python
"""safe_loads against pickler.loads, a find_class-restricted pickle.Unpickler
and fickling's allowlist loader, on the same pickles, in one process.

Workloads (protocol 5, in-band): numpy (``np_sci_record``: six arrays and
metadata; ``np_small_arrays``: 400 small arrays), pandas (a 20,000-row
frame with float/int/str/categorical/datetime/nullable columns, and a list
of 50 small frames) and records (``json_records``: 2000 JSON-like dicts).

Candidates:

* ``pickler.loads``: no checks (the speed reference);
* ``safe_loads``: ``pickler.safe_loads(data, allow=pickler.safe.numpy)``
  (``pickler.safe.pandas`` for the pandas workloads);
* ``find_class``: the stdlib's C ``pickle.Unpickler`` subclass overriding
  ``find_class`` with a set of allowed (module, name) pairs, the usual
  advice (it checks globals only, not REDUCE/BUILD);
* ``fickling``: ``fickling.ml.FicklingMLUnpickler(file, also_allow=[...])``
  (pure-Python allowlist loader), given the names ``pickler.safe.scan``
  lists for the workload.

Timing: rounds interleave the candidates (order rotated each round); each
figure is the median over rounds of the per-call time, with the spread
(min-max over rounds).  The machine is shared and noisy: compare ratios.
``--instructions`` also counts instructions per call under valgrind's
callgrind (a run of N calls minus a run of none, as callgrind.py does;
OPENBLAS_NUM_THREADS=1 so numpy's thread pool stays quiet), which noise
does not move.

    python benchmarks/bench_safe.py [--rounds 15] [--quick] [--instructions]
"""
import argparse
import io
import os
import pickle
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def workloads(quick=False):
    import numpy as np
    import pandas as pd

    import bench_workloads as W
    out = []
    scale = 0.02 if quick else 0.05
    for name in ("np_sci_record", "np_small_arrays", "json_records"):
        w = W.get_workload(name, scale)
        out.append((name, "records" if name == "json_records" else "numpy", w.make()))
    rng = np.random.default_rng(0)
    n = 5000 if quick else 20000
    frame = pd.DataFrame({
        "float": rng.random(n), "int": rng.integers(0, 10, n),
        "str": [f"row{i % 100}" for i in range(n)],
        "category": pd.Categorical(rng.choice(["u", "v", "w"], n)),
        "when": pd.date_range("2020-01-01", periods=n, freq="min", tz="UTC"),
        "nullable_int": pd.array(rng.integers(0, 5, n), dtype="Int64"),
    })
    out.append(("pandas_frame", "pandas", frame))
    out.append(("pandas_small_frames", "pandas",
                [frame.iloc[i * 10:(i + 1) * 10].reset_index(drop=True) for i in range(50)]))
    return out


class FindClassUnpickler(pickle.Unpickler):
    """The usual advice: the C Unpickler with find_class restricted."""
    allowed = frozenset()

    def find_class(self, module, name):
        if (module, name) in self.allowed:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is forbidden")


def candidates(kind, blob):
    import pickler
    allow = pickler.safe.pandas if kind == "pandas" else pickler.safe.numpy
    refs = pickler.safe.scan(blob)
    pairs = frozenset((r.module, r.name) for r in refs)
    names = sorted({"{}.{}".format(*p) for p in pairs})

    class FC(FindClassUnpickler):
        allowed = pairs

    cands = {
        "pickler.loads": lambda: pickler.loads(blob),
        "safe_loads": lambda: pickler.safe_loads(blob, allow=allow),
        "find_class": lambda: FC(io.BytesIO(blob)).load(),
    }
    try:
        from fickling.ml import FicklingMLUnpickler

        def fick():
            return FicklingMLUnpickler(io.BytesIO(blob), also_allow=names).load()
        fick()
        cands["fickling"] = fick
    except Exception as e:  # reported, the others still run
        print(f"  fickling unavailable on this workload: {type(e).__name__}: {e}")
    return cands


def time_per_call(fn, budget):
    """Seconds per call: calls repeated for about *budget* seconds."""
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt >= budget or n >= 1 << 16:
            return dt / n
        n *= 2 if dt < budget / 4 else 1
        if dt >= budget / 4:
            n = max(n, int(n * budget / max(dt, 1e-9)))


def tiny(rounds):
    """Per-call cost on small pickles (one call per pickle): the setup each
    loader pays per call shows here."""
    import numpy as np
    objs = [("10-float array", np.arange(10.0)), ("small dict", {"a": 1, "b": [1.5, "x"]}),
            ("numpy scalar", np.float64(3.0))]
    print()
    print("| small pickle | pickler.loads | safe_loads | find_class | fickling "
          "| fickling/safe_loads |")
    print("|---|---|---|---|---|---|")
    for label, obj in objs:
        blob = pickle.dumps(obj, protocol=5)
        cands = candidates("numpy", blob)
        samples = {c: [] for c in cands}
        order = list(cands)
        for _ in range(rounds):
            order = order[1:] + order[:1]
            for c in order:
                samples[c].append(time_per_call(cands[c], 0.02))
        med = {c: statistics.median(v) for c, v in samples.items()}
        print("| {} | {:.2f} us | {:.2f} us | {:.2f} us | {:.2f} us | {:.1f}x |".format(
            label, med["pickler.loads"] * 1e6, med["safe_loads"] * 1e6,
            med["find_class"] * 1e6, med.get("fickling", float("nan")) * 1e6,
            med.get("fickling", float("nan")) / med["safe_loads"]))


def _child(name, cand, n, quick):
    """Run candidate *cand* n times on workload *name* (under valgrind)."""
    import gc
    for wname, kind, obj in workloads(quick):
        if wname == name:
            break
    blob = pickle.dumps(obj, protocol=5)
    fn = candidates(kind, blob)[cand]
    fn()
    gc.collect()
    gc.disable()
    for _ in range(n):
        fn()


def instructions(names, cands, quick, n=5):
    """{(workload, candidate): instructions per call}."""
    import shutil
    import subprocess
    import tempfile
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind not found")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONHASHSEED="0")
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            for cand in cands:
                irs = []
                for k in (0, n):
                    f = os.path.join(tmp, "cg.out")
                    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + f,
                           sys.executable, os.path.abspath(__file__), "--child", name, cand,
                           str(k)] + (["--quick"] if quick else [])
                    subprocess.run(cmd, env=env, check=True, capture_output=True)
                    with open(f) as fh:
                        irs.append(int(next(line for line in fh
                                            if line.startswith("summary:")).split()[1]))
                out[name, cand] = (irs[1] - irs[0]) / n
                print(f"  {name!s:<20} {cand!s:<14} {out[name, cand]:12.0f} Ir/call", flush=True)
    return out


def run(rounds, quick, only=None):
    import pickler
    rows = []
    for name, kind, obj in workloads(quick):
        if only and name not in only:
            continue
        blob = pickle.dumps(obj, protocol=5)
        ref = pickler.loads(blob)
        assert pickle.dumps(pickler.safe_loads(
            blob, allow=pickler.safe.pandas), protocol=5) == pickle.dumps(ref, protocol=5)
        cands = candidates(kind, blob)
        for fn in cands.values():
            fn()
        samples = {c: [] for c in cands}
        order = list(cands)
        for r in range(rounds):
            order = order[1:] + order[:1]
            for c in order:
                samples[c].append(time_per_call(cands[c], 0.02 if quick else 0.05))
        med = {c: statistics.median(v) for c, v in samples.items()}
        rows.append((name, kind, len(blob), med, samples))
        print(f"{name} ({kind}, {len(blob)} bytes)")
        for c in cands:
            v = samples[c]
            print("  {!s:<14} {:10.1f} us  (min {:.1f}, max {:.1f})  {}".format(
                c, med[c] * 1e6, min(v) * 1e6, max(v) * 1e6,
                "" if c == "pickler.loads" else
                "loads/this = %.2f" % (med["pickler.loads"] / med[c])))
    print()
    print("| workload | pickler.loads | safe_loads | speed vs loads | find_class Unpickler "
          "| fickling | safe_loads vs fickling |")
    print("|---|---|---|---|---|---|---|")
    for name, kind, size, med, samples in rows:
        def fmt(c, med=med, samples=samples):
            if c not in med:
                return "n/a"
            v = samples[c]
            return f"{med[c] * 1e6:.0f} us ({min(v) * 1e6:.0f}-{max(v) * 1e6:.0f})"
        fk = med.get("fickling")
        print("| {} ({}, {} KB) | {} | {} | {:.2f} | {} | {} | {} |".format(
            name, kind, size // 1024, fmt("pickler.loads"), fmt("safe_loads"),
            med["pickler.loads"] / med["safe_loads"], fmt("find_class"), fmt("fickling"),
            "%.0fx" % (fk / med["safe_loads"]) if fk else "n/a"))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--quick", action="store_true", help="smaller data, shorter rounds")
    ap.add_argument("--instructions", action="store_true",
                    help="also count instructions per call under callgrind")
    ap.add_argument("--only", help="comma-separated workload names (default: all)")
    ap.add_argument("--tiny", action="store_true",
                    help="only the per-call table of small pickles")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        _child(a.child[0], a.child[1], int(a.child[2]), a.quick)
        return
    import pickler
    print(f"pickler: {pickler.__file__}   python {sys.version.split()[0]}")
    if a.tiny:
        tiny(a.rounds)
        return
    rows = run(a.rounds, a.quick, a.only.split(",") if a.only else None)
    if a.instructions:
        print()
        print("Instructions per call (callgrind):")
        cands = ["pickler.loads", "safe_loads", "find_class", "fickling"]
        ir = instructions([r[0] for r in rows], cands, a.quick)
        print()
        print("| workload | pickler.loads | safe_loads | loads/safe_loads | find_class "
              "| fickling | fickling/safe_loads |")
        print("|---|---|---|---|---|---|---|")
        for name, kind, size, med, samples in rows:
            g = {c: ir.get((name, c)) for c in cands}
            print("| {} | {:.2f}M | {:.2f}M | {:.2f} | {:.2f}M | {:.2f}M | {:.2f} |".format(
                name, g["pickler.loads"] / 1e6, g["safe_loads"] / 1e6,
                g["pickler.loads"] / g["safe_loads"], g["find_class"] / 1e6,
                g["fickling"] / 1e6, g["fickling"] / g["safe_loads"]))


if __name__ == "__main__":
    main()
