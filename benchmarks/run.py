#!/usr/bin/env python
"""pickler benchmark suite: ``pickler`` vs the C pickler (``_pickle``) vs the
pure-Python pickler, in one process, interleaved.

    python benchmarks/run.py            # default run (a few minutes)
    python benchmarks/run.py --quick    # < 1 minute, smaller data, fewer rounds
    python benchmarks/run.py --scaling  # scaling up to 1M records
    python benchmarks/run.py --large    # large arrays up to 512 MiB

``pickler`` is whatever ``import pickler`` finds: put the built tree first on
the path (``PYTHONPATH=/path/to/repo``) and run from another directory if the
source tree is not built in place.  Results: a table on stdout,
``benchmarks/results/latest.json`` and ``benchmarks/results/latest.png``.
See docs/performance.md for the methodology and the targets.
"""
import argparse
import datetime
import json
import os
import platform
import re
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import bench_candidates  # noqa: E402
import bench_large  # noqa: E402
import bench_report  # noqa: E402
import bench_timing as T  # noqa: E402
import bench_workloads as W  # noqa: E402

MiB = 1 << 20

MODES = {
    # scale: data size factor; rounds: interleaved rounds per comparison;
    # target: minimum seconds per sample; py_limit: the pure-Python pickler
    # is timed only if one operation takes less than this many seconds.
    "quick": {"scale": 0.2, "rounds": 15, "target": 0.005, "py_limit": 0.02, "py_every": 3,
              "large_sizes": [1 * MiB, 64 * MiB], "large_rounds": 5,
              "large_target": 0.005, "scaling": [1_000, 10_000],
              "scaling_rounds": 5, "tracemalloc": False},
    "default": {"scale": 1.0, "rounds": 21, "target": 0.02, "py_limit": 0.5,
                "py_every": 3, "large_sizes": [1 * MiB, 64 * MiB],
                "large_rounds": 9, "large_target": 0.02,
                "scaling": [1_000, 10_000, 100_000], "scaling_rounds": 9,
                "tracemalloc": True},
}


def machine_info():
    cpu = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count()
    info = {
        "nproc": nproc,
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu or platform.processor(),
        "python": sys.version.split()[0],
        "python_impl": platform.python_implementation(),
        "python_build": " ".join(platform.python_build()),
        "platform": platform.platform(),
        "executable": sys.executable,
    }
    try:
        import numpy
        info["numpy"] = numpy.__version__
    except ImportError:
        info["numpy"] = None
    return info


def loadavg():
    try:
        return list(os.getloadavg())
    except OSError:
        return None


def _outputs_equal(w, a, b):
    if w.kind == "oob":
        (da, ba), (db, bb) = a, b
        return da == db and [bytes(x) for x in ba] == [bytes(x) for x in bb]
    return a == b


def measure_workload(w, cands, cfg, protocol, with_py, log):
    """Time dumps and loads of one workload.  Returns a list of rows."""
    t_start = time.perf_counter()
    obj, blob = W.prepare(w, cands["C"], protocol)
    try:
        identical = _outputs_equal(
            w, w.dumps_once(cands["pickler"], obj, protocol),
            w.dumps_once(cands["C"], obj, protocol))
        error = None
    except Exception as exc:  # report, keep going with the other rows
        identical, error = None, f"{type(exc).__name__}: {exc}"
    rows = []
    for op in ("dumps", "loads") if w.loads_runner is not None else ("dumps",):
        row = {"workload": w.name, "group": w.group, "kind": w.kind, "op": op,
               "description": w.description, "units": w.units,
               "unit_name": w.unit_name, "identical_output": identical}
        try:
            if op == "dumps":
                runs = {n: w.dumps_runner(cands[n], obj, protocol)
                        for n in ("pickler", "C")}
                base = w.dumps_baseline(obj, protocol) if w.dumps_baseline else None
                py = w.dumps_runner(cands["py"], obj, protocol)
            else:
                runs = {n: w.loads_runner(cands[n], blob) for n in ("pickler", "C")}
                base = w.loads_baseline(blob) if w.loads_baseline else None
                py = w.loads_runner(cands["py"], blob)
            loops, est = T.calibrate(runs["C"], cfg["target"])
            runs["pickler"](1)
            runs["pickler"](1)
            runners = {n: (r, loops) for n, r in runs.items()}
            every = {}
            if base is not None:
                base(loops)
                runners["loop"] = (base, loops)
            if with_py and w.py_ok:
                # pure Python is ~10-50x slower than C: only try it when a
                # single operation plausibly fits the budget.
                if est * 10 <= cfg["py_limit"]:
                    t_py = T.time_run(py, 1)
                    if t_py <= cfg["py_limit"]:
                        runners["py"] = (py, max(1, int(cfg["target"] / t_py)))
                        every["py"] = cfg["py_every"]
                    else:
                        row["py_skipped"] = f"{t_py:.2f} s/op"
                else:
                    row["py_skipped"] = "est. > {:.2f} s/op".format(cfg["py_limit"])
            samples = T.interleaved(runners, cfg["rounds"], every)
        except Exception as exc:
            row["error"] = f"{type(exc).__name__}: {exc}"
            if error:
                row["error"] = "dumps_once: " + error
            rows.append(row)
            log(bench_report.format_row(row))
            continue
        row["loops"] = loops
        row["rounds"] = cfg["rounds"]
        row["times"] = {n: T.summarize(s) for n, s in samples.items()}
        row["ratio"] = T.summarize(T.ratios(samples, "pickler", "C"))
        if "py" in samples:
            row["ratio_py"] = T.summarize(T.ratios(samples, "py", "C"))
        if "loop" in samples:
            row["ratio_net"] = T.summarize(
                T.ratios(samples, "pickler", "C", baseline="loop"))
        row["per_unit"] = {n: t["median"] / w.units for n, t in row["times"].items()}
        if w.unit_name == "byte":
            row["gbps"] = {n: w.units / t["median"] / 1e9
                           for n, t in row["times"].items()}
        if error:
            row["warning"] = "pickler dumps_once failed: " + error
        rows.append(row)
        log(bench_report.format_row(row))
    del obj, blob
    rows[-1]["wall_s"] = time.perf_counter() - t_start
    return rows


