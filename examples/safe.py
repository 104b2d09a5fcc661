"""safe_loads: untrusted pickles of numpy data at pickler.loads' speed.

``demo()`` loads a numpy record (arrays and metadata) with
``pickler.safe_loads(allow=pickler.safe.numpy)`` and with ``pickler.loads``,
checks both give the same object and that a pickle calling ``os.system`` is
refused before anything runs, and prints the speed ratio (and against
fickling's allowlist loader when it is installed).  Run as a script, it
exits non-zero if a check fails.
"""
import io
import os
import pickle
import sys
import time

import pickler


def _best(fn, seconds=0.4):
    """Best time per call over repeated batches (the machine may be shared)."""
    best = float("inf")
    n = 1
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
        n = min(n * 2, 64)
    return best


def demo():
    import numpy as np
    rng = np.random.default_rng(0)
    record = {"name": "run-7", "samples": [rng.random(200) for _ in range(200)],
              "labels": rng.integers(0, 10, 200).astype(np.int8),
              "when": np.array(["2024-01-01"], dtype="datetime64[ns]")}
    data = pickle.dumps(record, protocol=5)
    allow = pickler.safe.numpy
    got = pickler.safe_loads(data, allow=allow)
    same = pickle.dumps(got, protocol=5) == pickle.dumps(pickler.loads(data), protocol=5)
    try:
        pickler.safe_loads(pickle.dumps(_Evil()), allow=allow)
        refused = False
    except pickler.UnpicklingRefused:
        refused = True
    t_loads = _best(lambda: pickler.loads(data))
    t_safe = _best(lambda: pickler.safe_loads(data, allow=allow))
    line = "safe_loads: %.2fx the speed of pickler.loads" % (t_loads / t_safe)
    try:
        from fickling.ml import FicklingMLUnpickler
        names = sorted({f"{r.module}.{r.name}" for r in pickler.safe.scan(data)})
        t_fick = _best(lambda: FicklingMLUnpickler(io.BytesIO(data), also_allow=names).load())
        line += ", %.1fx fickling's FicklingMLUnpickler" % (t_fick / t_safe)
    except ImportError:
        line += " (fickling not installed)"
    print(line + " on 200 numpy arrays")
    print(f"same object as pickler.loads: {same}; os.system pickle refused: {refused}")
    return same and refused


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo this must not run",))


if __name__ == "__main__":
    sys.exit(0 if demo() else 1)
