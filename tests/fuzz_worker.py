"""The fuzz worker of test_fuzz_unpickler.py: mutates valid pickles and loads
each with ``_pickle.Unpickler`` and ``pickler._unpickler.Unpickler`` behind
the same restricted ``find_class``, then prints one JSON line of counts and
failures.  See test_fuzz_unpickler.py for what counts as a failure.

Run as a script, in its own process (a crash fails the worker, not pytest):

    python tests/fuzz_worker.py SECONDS SEED

It must not import the test modules: it runs with only pickler on its path.
"""
import _pickle
import collections
import datetime
import io
import json
import math
import os
import pickle
import random
import resource
import sys
import time

from pickler._unpickler import Unpickler

ALLOWED = {
    ("builtins", n): None for n in (
        "list", "dict", "set", "frozenset", "tuple", "int", "float",
        "complex", "bool", "slice", "object", "NotImplemented", "Ellipsis")
}
ALLOWED.update({
    ("copyreg", "_reconstructor"): None,
    ("collections", "OrderedDict"): None,
    ("datetime", "date"): None, ("datetime", "time"): None,
    ("datetime", "datetime"): None, ("datetime", "timedelta"): None,
    ("datetime", "timezone"): None,
    # Python 2 names, reached through fix_imports
    ("__builtin__", "list"): None, ("__builtin__", "set"): None,
    ("__builtin__", "object"): None, ("copy_reg", "_reconstructor"): None,
})


def restricted(module, name):
    if (module, name) not in ALLOWED:
        raise pickle.UnpicklingError(f"global {module}.{name} is forbidden")


class CSafe(_pickle.Unpickler):
    def find_class(self, module, name):
        restricted(module, name)
        return super().find_class(module, name)


class OurSafe(Unpickler):
    def find_class(self, module, name):
        restricted(module, name)
        return super().find_class(module, name)


class Point:
    pass


def corpus():
    rec = [1]
    rec.append(rec)
    d = {"k": rec}
    d["self"] = d
    objs = [
        None, True, 0, -1, 255, 65536, 2**31, 2**70, -2**70, 1.5, float("nan"),
        -0.0, "abc", "é€\U0001f600", b"xyz", bytearray(b"ab"), [1, [2, 3]],
        (1, 2), (1, 2, 3, 4), {"a": 1, 2: (3, 4)}, {1, 2}, frozenset({3}),
        collections.OrderedDict(a=1), datetime.datetime(2020, 1, 2, 3, 4, 5),
        datetime.timedelta(1, 2, 3), complex(1, 2), rec, d,
        [{"id": i, "name": f"n{i}", "v": [i, i * 0.5]} for i in range(5)],
        list(range(300)), {i: str(i) for i in range(20)},
        [b"q" * 40, "w" * 300, (None, True, False)],
    ]
    out = []
    for obj in objs:
        for proto in range(pickle.HIGHEST_PROTOCOL + 1):
            out.append(pickle.dumps(obj, proto))
    # A few hand-made pickles with text opcodes and Python 2 names.
    out += [b"(lp0\nI1\naI2\na.", b"(dp0\nS'a'\np1\nI1\ns.",
            b"c__builtin__\nset\np0\n((lp1\nI1\natp2\nRp3\n.",
            b"ccopy_reg\n_reconstructor\n(c__builtin__\nobject\nc__builtin__\nobject\nNtR.",
            b"\x80\x02]q\x00(K\x01K\x02e.", b"(I01\nI00\nL5L\nF1.5\nt."]
    return out


def mutate(rnd, data, seeds):
    b = bytearray(data)
    for _ in range(rnd.choice((1, 1, 1, 2, 3))):
        kind = rnd.randrange(7)
        n = len(b)
        if kind == 0 and n:                       # flip a byte
            b[rnd.randrange(n)] = rnd.randrange(256)
        elif kind == 1:                           # insert random bytes
            i = rnd.randrange(n + 1)
            b[i:i] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 4)))
        elif kind == 2 and n:                     # delete a slice
            i = rnd.randrange(n)
            del b[i:i + rnd.randint(1, 4)]
        elif kind == 3 and n:                     # truncate
            del b[rnd.randrange(n):]
        elif kind == 4:                           # splice with another pickle
            other = rnd.choice(seeds)
            i = rnd.randrange(n + 1)
            j = rnd.randrange(len(other) + 1)
            b = b[:i] + other[j:]
        elif kind == 5 and n:                     # duplicate a slice
            i = rnd.randrange(n)
            j = min(n, i + rnd.randint(1, 8))
            b[j:j] = b[i:j]
        elif kind == 6 and n:                     # flip one bit
            i = rnd.randrange(n)
            b[i] ^= 1 << rnd.randrange(8)
    return bytes(b)


