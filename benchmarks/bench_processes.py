"""Arrays between processes (issue 17): pickler.multiprocessing against the
standard context, joblib (loky) and Ray, side by side in one run.

Each case is a round trip: the parent sends a payload to a worker, which
returns a derived payload of the same size (``x + 1``), through
``concurrent.futures.ProcessPoolExecutor`` with 2 workers (forkserver), so
both directions count.  Candidates, all warmed up (workers started, first
call made) before anything is timed:

* ``stdlib``     -- ``ProcessPoolExecutor(mp_context=multiprocessing.get_context("forkserver"))``;
* ``pickler``    -- ``ProcessPoolExecutor(mp_context=
  pickler.multiprocessing.get_context("forkserver"))``;
* ``pickler keep=0`` -- the same with ``keep=0``: a new segment file for every
  message (the design before senders kept their files; shows what reuse gains);
* ``pickler+empty`` -- an executor like ``pickler``'s; the payload is allocated with
  ``pickler.multiprocessing.empty`` and the worker writes its result into an
  ``empty()`` array (sent by reference both ways: no copy at all);
* ``joblib``     -- ``joblib.Parallel(n_jobs=2, backend="loky")`` (memory-maps
  arguments over 1 MB to /dev/shm; results come back pickled);
* ``ray``        -- ``ray.get(f.remote(ray.put(x)))`` on a local Ray instance
  (``num_cpus=2``), when ray is installed.

Rounds are interleaved (each round runs every candidate once, in a shuffled
order); the table gives the median time with the min-max spread, throughput as
payload bytes / round-trip time, the speed-up over the standard context as the
median (min-max) of the per-round ratios (stdlib time / candidate time in the
same round, so that load changes between rounds cancel), and the peak memory of
the whole process tree
during one extra, separately run, round trip: the sum over the parent and all
its descendants of ``Pss_Anon`` (private memory, /proc/PID/smaps_rollup) plus
the growth of the system's ``Shmem`` (/proc/meminfo: /dev/shm files, Ray's
object store), sampled every few milliseconds, minus the same just before the
call, divided by the payload size.  A round trip that makes no copy but
creates the result costs 1.0 (the result itself).  ``kept`` is what the
``pickler`` rows hold between calls: the segment files the parent and the
workers keep for their next messages and ``empty()`` arrays (the kept
``pklr-...-k<n>`` files in /dev/shm after the case), divided by the payload.

``--tiny`` cases: 10,000 small tasks (an int and a tuple in, a tuple out)
through ``executor.map``, one task per message.

The machine is shared (2 cores, other jobs running): read the spreads.

    cd /tmp && PYTHONPATH=/path/to/repo python /path/to/repo/benchmarks/bench_processes.py
    ... --big          # also the 1 GiB array (needs ~8 GiB free for stdlib)
    ... --threshold    # the in-band / shared-memory crossover (default threshold)
    ... --alloc        # the cost of fresh memory on this machine (why Ray's arena wins)
"""
import argparse
import gc
import json
import multiprocessing as mp
import os
import random
import statistics
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

import pickler.multiprocessing as pmp

MiB = 1 << 20


# -- the tasks (module level: the workers import them) ----------------------

def derive(x):
    if isinstance(x, dict):
        return {k: v + 1.0 for k, v in x.items()}
    return x + 1                # ndarray or DataFrame: same size, new memory


def derive_shared(x):
    if isinstance(x, dict):
        return {k: derive_shared(v) for k, v in x.items()}
    out = pmp.empty(x.shape, x.dtype)
    np.add(x, 1.0, out=out)
    return out


def tiny(i, t):
    return i + 1, t[0]


def payload_nbytes(x):
    if isinstance(x, dict):
        return sum(v.nbytes for v in x.values())
    if isinstance(x, np.ndarray):
        return x.nbytes
    return int(x.memory_usage(index=True, deep=False).sum())


