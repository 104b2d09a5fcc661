"""pickler.save / pickler.open: a file of arrays that opens in constant time.

Saves a dict of 48 arrays of 1 MiB plus some records with ``pickler.save``
and with ``pickle.dump``, then opens each: ``pickler.open`` maps the file and
returns arrays that are views of it (no data read), ``pickle.load`` reads
every byte.  Prints the open times and checks the contents.
"""
import os
import pickle
import sys
import tempfile
import time

import numpy as np

import pickler


def best_of(n, fn):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
        del result
    return min(times)


def demo():
    rng = np.random.default_rng(0)
    data = {"arrays": {f"a{i}": rng.random(1 << 17) for i in range(48)},
            "records": [{"id": i, "label": f"s{i}"} for i in range(1000)]}
    size = sum(a.nbytes for a in data["arrays"].values())
    with tempfile.TemporaryDirectory() as tmp:
        ours, theirs = os.path.join(tmp, "data.pkl"), os.path.join(tmp, "data.pickle")
        # fsync=False: like pickle.dump, leave the write-back to the kernel
        pickler.save(data, ours, fsync=False)
        with open(theirs, "wb") as f:
            pickle.dump(data, f, protocol=5)

        def load_theirs():
            with open(theirs, "rb") as f:
                return pickle.load(f)

        t_ours = best_of(5, lambda: pickler.open(ours))
        t_theirs = best_of(3, load_theirs)
        back = pickler.open(ours)
        ok = (back["records"] == data["records"]
              and all(np.array_equal(back["arrays"][k], v) for k, v in data["arrays"].items())
              and not back["arrays"]["a0"].flags.writeable)        # a read-only view of the file
        print(f"pickler.open of {size >> 20} MiB of arrays: {t_ours * 1e3:.2f} ms, "
              f"pickle.load: {t_theirs * 1e3:.1f} ms ({t_theirs / t_ours:.0f}x); "
              f"contents {'equal' if ok else 'DIFFER'}")
    return ok


if __name__ == "__main__":
    sys.exit(0 if demo() else 1)
