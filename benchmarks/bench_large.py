"""Large-array workloads (issue 3): throughput against memcpy, peak memory.

For each size and mode, ``pickler``, the C pickler and a *memcpy* of the same
number of bytes (``numpy.copyto`` into a preallocated array: the physical
limit of any in-band serializer on this machine, measured in the same rounds)
are timed interleaved.  Modes:

* ``dumps``        -- ``dumps(arr, protocol=5)`` (in-band);
* ``dump_file``    -- ``dump(arr, f, protocol=5)`` to a real file in a temp dir;
* ``dump_bytesio`` -- ``dump(arr, io.BytesIO(), protocol=5)``;
* ``dumps_oob``    -- ``dumps(arr, protocol=5, buffer_callback=list.append)``;
  must take constant time whatever the size.
* ``loads``        -- ``loads(data)`` of the in-band protocol 5 pickle (the
  C pickler's bytes): one copy of the payload into a new ``bytearray``, which
  the array wraps.

Peak memory is measured in a fresh interpreter per (mode, size, candidate):
peak RSS (``VmHWM``, reset to the current RSS just before the call; falls back
to ``ru_maxrss``) before/after the first real call (after a warm-up on a tiny
array so lazy imports are not counted), and, with ``tracemalloc=True``, the
peak of traced allocations during the call.  Run this file with
``--peak-child`` to be that interpreter.
"""
import argparse
import io
import json
import os
import resource
import subprocess
import sys

MODES = ("dumps", "dump_file", "dump_bytesio", "dumps_oob", "loads")
MiB = 1 << 20


def _make_runner(mode, cand, arr, path):
    """run(n) performing the operation n times."""
    if mode == "dumps":
        f = cand.dumps

        def run(n):
            for _ in range(n):
                f(arr, 5)
    elif mode == "dump_file":
        dump = cand.dump

        def run(n):
            for _ in range(n):
                with open(path, "wb") as fh:
                    dump(arr, fh, 5)
    elif mode == "dump_bytesio":
        dump = cand.dump
        BytesIO = io.BytesIO

        def run(n):
            for _ in range(n):
                dump(arr, BytesIO(), 5)
    elif mode == "dumps_oob":
        f = cand.dumps

        def run(n):
            for _ in range(n):
                bufs = []
                f(arr, 5, buffer_callback=bufs.append)
    elif mode == "loads":
        import _pickle
        data = _pickle.dumps(arr, 5)
        f = cand.loads

        def run(n):
            for _ in range(n):
                f(data)
    else:
        raise ValueError(mode)
    return run


def _memcpy_runner(arr):
    import numpy as np
    dst = np.empty_like(arr)
    dst[:] = 0          # fault the pages in once, outside the timing
    copyto = np.copyto

    def run(n):
        for _ in range(n):
            copyto(dst, arr)
    return run


def _alloc_copy_runner(arr):
    """``arr.tobytes()``: a fresh allocation plus one memcpy -- what any
    serializer returning a new ``bytes`` has to pay at least."""
    tobytes = arr.tobytes

    def run(n):
        for _ in range(n):
            tobytes()
    return run


def run_large(cands, sizes, rounds, tmpdir, target, log=print):
    """Time every (size, mode) for pickler, C and memcpy.  Returns rows."""
    from bench_timing import calibrate, interleaved, ratios, summarize
    from bench_workloads import make_large_array
    rows = []
    for nbytes in sizes:
        arr = make_large_array(nbytes)
        memcpy = _memcpy_runner(arr)
        identical = (cands["pickler"].dumps(arr, 5) == cands["C"].dumps(arr, 5)
                     if nbytes <= 64 * MiB else None)
        for mode in MODES:
            path = os.path.join(tmpdir, f"large-{mode}.pkl")
            runs = {"pickler": _make_runner(mode, cands["pickler"], arr, path),
                    "C": _make_runner(mode, cands["C"], arr, path)}
            if mode != "dumps_oob":
                runs["memcpy"] = memcpy
                runs["alloc_copy"] = _alloc_copy_runner(arr)
            loops, _ = calibrate(runs["C"], target)
            for run in runs.values():    # warm-up every candidate
                run(1)
            samples = interleaved({k: (v, loops) for k, v in runs.items()},
                                  rounds)
            row = {
                "mode": mode, "size": nbytes, "loops": loops,
                "rounds": rounds, "identical_output": identical,
                "ratio": summarize(ratios(samples, "pickler", "C")),
                "times": {k: summarize(v) for k, v in samples.items()},
            }
            row["gbps"] = {k: nbytes / t["median"] / 1e9
                           for k, t in row["times"].items()}
            if "memcpy" in samples:
                row["frac_memcpy"] = {
                    k: summarize(ratios(samples, "memcpy", k))
                    for k in ("pickler", "C", "alloc_copy")}
                row["frac_alloc_copy"] = {
                    k: summarize(ratios(samples, "alloc_copy", k))
                    for k in ("pickler", "C")}
            rows.append(row)
            log(format_large_row(row))
            if os.path.exists(path):
                os.unlink(path)
        del arr, memcpy
    # out-of-band must be O(1): compare each size with the smallest one
    oob = [r for r in rows if r["mode"] == "dumps_oob"]
    if oob:
        small = min(oob, key=lambda r: r["size"])
        for r in oob:
            r["vs_smallest"] = {
                k: r["times"][k]["median"] / small["times"][k]["median"]
                for k in ("pickler", "C")}
    return rows