def make_payload(case, shared=False):
    alloc = pmp.empty if shared else np.empty
    if case.split()[0].isdigit():
        n = int(case.split()[0]) * (1024 * MiB if case.endswith("GiB") else MiB) // 8
        a = alloc(n, np.float64)
        a[:] = 1.5
        return a
    if case.startswith("dict"):
        out = {}
        for i in range(100):
            a = alloc(MiB // 8, np.float64)
            a[:] = i
            out[f"k{i}"] = a
        return out
    if case.startswith("DataFrame"):
        import pandas as pd
        rows = int(float(case.split()[1]))
        rng = np.random.default_rng(0)
        return pd.DataFrame({"x": rng.random(rows), "y": rng.random(rows),
                             "n": np.arange(rows, dtype=np.int64)})
    raise ValueError(case)


# -- memory of the process tree --------------------------------------------

def _descendants(root):
    parent = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    stat = f.read()
                parent[int(name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [root], [root]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out += kids
        todo += kids
    return out


def _pss_anon(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss_Anon:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _shmem():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("Shmem:"):
                return int(line.split()[1]) * 1024
    return 0


def tree_memory(pids):
    return sum(_pss_anon(p) for p in pids) + _shmem()


class PeakMonitor:
    def __init__(self):
        self.pids = _descendants(os.getpid())
        self.baseline = tree_memory(self.pids)
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_memory(self.pids))
            self._stop.wait(0.003)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_memory(self.pids))


# -- candidates --------------------------------------------------------------

class Executor:
    def __init__(self, name, ctx, shared=False):
        self.name, self.shared = name, shared
        self.ex = ProcessPoolExecutor(2, mp_context=ctx)
        self.ex.submit(tiny, 0, (0,)).result()
        list(self.ex.map(tiny, range(4), [(1,)] * 4))

    def roundtrip(self, x):
        return self.ex.submit(derive_shared if self.shared else derive, x).result()

    def tiny(self, args):
        return list(self.ex.map(tiny, *zip(*args)))

    def close(self):
        self.ex.shutdown()


class Joblib:
    name, shared = "joblib", False

    def __init__(self):
        from joblib import Parallel, delayed
        self.parallel = Parallel(n_jobs=2, backend="loky")
        self.delayed = delayed
        self.parallel(delayed(tiny)(i, (i,)) for i in range(4))

    def roundtrip(self, x):
        return self.parallel([self.delayed(derive)(x)])[0]

    def tiny(self, args):
        return self.parallel(self.delayed(tiny)(i, t) for i, t in args)

    def close(self):
        pass


class Ray:
    name, shared = "ray", False

    def __init__(self):
        import ray
        self.ray = ray
        t = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 logging_level="ERROR")
        self.startup = time.perf_counter() - t
        self.derive = ray.remote(derive)
        self.tiny_remote = ray.remote(tiny)
        ray.get([self.tiny_remote.remote(i, (i,)) for i in range(4)])

    def roundtrip(self, x):
        return self.ray.get(self.derive.remote(self.ray.put(x)))

    def tiny(self, args):
        return self.ray.get([self.tiny_remote.remote(i, t) for i, t in args])

    def close(self):
        self.ray.shutdown()


def make_candidates(args):
    # pickler+empty has workers of its own: sharing pickler's, the two
    # candidates' kept files evicted each other in the workers at 1 GiB.
    cands = [Executor("stdlib", mp.get_context("forkserver")),
             Executor("pickler", pmp.get_context("forkserver")),
             Executor("pickler+empty", pmp.get_context("forkserver"), shared=True)]
    if not args.no_keep0:
        cands.append(Executor("pickler keep=0", pmp.get_context("forkserver", keep=0)))
    notes = []
    if not args.no_joblib:
        try:
            cands.append(Joblib())
        except Exception as e:
            notes.append(f"joblib: {type(e).__name__}: {e}")
    if not args.no_ray:
        try:
            cands.append(Ray())
            notes.append(f"ray {cands[-1].ray.__version__}: local instance started "
                         f"in {cands[-1].startup:.1f} s")
        except Exception as e:
            notes.append(f"ray: {type(e).__name__}: {e}")
    return cands, notes


def check(case, x, y):
    if isinstance(x, dict):
        assert all(float(y[k][-1]) == float(x[k][-1]) + 1 for k in x), case
    elif isinstance(x, np.ndarray):
        assert y.shape == x.shape and float(y[-1]) == float(x[-1]) + 1, case
    else:
        assert y.shape == x.shape and float(y["x"].iloc[-1]) == float(x["x"].iloc[-1]) + 1


def kept_bytes(prefix=pmp.DEFAULT_PREFIX):
    """Bytes of the kept files (``<prefix><channel>-<pid>-k<n>``) in /dev/shm."""
    total = 0
    for name in os.listdir(pmp.DEFAULT_DIRECTORY):
        if name.startswith(prefix) and name.rsplit("-", 1)[-1].startswith("k"):
            try:
                total += os.stat(os.path.join(pmp.DEFAULT_DIRECTORY, name)).st_blocks * 512
            except OSError:
                pass
    return total


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def bench_case(case, cands, rounds):
    payloads = {}
    for shared in (False, True):
        payloads[shared] = make_payload(case, shared) if (
            not shared or not case.startswith("DataFrame")) else None
    active = [c for c in cands if payloads[c.shared] is not None]
    times = {c.name: [] for c in active}
    for c in active:                     # warm-up and check
        x = payloads[c.shared]
        check(case, x, c.roundtrip(x))
    for _ in range(rounds):
        order = list(active)
        random.shuffle(order)
        for c in order:
            x = payloads[c.shared]
            gc.collect()
            t = time.perf_counter()
            y = c.roundtrip(x)
            times[c.name].append(time.perf_counter() - t)
            del y
    peaks = {}
    for c in active:
        x = payloads[c.shared]
        gc.collect()
        time.sleep(0.2)
        with PeakMonitor() as mon:
            y = c.roundtrip(x)
        del y
        peaks[c.name] = (mon.peak - mon.baseline) / payload_nbytes(x)
    nbytes = payload_nbytes(payloads[False])
    kept = kept_bytes() / nbytes
    del payloads, x
    gc.collect()
    return nbytes, times, peaks, kept


def bench_tiny(cands, n, rounds):
    args = [(i, (i, "x", 1.5)) for i in range(n)]
    times = {c.name: [] for c in cands if not c.shared}
    for c in cands:
        if not c.shared:
            assert c.tiny(args[:10])[3] == (4, 3)
    for _ in range(rounds):
        order = [c for c in cands if not c.shared]
        random.shuffle(order)
        for c in order:
            t = time.perf_counter()
            c.tiny(args)
            times[c.name].append(time.perf_counter() - t)
    return times


def fmt_row(case, nbytes, name, ts, peak, ref, kept=None):
    med = statistics.median(ts)
    gbs = nbytes / med / 1e9 if nbytes else float("nan")
    ratios = [r / t for r, t in zip(ref, ts)]
    return ("| {} | {} | {:.4g} s ({:.4g}-{:.4g}) | {:.2f} "
            "| {:.2f}x ({:.2f}-{:.2f}) | {} | {} |").format(
        case, name, med, min(ts), max(ts), gbs, statistics.median(ratios),
        min(ratios), max(ratios), f"{peak:.1f}" if peak is not None else "-",
        f"{kept:.1f}" if kept is not None else "-")


def threshold_scan(rounds):
    """Round trips of one array through the pickler executor with everything
    in shared memory (threshold 1) and everything in-band (threshold 2**62),
    and through the stdlib: where shared memory starts to pay."""
    exs = {"stdlib": ProcessPoolExecutor(1, mp_context=mp.get_context("forkserver")),
           "shared memory": ProcessPoolExecutor(1, mp_context=pmp.get_context(
               "forkserver", threshold=1)),
           "in-band": ProcessPoolExecutor(1, mp_context=pmp.get_context(
               "forkserver", threshold=1 << 62))}
    for ex in exs.values():
        ex.submit(derive, np.zeros(4)).result()
    print("| size | " + " | ".join(exs) + " |")
    print("|---|" + "---|" * len(exs))
    for kib in (16, 64, 128, 256, 512, 1024, 4096):
        a = np.ones(kib * 1024 // 8)
        res = {k: [] for k in exs}
        for _ in range(rounds):
            for k in random.sample(list(exs), len(exs)):
                t = time.perf_counter()
                exs[k].submit(derive, a).result()
                res[k].append(time.perf_counter() - t)
        print(f"| {kib} KiB | " + " | ".join(
            f"{statistics.median(v) * 1e6:.0f} us ({min(v) * 1e6:.0f}-{max(v) * 1e6:.0f})"
            for v in res.values()) + " |")
    for ex in exs.values():
        ex.shutdown()


def alloc_scan(rounds, size=64 * MiB):
    """Where the time goes: one copy of 64 MiB into fresh anonymous memory,
    into reused memory, into new tmpfs pages (pwrite to a new file: what a
    send does) and over existing tmpfs pages; and reading a fresh private
    mapping of a tmpfs file (what a receiver does)."""
    import mmap
    src = np.ones(size // 8)
    view = memoryview(src).cast("B")
    reused = np.empty_like(src)
    path = os.path.join(pmp.DEFAULT_DIRECTORY, f"pklr-bench-{os.getpid()}")

    def fresh_anon():
        src.copy()

    def reused_anon():
        np.copyto(reused, src)

    def tmpfs_new():
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        os.pwrite(fd, view, 0)
        os.close(fd)
        os.unlink(path)

    fd_keep = os.open(path + "-keep", os.O_RDWR | os.O_CREAT, 0o600)
    os.pwrite(fd_keep, view, 0)

    def tmpfs_existing():
        os.pwrite(fd_keep, view, 0)

    def map_and_read():
        m = mmap.mmap(fd_keep, size, flags=mmap.MAP_PRIVATE,
                      prot=mmap.PROT_READ | mmap.PROT_WRITE)
        a = np.frombuffer(m, np.float64)
        a.sum()
        del a
        m.close()

    ops = {"copy into fresh anonymous memory": fresh_anon,
           "copy into reused memory": reused_anon,
           "pwrite into new tmpfs pages (send)": tmpfs_new,
           "pwrite over existing tmpfs pages": tmpfs_existing,
           "map privately + read (receive)": map_and_read}
    res = {k: [] for k in ops}
    for _ in range(rounds):
        for k in random.sample(list(ops), len(ops)):
            t = time.perf_counter()
            ops[k]()
            res[k].append(time.perf_counter() - t)
    os.close(fd_keep)
    os.unlink(path + "-keep")
    print("| 64 MiB | median GB/s (min-max) |\n|---|---|")
    for k, v in res.items():
        print(f"| {k} | {size / statistics.median(v) / 1e9:.2f} "
              f"({size / max(v) / 1e9:.2f}-{size / min(v) / 1e9:.2f}) |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--big", action="store_true", help="also 1 GiB (last)")
    ap.add_argument("--big-rounds", type=int, default=3)
    ap.add_argument("--rows", type=float, default=1e7, help="DataFrame rows")
    ap.add_argument("--tiny", type=int, default=10000)
    ap.add_argument("--tiny-rounds", type=int, default=5)
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument("--no-joblib", action="store_true")
    ap.add_argument("--no-keep0", action="store_true", help="no keep=0 candidate")
    ap.add_argument("--threshold", action="store_true")
    ap.add_argument("--alloc", action="store_true",
                    help="the cost of fresh memory: anonymous, tmpfs, mapping")
    ap.add_argument("--cases", default="1 MiB,64 MiB,dict 100 x 1 MiB,DataFrame")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if args.threshold:
        threshold_scan(args.rounds * 3)
        return
    if args.alloc:
        alloc_scan(args.rounds * 3)
        return
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, pickler.multiprocessing "
          f"from {os.path.dirname(pmp.__file__)}, threshold {pmp.DEFAULT_THRESHOLD}, "
          f"keep {pmp.get_context('forkserver').keep}")
    print(f"load average at start: {loadavg()}", flush=True)
    start_load = loadavg()
    cands, notes = make_candidates(args)
    notes.append(f"load average at start: {start_load}")
    for note in notes:
        print("note:", note)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    cases = [f"DataFrame {args.rows:.0e} rows" if c == "DataFrame" else c for c in cases]
    results = []
    print("\n| case | candidate | round trip: median (min-max) | GB/s "
          "| vs stdlib: median of per-round ratios (min-max) "
          "| peak memory / payload | kept / payload |")
    print("|---|---|---|---|---|---|---|")
    todo = [(c, args.rounds) for c in cases] + [("tiny", 0)] + (
        [("1 GiB", args.big_rounds)] if args.big else [])
    for case, rounds in todo:
        if case == "tiny":
            if not args.tiny:
                continue
            ttimes = bench_tiny(cands, args.tiny, args.tiny_rounds)
            for name, ts in ttimes.items():
                print(fmt_row(f"{args.tiny} tiny tasks", 0, name, ts, None,
                              ttimes["stdlib"]), flush=True)
                results.append({"case": "tiny", "candidate": name, "times": ts})
            continue
        nbytes, times, peaks, kept = bench_case(case, cands, rounds)
        for name, ts in times.items():
            print(fmt_row(case, nbytes, name, ts, peaks.get(name), times["stdlib"],
                          kept if name == "pickler" else None), flush=True)
            results.append({"case": case, "candidate": name, "bytes": nbytes,
                            "times": ts, "peak_per_payload": peaks.get(name),
                            "kept_per_payload": kept if name == "pickler" else None})
    for c in cands:
        c.close()
    print(f"load average at end: {loadavg()}")
    notes.append(f"load average at end: {loadavg()}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"notes": notes, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
