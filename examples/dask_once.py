"""pickler.dask: a task payload holding a __main__ function, pickled once.

Stock dask.distributed pickles such a payload with pickle.dumps, finds
b"__main__" in the result and pickles it again with cloudpickle;
pickler.dask pickles it once, sending the function by value with
cloudpickle's reducers.  demo() measures both on the same payload (a
function of this script's __main__ and 50,000 records) in a child process
where this file is __main__, and checks that the one-pass pickle loads with
the standard unpickler.  Needs distributed (pip install "pickler[dask]").
"""
import json
import subprocess
import sys
import time


def score(records):
    return sum(r["score"] for r in records)


def measure():
    import pickle

    import distributed.protocol.pickle as dpp

    import pickler.dask

    payload = {"function": score,
               "records": [{"id": i, "name": f"item-{i}", "score": i * 0.5,
                            "tags": ("a", "b"), "pos": [i, i + 1]} for i in range(50_000)]}
    ours = pickler.dask.dumps
    pickler.dask.uninstall()
    stock = dpp.dumps
    times = {"stock": [], "ours": []}
    for _ in range(5):
        for name, dumps in (("stock", stock), ("ours", ours)):
            t0 = time.perf_counter()
            data = dumps(payload)
            times[name].append(time.perf_counter() - t0)
    before = pickler.dask.stats()["passes"]
    data = ours(payload)
    passes = pickler.dask.stats()["passes"] - before
    back = pickle.loads(data)
    ok = (passes == 1 and back["records"] == payload["records"]
          and back["function"](back["records"]) == score(payload["records"])
          and back["function"] is not score)
    return {"stock": sorted(times["stock"])[2], "ours": sorted(times["ours"])[2],
            "passes": passes, "ok": ok}


def demo():
    """Print the headline figure; return True if the checks passed."""
    proc = subprocess.run([sys.executable, __file__, "--measure"], check=False,
                          capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        print("pickler.dask: measurement failed:", proc.stderr.strip()[-500:])
        return False
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"pickler.dask: a payload of a __main__ function and 50,000 records pickled "
          f"once ({r['passes']} pass) in {r['ours'] * 1e3:.0f} ms; stock distributed "
          f"pickles it twice in {r['stock'] * 1e3:.0f} ms: {r['stock'] / r['ours']:.1f}x"
          + ("" if r["ok"] else "  CHECK FAILED"))
    return r["ok"]


if __name__ == "__main__":
    if sys.argv[1:] == ["--measure"]:
        print(json.dumps(measure()))
    else:
        sys.exit(0 if demo() else 1)
