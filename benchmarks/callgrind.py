#!/usr/bin/env python
"""Instruction counts of one workload under ``valgrind --tool=callgrind``.

Wall-clock timings on a shared 2-core machine are noisy; instruction counts
are not.  For each candidate this runs a small driver twice under callgrind,
once doing ITER operations and once doing none (same setup, same warm-up
call), and reports

    Ir per operation = (Ir(ITER) - Ir(0)) / ITER

so interpreter start-up, imports and data construction cancel out.  The
callgrind output files are kept (``--outdir``) for ``callgrind_annotate`` /
kcachegrind; ``--annotate`` prints the top functions of the ITER run.

    python benchmarks/callgrind.py tiny_ints
    python benchmarks/callgrind.py json_records --op loads --scale 0.01
    python benchmarks/callgrind.py pp_pickle --candidates pickler,C,py --annotate
    python benchmarks/callgrind.py --list

Instruction counts are not time (cache misses, branch mispredictions and
allocation page faults do not show), so use this to compare code paths and
confirm a regression/improvement, and run.py for the real ratios.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def child(workload, op, cand_name, iterations, scale, protocol):
    sys.path.insert(0, HERE)
    import bench_candidates
    import bench_workloads as W
    cands = bench_candidates.make_candidates()
    w = W.get_workload(workload, scale)
    obj, blob = W.prepare(w, cands["C"], protocol)
    cand = cands[cand_name]
    if op == "dumps":
        run = w.dumps_runner(cand, obj, protocol)
    else:
        run = w.loads_runner(cand, blob)
    import gc
    gc.collect()
    gc.disable()
    run(1)              # warm-up: lazy imports, caches, first-call paths
    run(iterations)


def total_ir(path):
    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


def run_valgrind(outfile, args, env, toggle=None):
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + outfile]
    if toggle:
        cmd.append("--toggle-collect=" + toggle)
    cmd += [sys.executable, os.path.abspath(__file__), "--child"] + args
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-3000:])
        raise SystemExit("valgrind run failed: {}".format(" ".join(cmd)))
    return total_ir(outfile)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workload", nargs="?")
    ap.add_argument("--op", choices=("dumps", "loads"), default="dumps")
    ap.add_argument("--candidates", default="pickler,C",
                    help="comma-separated: pickler, C, py (default pickler,C)")
    ap.add_argument("--iterations", type=int, default=None,
                    help="operations in the measured run (default: 20, or "
                         "200 for tiny_* workloads)")
    ap.add_argument("--scale", type=float, default=0.02,
                    help="data-size factor of the workload (default 0.02: "
                         "2000 json_records, 400 instances, ...)")
    ap.add_argument("--protocol", type=int, default=5)
    ap.add_argument("--outdir", default=None,
                    help="keep callgrind.out files here (default: a temp dir, "
                         "removed unless --annotate)")
    ap.add_argument("--annotate", action="store_true",
                    help="print callgrind_annotate's top functions per candidate")
    ap.add_argument("--toggle", metavar="FUNC",
                    help="instead of the difference method, collect only inside "
                         "functions matching FUNC (valgrind --toggle-collect, "
                         "e.g. '_pickle_dumps*' or '*pickler_8_pickler*dumps*')")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.child:
        wl, op, cand, n, scale, proto = a.child
        child(wl, op, cand, int(n), float(scale), int(proto))
        return 0
    sys.path.insert(0, HERE)
    import bench_workloads as W
    if a.list or not a.workload:
        for w in W.build_workloads(a.scale):
            print(f"{w.name!s:<22} {w.description}")
        return 0
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind not found")
    W.get_workload(a.workload, a.scale)          # validate the name
    iterations = a.iterations or (200 if a.workload.startswith("tiny") else 20)
    env = dict(os.environ, PYTHONHASHSEED="0")
    import bench_candidates
    print("pickler: {}".format(bench_candidates.pickler_info()["file"]))
    # the driver runs from this directory's parent-less cwd; make sure the
    # child imports the same pickler as we do
    import pickler
    root = os.path.dirname(os.path.dirname(os.path.abspath(pickler.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (root, os.environ.get("PYTHONPATH")) if p)
    outdir = a.outdir or tempfile.mkdtemp(prefix="pickler-callgrind-")
    os.makedirs(outdir, exist_ok=True)
    results = {}
    for cand in a.candidates.split(","):
        base = os.path.join(outdir, f"callgrind.{a.workload}.{a.op}.{cand}")
        args = [a.workload, a.op, cand, None, str(a.scale), str(a.protocol)]
        if a.toggle:
            args[3] = str(iterations)
            ir_n = run_valgrind(base + ".out", args, env, a.toggle)
            ir0 = 0
            # the warm-up call is collected too
            per_op = ir_n / (iterations + 1)
        else:
            args[3] = str(iterations)
            ir_n = run_valgrind(base + ".out", args, env)
            args[3] = "0"
            ir0 = run_valgrind(base + ".setup.out", args, env)
            per_op = (ir_n - ir0) / iterations
        results[cand] = per_op
        print(f"{cand!s:<8} {per_op:14.0f} Ir/op   "
              f"(measured run {ir_n} Ir, setup-only run {ir0} Ir)", flush=True)
    w = W.get_workload(a.workload, a.scale)
    if "pickler" in results and "C" in results:
        print("{} {}: pickler/C instruction ratio {:.3f}  ({:.0f} vs {:.0f} Ir per op; "
              "{} per op: {})".format(a.workload, a.op, results["pickler"] / results["C"],
                                  results["pickler"], results["C"], w.unit_name,
                                  w.units))
    if a.annotate:
        for cand in results:
            out = os.path.join(outdir, f"callgrind.{a.workload}.{a.op}.{cand}.out")
            print("\n==== {}: top functions (exclusive Ir, whole {} run) ====".format(
                cand, "toggled" if a.toggle else "measured"))
            proc = subprocess.run(["callgrind_annotate", "--threshold=95", out],
                                  capture_output=True, text=True, check=False)
            lines = [line for line in proc.stdout.splitlines()
                     if re.match(r"\s*[\d,]+ ", line)]
            print("\n".join(lines[:30]))
    if a.outdir or a.annotate:
        print(f"\ncallgrind files in {outdir} (callgrind_annotate FILE, kcachegrind FILE)")
    else:
        shutil.rmtree(outdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
