#!/usr/bin/env python
"""C stack used per nesting level, and the outcome of deep data in threads
with small stacks, for pickler and the C pickler (_pickle).

    cd /tmp && PYTHONPATH=/path/to/repo python /path/to/repo/benchmarks/stack_depth.py

Per-level use: a probe object at the bottom of nested data reads the
thread's stack pointer (the ``sp`` field of ``/proc/thread-self/syscall``,
Linux only) when it is pickled (its ``__reduce__``) or loaded (the function
its REDUCE calls); the same data nested 100 and 200 levels deep gives the
bytes per level as the difference divided by 100.  Python-to-Python calls
use no C stack (3.11+), so only the picklers' own C frames and the
C-to-Python calls into hooks count.

Outcomes: each case runs in a child process, in a thread started with
``threading.stack_size(S)``, and is reported as ok, RecursionError or
crash (the child died from a signal).
"""
import argparse
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(r"""
    import sys, threading, pickle, _pickle, copyreg
    import pickler

    def sp():
        with open("/proc/thread-self/syscall", "rb") as f:
            return int(f.read().split()[-2], 16)

    seen = []

    def probe_load():
        seen.append(sp())
        return 0

    class Probe:
        def __reduce__(self):
            seen.append(sp())
            return (probe_load, ())

    class Node:
        def __init__(self, child):
            self.child = child

        def __reduce__(self):
            return (Node, (self.child,))

    class Plain:
        pass

    def nest(kind, depth, leaf):
        obj = leaf
        for _ in range(depth):
            if kind == "list":
                obj = [obj]
            elif kind == "tuple":
                obj = (obj,)
            elif kind == "dict":
                obj = {"k": obj}
            elif kind == "reduce":
                obj = Node(obj)
            elif kind == "instance":
                p = Plain()
                p.child = obj
                obj = p
        return obj

    MODS = {"pickler": (pickler.dumps, pickler.loads),
            "_pickle": (_pickle.dumps, _pickle.loads)}

    def per_level(mod, op, kind):
        dumps, loads = MODS[mod]
        out = []
        for depth in (100, 200):
            data = nest(kind, depth, Probe())
            del seen[:]
            blob = dumps(data, protocol=5)
            if op == "load":
                del seen[:]
                loads(blob)
            out.append(seen[0])
        return (out[0] - out[1]) / 100.0

    def outcome(mod, op, kind, depth):
        dumps, loads = MODS[mod]
        data = nest(kind, depth, None)
        try:
            if op == "dump":
                dumps(data, protocol=5)
            else:
                loads(_pickle.dumps(data, protocol=5) if depth < 900 else blob_of(kind, depth))
        except RecursionError:
            return "RecursionError"
        return "ok"

    def blob_of(kind, depth):
        # nested lists written by hand: deeper than any pickler can dump
        return b"\x80\x05" + b"]" * depth + b"N" + b"a" * depth + b"."

    def run_in_thread(stack, fn, *args):
        res = []
        if stack:
            threading.stack_size(stack)
        t = threading.Thread(target=lambda: res.append(fn(*args)))
        t.start()
        t.join()
        return res[0]

    what = sys.argv[1]
    if what == "per_level":
        print(run_in_thread(0, per_level, *sys.argv[2:5]))
    else:
        mod, op, kind, depth, stack = sys.argv[2:7]
        if int(depth) >= 1000:
            sys.setrecursionlimit(int(depth) + 1000)
        print(run_in_thread(int(stack) * 1024, outcome, mod, op, kind, int(depth)))
""")


def child(*args):
    proc = subprocess.run([sys.executable, "-c", CHILD] + [str(a) for a in args],
                          check=False, capture_output=True, text=True)
    if proc.returncode < 0:
        return f"crash (signal {-proc.returncode})"
    if proc.returncode != 0:
        return "error: " + proc.stderr.strip().splitlines()[-1]
    return proc.stdout.strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kinds", default="list,tuple,dict,reduce,instance")
    ap.add_argument("--stacks", default="128,192,256,320,0",
                    help="thread stack sizes in KiB (0: the default)")
    a = ap.parse_args()
    import pickler
    print(f"pickler: {pickler.__file__}  Python {sys.version.split()[0]}")
    kinds = a.kinds.split(",")
    print("\nC stack per nesting level (bytes)")
    print("| data | pickler dump | _pickle dump | pickler load | _pickle load |")
    print("|---|---|---|---|---|")
    for kind in kinds:
        cells = [child("per_level", m, op, kind) for op in ("dump", "load")
                 for m in ("pickler", "_pickle")]
        cells = [f"{float(c):.0f}" if c.replace(".", "").lstrip("-").isdigit() else c
                 for c in cells]
        print(f"| {kind} | {' | '.join(cells)} |")
    stacks = [int(s) for s in a.stacks.split(",")]
    cases = [("dump", "reduce", 400), ("dump", "list", 400), ("dump", "reduce", 900),
             ("dump", "list", 100000), ("load", "list", 100000)]
    print("\nOutcome in a thread with the given stack (KiB; default = the platform's)")
    print("| case | " + " | ".join(f"{m} {'default' if s == 0 else s}"
                                   for s in stacks for m in ("pickler", "_pickle")) + " |")
    print("|---|" + "---|" * (2 * len(stacks)))
    for op, kind, depth in cases:
        cells = [child("outcome", m, op, kind, depth, s)
                 for s in stacks for m in ("pickler", "_pickle")]
        print(f"| {op} {kind} x{depth} | {' | '.join(cells)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
