"""dask.distributed stock against pickler.dask, side by side (issue 20).

Run it as a script (its task functions are defined in ``__main__``, so
stock distributed sends them with cloudpickle)::

    python benchmarks/bench_dask.py [--rounds 3] [--tasks 20] [--records 25000]
                                    [--small 5000] [--dicts 100000] [--arrays 8]
                                    [--only a b dicts arrays]

Each round starts, for each mode (stock, pickler.dask), a LocalCluster of 2
worker processes with 1 thread each, runs the workloads and closes it; the
modes alternate so that the machine's load hits both alike.  Workloads:

(a) object-heavy: ``client.map`` of a ``__main__`` function over
    ``--tasks`` lists of ``--records`` fresh dict records each (one graph),
    then ``gather`` of the small results; "submit" is the ``map`` call (the
    client pickling the graph), "total" until the results are back;
(b) ``--small`` small tasks of a ``__main__`` function, mapped and gathered;
(c) scatter then gather of a list of ``--dicts`` small dicts (distributed
    serializes a scattered list's items one by one: one payload per dict
    each way), and of ``--arrays`` numpy arrays of 64 MiB.

The issue's sizes (200 tasks x 50,000 records, 100,000 small tasks, a
million dicts) take minutes per round on a loaded 2-core machine and about
5 GiB for (a); the defaults are scaled down (20 x 25,000, 5,000, 100,000).

In every process a probe (this file, loaded as a preload) wraps each route
of ``pickler.dask.ROUTES`` (stock or replaced) and times the outermost
pickling calls, and counts the pickling passes made under them: stock's
``pickle.dumps``, its ``_DaskPickler`` and ``cloudpickle.dumps``;
pickler.dask's passes. Printed: medians with min-max over the rounds.
"""
import argparse
import os
import statistics
import sys
import threading
import time

# Nothing heavy at import: worker processes import this file as a preload,
# and the nannies' spawned workers import it again as __mp_main__.

# -- the probe (runs in every process) ------------------------------------------------

_probe = {"dumps_s": 0.0, "loads_s": 0.0, "payloads": 0, "loads": 0, "passes": 0}
_local = threading.local()


def _timed(func, kind):
    def wrapper(*args, **kwargs):
        depth = getattr(_local, "depth", 0)
        if kind == "pass":
            _probe["passes"] += 1
        if depth:
            return func(*args, **kwargs)
        _local.depth = 1
        t0 = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            dt = time.perf_counter() - t0
            _local.depth = 0
            if kind == "loads":
                _probe["loads_s"] += dt
                _probe["loads"] += 1
            else:
                _probe["dumps_s"] += dt
                _probe["payloads"] += 1
    wrapper.__wrapped__ = func
    return wrapper


class _ModuleProbe:
    """Wraps a pickle-like module: dumps is a pass, loads is timed."""

    def __init__(self, module):
        self._module = module
        self.dumps = _timed(module.dumps, "pass")
        self.loads = _timed(module.loads, "loads")

    def __getattr__(self, name):
        return getattr(self._module, name)


def install_probe():
    """Wrap every route in this process (after pickler.dask, if loaded)."""
    if getattr(install_probe, "done", False):
        return
    import distributed.protocol.pickle as dpp

    from pickler.dask import ROUTES

    for module, attr, kind in ROUTES:
        mod = sys.modules[module]
        value = getattr(mod, attr)
        if kind == "pickle":
            setattr(mod, attr, _ModuleProbe(value))
        else:
            setattr(mod, attr, _timed(value, kind))
    # Stock dumps's other passes.
    stock_dump = dpp._DaskPickler.dump

    def dump(self, obj):
        _count_pass()
        return stock_dump(self, obj)
    dpp._DaskPickler.dump = dump
    dpp.cloudpickle = _ModuleProbe(dpp.cloudpickle)
    install_probe.done = True


def uninstall_probe():
    if not getattr(install_probe, "done", False):
        return
    import distributed.protocol.pickle as dpp

    from pickler.dask import ROUTES

    for module, attr, kind in ROUTES:
        mod = sys.modules[module]
        value = getattr(mod, attr)
        setattr(mod, attr, value._module if kind == "pickle" else value.__wrapped__)
    del dpp._DaskPickler.dump
    dpp.cloudpickle = dpp.cloudpickle._module
    install_probe.done = False


def _count_pass():
    _probe["passes"] += 1


def _this_process_probe():
    """The probe installed in this process.  client.run() sends these
    functions by value, with a copy of their globals: the state is looked
    up in the module that installed the probe (the preload module in the
    workers, __main__ here)."""
    for name in ("bench_dask", "__main__"):
        mod = sys.modules.get(name)
        if mod is not None and getattr(getattr(mod, "install_probe", None), "done", False):
            return mod._probe
    raise RuntimeError("no probe installed in this process")


def probe_report():
    out = dict(_this_process_probe())
    mod = sys.modules.get("pickler.dask")
    out["pickler"] = mod is not None and bool(mod._installed)
    if out["pickler"]:
        stats = mod.stats()
        out["passes"] += stats["passes"]
        out["gc_paused_loads"] = stats["gc_paused_loads"]
    out["pid"] = os.getpid()
    return out


def probe_reset():
    probe = _this_process_probe()
    for key in probe:
        probe[key] = 0.0 if key.endswith("_s") else 0
    mod = sys.modules.get("pickler.dask")
    if mod is not None:
        mod.reset_stats()


def dask_setup(server):
    install_probe()


# -- the workloads (defined in __main__ when run as a script) -------------------

def total_score(records):
    return sum(r["score"] for r in records)