def run_scaling(cands, sizes, cfg, protocol, log):
    rows = []
    for n in sizes:
        obj = W.make_records(n)
        blob = cands["C"].dumps(obj, protocol)
        for op in ("dumps", "loads"):
            if op == "dumps":
                runs = {c: W.plain_dumps(cands[c], obj, protocol) for c in ("pickler", "C")}
            else:
                runs = {c: W.plain_loads(cands[c], blob) for c in ("pickler", "C")}
            loops, _ = T.calibrate(runs["C"], cfg["target"])
            runs["pickler"](1)
            samples = T.interleaved({c: (r, loops) for c, r in runs.items()},
                                    cfg["scaling_rounds"])
            row = {"records": n, "op": op, "loops": loops,
                   "ratio": T.summarize(T.ratios(samples, "pickler", "C")),
                   "per_record": {c: T.summarize(s)["median"] / n
                                  for c, s in samples.items()}}
            rows.append(row)
            log(bench_report.format_scaling_row(row))
        del obj, blob
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="under a minute: smaller data, fewer rounds, "
                         "pure Python only on small workloads")
    ap.add_argument("--scaling", action="store_true",
                    help="scaling workload up to 1M records")
    ap.add_argument("--large", action="store_true",
                    help="also 512 MiB arrays (needs ~2.5 GiB RAM)")
    ap.add_argument("--filter", metavar="REGEX",
                    help="only workloads whose name matches")
    ap.add_argument("--rounds", type=int, help="override rounds per comparison")
    ap.add_argument("--protocol", type=int, default=5)
    ap.add_argument("--no-py", action="store_true", help="never time pure Python")
    ap.add_argument("--no-main", action="store_true", help="skip the main table")
    ap.add_argument("--no-scaling", action="store_true")
    ap.add_argument("--no-large", action="store_true",
                    help="skip large-array throughput and peak memory")
    ap.add_argument("--no-memory", action="store_true",
                    help="skip the peak-memory subprocesses")
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--output-dir", default=os.path.join(HERE, "results"))
    ap.add_argument("--name", default="latest",
                    help="basename of the JSON/PNG/MD written (default latest)")
    ap.add_argument("--update-docs", action="store_true",
                    help="rewrite the measured-results section of "
                         "docs/performance.md from this run")
    ap.add_argument("--list", action="store_true", help="list workloads and exit")
    args = ap.parse_args(argv)

    cfg = dict(MODES["quick" if args.quick else "default"])
    if args.rounds:
        cfg["rounds"] = args.rounds
    if args.scaling:
        cfg["scaling"] = [1_000, 10_000, 100_000, 1_000_000]
    if args.large:
        cfg["large_sizes"] = cfg["large_sizes"] + [512 * MiB]
    mode_name = "quick" if args.quick else "default"
    flags = [f for f in ("scaling", "large") if getattr(args, f)]

    workloads = W.build_workloads(cfg["scale"])
    if args.filter:
        workloads = [w for w in workloads if re.search(args.filter, w.name)]
    if args.list:
        for w in workloads:
            print(f"{w.name!s:<22} {w.group!s:<10} {w.description}")
        return 0

    try:
        import numpy  # noqa: F401
        have_numpy = True
    except ImportError:
        have_numpy = False

    cands = bench_candidates.make_candidates()
    pinfo = bench_candidates.pickler_info()
    minfo = machine_info()
    t0 = time.time()
    started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    print("pickler imported from: {}".format(pinfo["file"]))
    for sub, c in sorted(pinfo["compiled"].items()):
        print("  compiled {}: {} (built {})".format(
            sub, c["file"], datetime.datetime.fromtimestamp(c["mtime"]).isoformat(
                timespec="seconds")))
    print("  git: {}; dumps is _pickle.dumps: {}; loads is _pickle.loads: {}".format(
        pinfo["git"], pinfo["dumps_is_C"], pinfo["loads_is_C"]))
    if pinfo["dumps_is_C"] and pinfo["Pickler_is_C"]:
        print("  NOTE: pickler's dumps/Pickler ARE the C pickler (shim): "
              "ratios should be ~1.0")
    print("machine: {} cpus ({}), Python {}, numpy {}, load avg {}".format(
        minfo["nproc"], minfo["cpu_model"], minfo["python"], minfo["numpy"],
        loadavg()))
    print("mode: {}{}; protocol {}; rounds {}; >= {:.0f} ms per sample".format(
        mode_name, "".join(" +" + f for f in flags), args.protocol,
        cfg["rounds"], cfg["target"] * 1e3))

    results = {
        "meta": {"started": started, "mode": mode_name, "flags": flags,
                 "protocol": args.protocol, "config": cfg,
                 "machine": minfo, "pickler": pinfo,
                 "loadavg_start": loadavg(), "argv": sys.argv[1:]},
        "workloads": [], "scaling": [], "large": [], "peak_memory": [],
    }
    log = lambda s: print(s, flush=True)  # noqa: E731

    if not args.no_main:
        print()
        print(bench_report.HEADER)
        for w in workloads:
            if w.needs_numpy and not have_numpy:
                log(f"  {w.name!s:<22} skipped (numpy not installed)")
                continue
            if w.kind == "oob" and args.protocol < 5:
                log(f"  {w.name!s:<22} skipped (out-of-band buffers need protocol 5)")
                continue
            results["workloads"].extend(
                measure_workload(w, cands, cfg, args.protocol,
                                 not args.no_py, log))

    if not args.no_scaling and not args.filter:
        print("\nscaling: json_records, cost per record (pickler vs C)")
        results["scaling"] = run_scaling(cands, cfg["scaling"], cfg,
                                         args.protocol, log)

    if not args.no_large and have_numpy and not args.filter:
        with tempfile.TemporaryDirectory(prefix="pickler-bench-") as tmp:
            print("\nlarge arrays (protocol 5), pickler vs C vs memcpy")
            results["large"] = bench_large.run_large(
                cands, cfg["large_sizes"], cfg["large_rounds"], tmp,
                cfg["large_target"], log)
            if not args.no_memory:
                print("\npeak extra memory per call (fresh interpreter per case; "
                      "relative to the payload)")
                root = os.path.dirname(os.path.dirname(os.path.abspath(pinfo["file"])))
                results["peak_memory"] = bench_large.run_peaks(
                    cfg["large_sizes"], tmp, root, cfg["tracemalloc"], log)

    results["meta"]["loadavg_end"] = loadavg()
    results["meta"]["duration_s"] = round(time.time() - t0, 1)
    results["targets"] = bench_report.evaluate_targets(results)
    print()
    print(bench_report.format_targets(results["targets"]))
    print("\ntotal {:.0f} s".format(results["meta"]["duration_s"]))

    os.makedirs(args.output_dir, exist_ok=True)
    base = os.path.join(args.output_dir, args.name)
    with open(base + ".json", "w") as f:
        json.dump(results, f, indent=1, sort_keys=True)
    md = bench_report.markdown(results, png_name=args.name + ".png")
    with open(base + ".md", "w") as f:
        f.write(md)
    print(f"wrote {base}.json, {base}.md")
    if not args.no_plot:
        try:
            bench_report.plot(results, base + ".png")
            print(f"wrote {base}.png")
        except ImportError as exc:
            print(f"no plot ({exc}); pip install matplotlib")
    if args.update_docs:
        doc = os.path.join(os.path.dirname(HERE), "docs", "performance.md")
        rel_png = os.path.relpath(base + ".png", os.path.dirname(doc))
        bench_report.update_docs(doc, bench_report.markdown(results, png_name=rel_png))
        print(f"updated {doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