def fmt_size(n):
    return f"{n // MiB} MiB" if n >= MiB else f"{n // 1024} KiB"


def fmt_time(s):
    if s is None:
        return "-"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return "%.2f ms" % (s * 1e3)
    if s >= 1e-6:
        return "%.2f us" % (s * 1e6)
    return "%.0f ns" % (s * 1e9)


def format_large_row(r):
    ratio = r["ratio"]
    s = "  {!s:<13} {!s:>7}  pickler/C {:.3f} [{:.3f}-{:.3f}]  pickler {!s:>9}  C {!s:>9}".format(
        r["mode"], fmt_size(r["size"]), ratio["median"], ratio["min"],
        ratio["max"], fmt_time(r["times"]["pickler"]["median"]),
        fmt_time(r["times"]["C"]["median"]))
    if "frac_memcpy" in r:
        s += ("  {:5.2f} GB/s = {:3.0f}% of memcpy (C {:3.0f}%; memcpy {:.1f} GB/s, "
              "alloc+copy {:.1f} GB/s)".format(
                  r["gbps"]["pickler"], 100 * r["frac_memcpy"]["pickler"]["median"],
                  100 * r["frac_memcpy"]["C"]["median"], r["gbps"]["memcpy"],
                  r["gbps"]["alloc_copy"]))
    return s


# ---------------------------------------------------------------------------
# Peak memory, one fresh interpreter per case.

def _maxrss_bytes():
    """Peak RSS of this process image.

    ``VmHWM`` from /proc/self/status is the high-water mark of the current
    address space only; ``getrusage().ru_maxrss`` also carries the peak of the
    parent it was forked from (Linux keeps it across exec), which would hide
    everything below the parent's size.  Fall back to it off Linux.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _reset_peak():
    """Reset VmHWM to the current RSS (Linux >= 4.0); True on success."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_child(mode, nbytes, cand_name, tmpdir, use_tracemalloc):
    import gc

    import numpy as np

    from bench_candidates import make_candidates
    from bench_workloads import make_large_array
    cand = make_candidates()[cand_name]
    path = os.path.join(tmpdir, f"peak-{cand_name}-{mode}-{os.getpid()}.pkl")
    # Warm-up on a tiny array: lazy imports and first-call caches are not
    # part of the per-call peak.
    tiny = np.arange(16, dtype=np.float64)
    _make_runner(mode, cand, tiny, path)(1)
    arr = make_large_array(nbytes)
    run = _make_runner(mode, cand, arr, path)
    gc.collect()
    if use_tracemalloc:
        import tracemalloc
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        run(1)
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        result = {"tracemalloc_extra": peak}
    else:
        reset = _reset_peak()
        before = _maxrss_bytes()
        run(1)
        after = _maxrss_bytes()
        result = {"rss_extra": after - before, "rss_before": before,
                  "peak_reset": reset}
    if os.path.exists(path):
        os.unlink(path)
    result["pickler_file"] = getattr(cand.module, "__file__", None)
    print(json.dumps(result))


def measure_peak(mode, nbytes, cand_name, tmpdir, pickler_root,
                 use_tracemalloc=False):
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ)
    parts = [p for p in (pickler_root, env.get("PYTHONPATH")) if p]
    env["PYTHONPATH"] = os.pathsep.join(parts)
    cmd = [sys.executable, os.path.join(here, "bench_large.py"),
           "--peak-child", mode, str(nbytes), cand_name, tmpdir]
    if use_tracemalloc:
        cmd.append("--tracemalloc")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                          cwd=tmpdir, timeout=600, check=False)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_peaks(sizes, tmpdir, pickler_root, use_tracemalloc, log=print):
    rows = []
    for nbytes in sizes:
        for mode in MODES:
            row = {"mode": mode, "size": nbytes}
            for cand in ("pickler", "C"):
                res = measure_peak(mode, nbytes, cand, tmpdir, pickler_root)
                if use_tracemalloc:
                    res.update(measure_peak(mode, nbytes, cand, tmpdir,
                                            pickler_root, True))
                row[cand] = res
            rows.append(row)
            log(format_peak_row(row))
    return rows


def _fmt_bytes(n):
    if n is None:
        return "-"
    if abs(n) >= MiB:
        return "%.1f MiB" % (n / MiB)
    return "%.0f KiB" % (n / 1024)


def format_peak_row(row):
    parts = []
    for cand in ("pickler", "C"):
        res = row[cand]
        if "error" in res:
            parts.append("{}: ERROR {}".format(cand, res["error"]))
            continue
        s = "{} +{} ({:.3f}x)".format(cand, _fmt_bytes(res["rss_extra"]),
                                res["rss_extra"] / row["size"])
        if "tracemalloc_extra" in res:
            s += " [tracemalloc +{}]".format(_fmt_bytes(res["tracemalloc_extra"]))
        parts.append(s)
    return "  {!s:<13} {!s:>7}  peak extra RSS: {}".format(row["mode"], fmt_size(row["size"]),
                                              "   ".join(parts))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--peak-child", nargs=4,
                    metavar=("MODE", "NBYTES", "CANDIDATE", "TMPDIR"))
    ap.add_argument("--tracemalloc", action="store_true")
    a = ap.parse_args()
    if not a.peak_child:
        ap.error("run benchmarks/run.py; this module is a helper")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    m, n, c, d = a.peak_child
    peak_child(m, int(n), c, d, a.tracemalloc)