def inc(x):
    return x + 1


def make_records(seed, n):
    return [{"id": seed * n + i, "name": f"item-{seed}-{i}", "score": i * 0.5,
             "tags": ("a", "b", str(i % 7)), "pos": [i, i + 1]} for i in range(n)]


def run_round(mode, args, here):
    import numpy as np
    from distributed import Client, LocalCluster

    import pickler.dask

    # This process (client, scheduler, nannies) is switched here; the
    # workers get the preloads.
    uninstall_probe()
    if mode == "pickler":
        pickler.dask.install()
        preload = ["pickler.dask", here]
    else:
        pickler.dask.uninstall()
        preload = [here]
    install_probe()
    probe_reset()
    results = {}
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None, preload=preload)
    with cluster, Client(cluster) as client:
        client.run(probe_reset)

        def measure(name, work):
            probe_reset()
            client.run(probe_reset)
            t0 = time.perf_counter()
            extra = work()
            wall = time.perf_counter() - t0
            procs = {"main": probe_report()}
            for i, rep in enumerate(client.run(probe_report).values()):
                procs[f"w{i}"] = rep
            results[name] = {"wall": wall, "procs": procs, **(extra or {})}

        def object_heavy():
            lists = [make_records(i, args.records) for i in range(args.tasks)]
            t0 = time.perf_counter()
            futs = client.map(total_score, lists, pure=False)
            submit = time.perf_counter() - t0
            got = client.gather(futs)
            want = [sum(i * 0.5 for i in range(args.records))] * args.tasks
            assert got == want
            return {"submit": submit}

        def small_tasks():
            futs = client.map(inc, range(args.small), pure=False)
            assert sum(client.gather(futs)) == sum(range(1, args.small + 1))

        def scatter_dicts():
            data = [{"i": i, "s": f"v{i}"} for i in range(args.dicts)]
            fut = client.scatter({"dicts": data})["dicts"]
            back = client.gather(fut)
            assert len(back) == len(data) and back[-1] == data[-1]

        def scatter_arrays():
            arrays = {f"a{i}": np.full(8 << 20, i, dtype="f8") for i in range(args.arrays)}
            futs = client.scatter(arrays)
            back = client.gather(futs)
            assert all(back[k][-1] == v[-1] for k, v in arrays.items())

        workloads = {"a": ("a) object-heavy", object_heavy),
                     "b": ("b) small tasks", small_tasks),
                     "dicts": ("c) scatter/gather dicts", scatter_dicts),
                     "arrays": ("c) scatter/gather arrays", scatter_arrays)}
        for key in args.only:
            measure(*workloads[key])
    return results


def _fmt(values, unit="s"):
    med = statistics.median(values)
    return f"{med:.2f}{unit} ({min(values):.2f}-{max(values):.2f})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--records", type=int, default=25_000)
    parser.add_argument("--small", type=int, default=5_000)
    parser.add_argument("--dicts", type=int, default=100_000)
    parser.add_argument("--arrays", type=int, default=8)
    parser.add_argument("--only", nargs="+", default=["a", "b", "dicts", "arrays"],
                        choices=["a", "b", "dicts", "arrays"],
                        help="workloads to run (default: all, in this order)")
    args = parser.parse_args()
    here = os.path.abspath(__file__)
    import cloudpickle
    import distributed

    import pickler

    runs = {"stock": [], "pickler": []}
    for r in range(args.rounds):
        order = ("stock", "pickler") if r % 2 == 0 else ("pickler", "stock")
        for mode in order:
            runs[mode].append(run_round(mode, args, here))
            print(f"round {r + 1} {mode} done", file=sys.stderr, flush=True)

    print(f"distributed {distributed.__version__}, cloudpickle {cloudpickle.__version__}, "
          f"pickler {pickler.__version__}, Python {sys.version.split()[0]}; {args.rounds} "
          "rounds, LocalCluster of 2 workers x 1 thread, processes; medians (min-max)")
    print(f"(a) {args.tasks} tasks x {args.records} records; (b) {args.small} tasks; "
          f"(c) {args.dicts} dicts, {args.arrays} arrays of 64 MiB")
    print()
    header = ("| workload | mode | wall | submit | main: dumps | main: loads "
              "| workers: dumps | workers: loads | payloads | passes | passes/payload |")
    print(header)
    print("|" + "---|" * 11)
    for name in runs["stock"][0]:
        walls = {}
        for mode in ("stock", "pickler"):
            rows = [run[name] for run in runs[mode]]
            wall = [row["wall"] for row in rows]
            walls[mode] = statistics.median(wall)
            submit = [row.get("submit") for row in rows]

            def seconds(row, key, main):
                return sum(p[key] for k, p in row["procs"].items() if (k == "main") == main)

            cells = [_fmt([seconds(row, key, main) for row in rows])
                     for main in (True, False) for key in ("dumps_s", "loads_s")]
            payloads = statistics.median(
                sum(p["payloads"] for p in row["procs"].values()) for row in rows)
            passes = statistics.median(
                sum(p["passes"] for p in row["procs"].values()) for row in rows)
            label = "pickler.dask" if mode == "pickler" else "stock"
            sub = _fmt(submit) if submit[0] is not None else "-"
            print(f"| {name} | {label} | {_fmt(wall)} | {sub} | {' | '.join(cells)} "
                  f"| {payloads:.0f} | {passes:.0f} | {passes / max(1, payloads):.2f} |")
        print(f"| {name} | speed-up (wall) | {walls['stock'] / walls['pickler']:.2f}x "
              "| | | | | | | | |")


if __name__ == "__main__":
    main()