def run(cls, data, kw):
    try:
        return ("ok", cls(io.BytesIO(data), **kw).load())
    except RecursionError as exc:
        return ("raise", exc)
    except Exception as exc:
        return ("raise", exc)


def same(a, b):
    """Structural equality on object graphs (nan == nan, -0.0 != 0.0,
    shared/recursive structure compared once), iterative."""
    seen = set()
    todo = [(a, b)]
    while todo:
        x, y = todo.pop()
        if type(x) is not type(y):
            return False
        key = (id(x), id(y))
        if key in seen:
            continue
        seen.add(key)
        if isinstance(x, float):
            if not (x == y or (math.isnan(x) and math.isnan(y))):
                return False
            if math.copysign(1, x) != math.copysign(1, y):
                return False
        elif isinstance(x, complex):
            todo.append((x.real, y.real))
            todo.append((x.imag, y.imag))
        elif isinstance(x, (list, tuple)):
            if len(x) != len(y):
                return False
            todo.extend(zip(x, y))
        elif isinstance(x, dict):
            if len(x) != len(y):
                return False
            xk, yk = list(x), list(y)
            todo.extend(zip(xk, yk))
            todo.extend(zip(x.values(), y.values()))
        elif isinstance(x, (set, frozenset)):
            if len(x) != len(y):
                return False
            try:
                if x != y:
                    return False
            except RecursionError:
                return False
        elif isinstance(x, (str, bytes, bytearray, int, bool, type(None),
                            datetime.date, datetime.time, datetime.timedelta,
                            datetime.tzinfo, slice)):
            if x != y:
                return False
        else:
            if type(x) is object:
                continue
            if hasattr(x, "__dict__"):
                todo.append((vars(x), vars(y)))
            elif x != y:
                return False
    return True


def main(seconds, seed):
    rnd = random.Random(seed)
    seeds = corpus()
    stats = collections.Counter()
    failures = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for _ in range(200):
            data = mutate(rnd, rnd.choice(seeds), seeds)
            kw = rnd.choice(({}, {}, {"encoding": "latin1"}, {"encoding": "bytes"},
                             {"fix_imports": False}))
            c = run(CSafe, data, kw)
            ours = run(OurSafe, data, kw)
            stats["cases"] += 1
            if c[0] == "raise" and (isinstance(c[1], MemoryError) or (
                    type(c[1]) is OverflowError
                    and str(c[1]) == "byte string is too large")):
                # _pickle stopped at an allocation we deliberately do not
                # make; what follows in the corrupt stream is not comparable.
                stats["c_allocation_failure"] += 1
                continue
            if c[0] != ours[0]:
                failures.append((data, kw, repr(c[1])[:200], repr(ours[1])[:200]))
                continue
            if c[0] == "raise":
                stats["both_raise"] += 1
                stats["raise:" + type(c[1]).__name__] += 1
                if type(c[1]) is not type(ours[1]):
                    failures.append((data, kw, repr(c[1])[:200], repr(ours[1])[:200]))
                continue
            stats["both_ok"] += 1
            try:
                ok = same(c[1], ours[1])
            except RecursionError:
                ok = True
                stats["compare_skipped"] += 1
            if not ok:
                failures.append((data, kw, repr(c[1])[:200], repr(ours[1])[:200]))
    print(json.dumps({"stats": stats,
                      "failures": [[repr(d), repr(k), a, b] for d, k, a, b in failures[:20]],
                      "n_failures": len(failures)}))


if __name__ == "__main__":
    # Corrupt sizes make both unpicklers try huge allocations: cap the address
    # space so that they fail with MemoryError.  Under AddressSanitizer
    # (.ci/sanitize) the address space holds its shadow memory, terabytes,
    # and ASAN_OPTIONS' max_allocation_size_mb caps each allocation instead.
    if "libasan" not in os.environ.get("LD_PRELOAD", ""):
        limit = 6 << 30
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    main(float(sys.argv[1]), int(sys.argv[2]))
