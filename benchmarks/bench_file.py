"""pickler.save / pickler.open against the tools scientists save arrays with.

One run, one process, interleaved rounds, medians with min-max spread:

* workloads: one 1 GiB float64 array; a dict of 1,000 arrays of 1 MiB; the
  mixed data set of ``examples/demo.py`` (records plus arrays);
* tools: ``pickler.save``/``pickler.open`` (``mmap_mode`` "r" and None, with
  and without ``fsync``, with checksums), ``pickle.dump``/``load`` to a file,
  ``joblib.dump``/``load`` (with and without ``mmap_mode="r"``),
  ``numpy.save``/``numpy.load`` (with and without ``mmap_mode="r"``) for the
  single array, ``safetensors.numpy`` for the dict of arrays (``load_file``,
  and ``safe_open`` + ``get_tensor`` for one array);
* the machine's own bandwidth in the same rounds: a plain ``writev`` of the
  same array bytes to a new file (with ``fsync`` of the file and directory,
  and without), and a plain ``readinto`` of that file into memory already
  allocated;
* per tool: save time, open/load time, open plus first access of one array
  element, throughput against that bandwidth; peak memory of save and open
  (traced allocations with ``tracemalloc``; resident set high-water mark,
  ``VmHWM`` reset through ``/proc/self/clear_refs``) in a pass of its own;
* "stream load" is ``pickler.loads`` of the file's pickle stream with the
  buffers already in memory: what ``open`` costs beyond mapping the file.

Files are read back while still in the page cache (the usual case right
after a save; cold-cache numbers measure the disk instead).  The machine is
shared: read the spreads.

    cd /tmp && PYTHONPATH=/path/to/repo python /path/to/repo/benchmarks/bench_file.py
    ... --scale 0.05 --rounds 3     # a quick run on 1/20 of the data
"""
import argparse
import gc
import importlib.util
import json
import os
import pickle
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc

import numpy as np

import pickler

MiB = 1 << 20
GiB = 1 << 30
FAST_SAMPLES = 15       # extra samples per round of opens under 20 ms
HERE = os.path.dirname(os.path.abspath(__file__))


