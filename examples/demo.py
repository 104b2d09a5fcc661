"""pickler demo: the core against the standard library, then each capability.

Part 1 generates a data set of numpy arrays and records, pickles it with
pickler and with the standard library's C pickler, checks that the bytes are
identical, times both, then loads it back, once with the payload inside the
pickle and once with protocol 5 out-of-band buffers (zero copy).

Part 2 runs the ``demo()`` of each capability's example (examples/*.py):
each measures its headline figure against the standard tool for the same
job and checks its own results. The demo exits non-zero if any check fails.
"""
import importlib
import importlib.util
import io
import os
import pickle
import sys
import time

import numpy as np

import pickler


def make_dataset(seed=0):
    rng = np.random.default_rng(seed)
    n = 50_000
    return {
        "meta": {"instrument": "demo-spectrometer", "run": 42,
                 "units": ("s", "V", "K"), "calibrated": True},
        "time": np.linspace(0.0, 10.0, n),
        "signal": rng.standard_normal((n, 4)).astype(np.float32),
        "temperature": np.asfortranarray(rng.uniform(280, 320, size=(64, 64))),
        "mask": rng.integers(0, 2, size=n).astype(bool),
        "events": np.array([(i, i * 0.5, b"ok") for i in range(1000)],
                           dtype=[("id", "<i8"), ("t", "<f8"), ("flag", "S2")]),
        "records": [{"id": i, "label": f"sample-{i}", "score": i / 7.0,
                     "tags": ["a", "b"][: i % 3]} for i in range(2000)],
    }


def same(a, b):
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    return a == b


def main():
    data = make_dataset()
    print(f"pickler {pickler.__version__} on Python {sys.version.split()[0]}")

    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        ours = pickler.dumps(data, protocol)
        theirs = pickle.dumps(data, protocol)
        assert ours == theirs, f"protocol {protocol}: bytes differ from the stdlib"
        assert same(pickle.loads(ours), data)
        print(f"protocol {protocol}: {len(ours):>10,} bytes, identical to pickle.dumps")

    # Speed against the C pickler, on the part of the data set where the
    # pickler's own work dominates (records: many small objects).
    records = data["records"]
    blob = pickle.dumps(records, 5)
    ratios = {"dumps": [], "loads": []}
    for _ in range(15):           # interleaved rounds; the median is printed
        for name, ours, theirs in (
                ("dumps", lambda: pickler.dumps(records, 5), lambda: pickle.dumps(records, 5)),
                ("loads", lambda: pickler.loads(blob), lambda: pickle.loads(blob))):
            t0 = time.perf_counter()
            ours()
            t1 = time.perf_counter()
            theirs()
            t2 = time.perf_counter()
            ratios[name].append((t1 - t0) / (t2 - t1))
    for name, values in ratios.items():
        values.sort()
        print(f"{name} of {len(records):,} records: {values[len(values) // 2]:.2f}x the "
              f"time of pickle.{name} (median of {len(values)} rounds)")

    # The same through a file object.
    f = io.BytesIO()
    pickler.dump(data, f, protocol=5)
    assert f.getvalue() == pickle.dumps(data, protocol=5)
    f.seek(0)
    assert same(pickler.load(f), data)
    print("dump()/load() through a file: identical bytes, round trip ok")

    # Protocol 5 out-of-band: the array payloads are not copied into the
    # pickle; they travel as separate buffers (here, a list).
    buffers = []
    t0 = time.perf_counter()
    small = pickler.dumps(data, protocol=5, buffer_callback=buffers.append)
    t1 = time.perf_counter()
    assert small == pickle.dumps(data, protocol=5, buffer_callback=lambda b: None)
    payload = sum(memoryview(b).nbytes for b in buffers)
    print(f"out-of-band: {len(small):,} bytes of pickle + {len(buffers)} buffers "
          f"({payload:,} bytes, not copied) in {1e3 * (t1 - t0):.2f} ms")
    # Zero copy: each buffer is a view of an array's own memory.
    assert np.shares_memory(np.asarray(buffers[0]), data["time"])
    back = pickler.loads(small, buffers=buffers)
    assert same(back, data)
    assert np.shares_memory(back["time"], data["time"])
    print("loads(..., buffers=...) returns arrays sharing memory with the buffers")

    # Part 2: the capabilities beyond pickle's API, each against the standard
    # tool for its job (examples/<name>.py, runnable on their own too).
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    failed = []
    for title, module, needs in CAPABILITIES:
        print(f"\n-- {title} (examples/{module}.py)")
        missing = [name for name in needs if importlib.util.find_spec(name) is None]
        if missing:
            print(f"skipped: needs {', '.join(missing)} (pip install \".[demo]\")")
            continue
        if not importlib.import_module(module).demo():
            failed.append(module)
    if failed:
        print(f"\ndemo FAILED: {', '.join(failed)}")
        return 1
    print("\ndemo ok")
    return 0


# (title, example module, packages it needs beyond numpy)
CAPABILITIES = [
    ("loading untrusted pickles: pickler.safe_loads", "safe", []),
    ("arrays between processes: pickler.multiprocessing", "processes", []),
    ("content hashes: pickler.hash", "hashing", ["joblib"]),
    ("files that open instantly: pickler.save / pickler.open", "file_format", []),
    ("dask.distributed: pickler.dask", "dask_once", ["distributed"]),
]


if __name__ == "__main__":
    sys.exit(main())