def load_demo_dataset():
    path = os.path.join(HERE, os.pardir, "examples", "demo.py")
    spec = importlib.util.spec_from_file_location("pickler_demo", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.make_dataset()


def workloads(scale):
    rng = np.random.default_rng(0)
    n_big = int(GiB * scale) // 8
    big = rng.random(n_big)                   # every page touched (no zero pages)
    n_each = max(int(MiB * scale) // 8, 1)
    many = {f"a{i:04d}": rng.random(n_each) for i in range(1000)}
    return {
        "1 GiB array": (big, lambda o: o[len(o) // 2]),
        "1,000 x 1 MiB": (many, lambda o: o["a0500"][n_each // 2]),
        "mixed (demo)": (load_demo_dataset(), lambda o: o["signal"][100, 2]),
    }


def payload_views(obj):
    """The out-of-band buffers of obj: the bytes any tool has to write."""
    buffers = []
    pickler.dumps(obj, 5, buffer_callback=buffers.append)
    return [b.raw() for b in buffers]


# ------------------------------------------------------------------ tools
# Each tool: (save(obj, path), {open-variant: open(path) -> obj}).

def _pickle_save(obj, path):
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=5)


def _pickle_load(path):
    with open(path, "rb") as f:
        return pickle.load(f)


def make_tools(case, obj):
    tools = {
        "pickler.save fsync / open": (
            lambda o, p: pickler.save(o, p),
            {"r": lambda p: pickler.open(p),
             "None": lambda p: pickler.open(p, mmap_mode=None)}),
        "pickler.save / open": (
            lambda o, p: pickler.save(o, p, fsync=False),
            {"r": lambda p: pickler.open(p),
             "None": lambda p: pickler.open(p, mmap_mode=None)}),
        "pickler.save checksum / open verify": (
            lambda o, p: pickler.save(o, p, checksum=True, fsync=False),
            {"r": lambda p: pickler.open(p, verify=True)}),
        "pickle.dump / load": (_pickle_save, {"-": _pickle_load}),
    }
    try:
        import joblib
        tools["joblib.dump / load"] = (
            lambda o, p: joblib.dump(o, p),
            {"-": lambda p: joblib.load(p), "r": lambda p: joblib.load(p, mmap_mode="r")})
    except ImportError:
        print("joblib not installed: skipped", file=sys.stderr)
    if isinstance(obj, np.ndarray):
        tools["numpy.save / load"] = (
            lambda o, p: np.save(p, o),
            {"-": lambda p: np.load(p), "r": lambda p: np.load(p, mmap_mode="r")})
    if isinstance(obj, dict) and all(isinstance(v, np.ndarray) for v in obj.values()):
        try:
            import safetensors.numpy as stn
            from safetensors import safe_open

            def lazy(p):
                # keeps the handle open as the "object"; first access reads a tensor
                return safe_open(p, framework="numpy")
            tools["safetensors save_file / load_file"] = (
                stn.save_file, {"-": stn.load_file, "safe_open": lazy})
        except ImportError:
            print("safetensors not installed: skipped", file=sys.stderr)
    return tools


def first_access(case_access, tool, variant):
    if variant == "safe_open":
        return lambda o: o.get_tensor("a0500")[0]
    return case_access


# -------------------------------------------------------------- baselines

def plain_write(views, path, fsync):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        pending = [v for v in views if v.nbytes]
        while pending:
            n = os.writev(fd, pending[:1024])
            while n:
                if n >= pending[0].nbytes:
                    n -= pending[0].nbytes
                    pending.pop(0)
                else:
                    pending[0] = pending[0][n:]
                    n = 0
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
    if fsync:
        dfd = os.open(os.path.dirname(path), os.O_RDONLY)
        os.fsync(dfd)
        os.close(dfd)


def plain_read(path, into):
    with open(path, "rb", buffering=0) as f:
        view = memoryview(into).cast("B")
        got = 0
        while got < view.nbytes:
            n = f.readinto(view[got:])
            if not n:
                break
            got += n
    return got


# ------------------------------------------------------------------ memory

def rss_peak(fn, *args):
    """(peak resident bytes above the start, result) of fn(*args)."""
    def status(field):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
        return 0
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return None, fn(*args)
    before = status("VmRSS:")
    result = fn(*args)
    return status("VmHWM:") - before, result


def traced_peak(fn, *args):
    gc.collect()
    tracemalloc.start()
    try:
        result = fn(*args)
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


# ------------------------------------------------------------------ run

def timed(fn, *args):
    t0 = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - t0, result


def run_case(case, obj, access, rounds, tmpdir, log):
    views = payload_views(obj)
    payload = sum(v.nbytes for v in views)
    tools = make_tools(case, obj)
    times = {}

    def rec(key, t):
        times.setdefault(key, []).append(t)

    # the pickle stream's own load time (buffers already in memory)
    buffers = []
    stream = pickler.dumps(obj, 5, buffer_callback=buffers.append)
    raws = [b.raw() for b in buffers]

    def load_stream():
        return pickler.loads(stream, buffers=raws)

    read_into = np.empty(max(payload, 1), dtype=np.uint8)
    read_into[:] = 1                                   # mapped before timing
    base = os.path.join(tmpdir, "plain.bin")

    def baseline(fsync):
        def run():
            t_write, _ = timed(plain_write, views, base, fsync)
            rec(("write", "fsync" if fsync else "no fsync"), t_write)
            if not fsync:
                t, _ = timed(plain_read, base, read_into)
                rec(("read", "-"), t)
            os.unlink(base)
            return t_write
        return run

    def tool(name, save, opens):
        def run():
            path = os.path.join(tmpdir, "f.npy")  # numpy.save appends .npy otherwise
            t_save, _ = timed(save, obj, path)
            rec((name, "save"), t_save)
            for variant, op in opens.items():
                t, got = timed(op, path)
                rec((name, f"open {variant}"), t)
                del got
                gc.collect()
                if t < 0.02:
                    # fast opens: more samples, each next to a load of the
                    # pickle stream alone (buffers in memory), so that
                    # what open adds to it is measured in the same moment
                    opens_, loads_ = [], []
                    for _ in range(FAST_SAMPLES):
                        t_load, got = timed(load_stream)
                        loads_.append(t_load)
                        del got
                        t, got = timed(op, path)
                        opens_.append(t)
                        rec((name, f"open {variant}"), t)
                        del got
                    rec((name, f"open-minus-stream {variant}"),
                        statistics.median(opens_) - statistics.median(loads_))
                    gc.collect()
                fa = first_access(access, name, variant)
                t0 = time.perf_counter()
                got = op(path)
                fa(got)
                rec((name, f"open+access {variant}"), time.perf_counter() - t0)
                del got
                gc.collect()
            os.unlink(path)
            gc.collect()
            return t_save
        return run

    # Each pickler save runs next to a plain write with the same fsync
    # policy (in alternating order), and their ratio is taken per round.
    steps = [("write fsync", baseline(True))]
    names = list(tools)
    steps.append((names[0], tool(names[0], *tools[names[0]])))
    steps.append(("write no fsync", baseline(False)))
    for name in names[1:]:
        steps.append((name, tool(name, *tools[name])))
    pairs = {names[0]: "write fsync", names[1]: "write no fsync"}
    for r in range(rounds):
        t, _ = timed(load_stream)
        rec(("stream load", "-"), t)
        order = steps if r % 2 == 0 else steps[::-1]     # interleave both ways
        took = {}
        for name, run in order:
            took[name] = run()
        for name, ref in pairs.items():
            rec(("paired", name), took[ref] / took[name])
        log(f"  {case}: round {r + 1}/{rounds} done")

    # memory: one pass of its own (tracemalloc slows Python code down)
    memory = {}
    for name, (save, opens) in tools.items():
        path = os.path.join(tmpdir, "f.npy")  # numpy.save appends .npy otherwise
        rss, _ = rss_peak(save, obj, path)
        os.unlink(path)
        traced, _ = traced_peak(save, obj, path)
        memory[(name, "save")] = (traced, rss)
        for variant, op in opens.items():
            rss, got = rss_peak(op, path)
            del got
            traced, got = traced_peak(op, path)
            del got
            gc.collect()
            memory[(name, f"open {variant}")] = (traced, rss)
        os.unlink(path)
    return payload, len(stream), times, memory


def med(ts):
    return statistics.median(ts)


def fmt_t(s):
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def fmt_spread(ts):
    return f"{fmt_t(med(ts))} ({fmt_t(min(ts))}-{fmt_t(max(ts))})"


def fmt_b(n):
    if n is None:
        return "n/a"
    if abs(n) >= GiB:
        return f"{n / GiB:.2f} GiB"
    if abs(n) >= MiB:
        return f"{n / MiB:.1f} MiB"
    return f"{n / 1024:.0f} KiB"


def report(case, payload, stream_len, times, memory, log):
    w_fs = med(times[("write", "fsync")])
    w_nf = med(times[("write", "no fsync")])
    rd = med(times[("read", "-")])
    sl = med(times[("stream load", "-")])
    log(f"\n### {case}: {fmt_b(payload)} of array data, pickle stream {stream_len:,} bytes")
    log(f"plain write + fsync {fmt_spread(times[('write', 'fsync')])}"
        f" = {payload / w_fs / 1e9:.2f} GB/s; "
        f"plain write {fmt_spread(times[('write', 'no fsync')])}"
        f" = {payload / w_nf / 1e9:.2f} GB/s; "
        f"plain read {fmt_spread(times[('read', '-')])} = {payload / rd / 1e9:.2f} GB/s; "
        f"pickler.loads of the stream alone {fmt_spread(times[('stream load', '-')])}\n")
    log("| tool | op | time, median (min-max) | GB/s | % of plain write/read | "
        "open+first access | peak traced | peak RSS |")
    log("|---|---|---|---|---|---|---|---|")
    for (name, op), ts in times.items():
        if (name in ("write", "read", "stream load", "paired")
                or op.startswith(("open+access", "open-minus-stream"))):
            continue
        m = med(ts)
        rate = payload / m / 1e9 if m else 0
        if op == "save":
            ref = w_fs if "fsync" in name else w_nf
            pct = f"{100 * ref / m:.0f}% of write{' + fsync' if 'fsync' in name else ''}"
            if ("paired", name) in times:
                ps = times[("paired", name)]
                pct += (f"; paired: {100 * med(ps):.0f}% ({100 * min(ps):.0f}-"
                        f"{100 * max(ps):.0f}%)")
            acc = ""
        else:
            pct = f"{100 * rd / m:.0f}% of read"
            acc = fmt_spread(times[(name, "open+access " + op.split(" ", 1)[1])])
        traced, rss = memory.get((name, op), (None, None))
        log(f"| {name} | {op} | {fmt_spread(ts)} | {rate:.2f} | {pct} | {acc} | "
            f"{fmt_b(traced)} | {fmt_b(rss)} |")
    return {"w_fs": w_fs, "w_nf": w_nf, "read": rd, "stream_load": sl}


def targets(results, log):
    log("\n### Targets")
    ok = True
    for case in ("1 GiB array", "1,000 x 1 MiB"):
        if case not in results:
            continue
        times = results[case]["times"]
        diffs = (times[("pickler.save / open", "open-minus-stream r")]
                 + times[("pickler.save fsync / open", "open-minus-stream r")])
        extra = med(diffs)
        good = extra < 1e-3
        ok &= good
        log(f"- {case}: open beyond the stream's own load time: {fmt_t(extra)} "
            f"(median over rounds of median(open) - median(loads of the stream), "
            f"{FAST_SAMPLES} alternating samples each; {fmt_t(min(diffs))} to {fmt_t(max(diffs))}; "
            f"target < 1 ms) {'PASS' if good else 'FAIL'}")
        for name, label in (("pickler.save fsync / open", "write + fsync"),
                            ("pickler.save / open", "write")):
            ratios = times[("paired", name)]
            pct = med(ratios)
            good = pct >= 0.8
            ok &= good
            log(f"- {case}: {name.split(' /')[0]} at {100 * pct:.0f}% of a plain {label} of "
                f"the same bytes (median of per-round paired ratios, {100 * min(ratios):.0f}-"
                f"{100 * max(ratios):.0f}%; target >= 80%) {'PASS' if good else 'FAIL'}")
    if "mixed (demo)" in results:
        times = results["mixed (demo)"]["times"]
        if ("joblib.dump / load", "save") in times:
            for name in ("pickler.save / open", "pickler.save fsync / open"):
                x = med(times[("joblib.dump / load", "save")]) / med(times[(name, "save")])
                good = x >= 5 or "fsync" in name
                ok &= good
                policy = (", same fsync policy" if "fsync" not in name
                          else "; informative: joblib does not fsync")
                log(f"- mixed: joblib.dump / {name.split(' /')[0]}: {x:.1f}x "
                    f"(target >= 5x{policy}) "
                    f"{'PASS' if good else 'FAIL'}")
    peaks = {c: r["memory"][("pickler.save / open", "save")][0] for c, r in results.items()}
    log("- save peak traced memory per case: "
        + ", ".join(f"{c}: {fmt_b(p)}" for c, p in peaks.items())
        + " (independent of the arrays' size: bounded by the pickle stream)")
    return ok


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=1.0,
                    help="fraction of the array sizes (1.0: 1 GiB and 1,000 x 1 MiB)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--dir", default=None, help="directory for the files (default: a temp dir)")
    ap.add_argument("--filter", default="", help="only cases whose name contains this")
    ap.add_argument("--json", default=None, help="write the raw timings here")
    args = ap.parse_args(argv)

    def log(msg):
        print(msg, flush=True)

    import platform
    log(f"pickler from {os.path.dirname(pickler.__file__)}; Python {platform.python_version()}; "
        f"numpy {np.__version__}; {os.cpu_count()} CPUs; scale {args.scale}; "
        f"{args.rounds} rounds; {time.strftime('%Y-%m-%d %H:%M')}")
    for mod in ("joblib", "safetensors"):
        try:
            log(f"{mod} {__import__(mod).__version__}")
        except ImportError:
            pass
    tmpdir = tempfile.mkdtemp(prefix="bench_file_", dir=args.dir)
    log(f"files in {tmpdir}")
    results = {}
    try:
        for case, (obj, access) in workloads(args.scale).items():
            if args.filter not in case:
                continue
            payload, stream_len, times, memory = run_case(
                case, obj, access, args.rounds, tmpdir, lambda m: print(m, file=sys.stderr))
            base = report(case, payload, stream_len, times, memory, log)
            results[case] = {"times": times, "memory": memory, "base": base}
            del obj
            gc.collect()
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    ok = targets(results, log)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({c: {"times": {" | ".join(k): v for k, v in r["times"].items()},
                           "memory": {" | ".join(k): v for k, v in r["memory"].items()}}
                       for c, r in results.items()}, f, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
