"""Workloads: data generators and the per-candidate operations timed on them.

The data shapes are modelled on pyperformance's ``pickle``, ``pickle_dict``
and ``pickle_list`` benchmarks (nested builtins, a dict of many small
entries, a list of small lists) but generated here, deterministically, by our
own code.  The classes used by the instance workloads live in this module so
that every candidate's ``loads`` finds them by the same qualified name.

A workload's ``dumps_runner(cand, obj, protocol)`` / ``loads_runner(cand,
blob)`` return ``run(n)``, a function performing the operation ``n`` times;
the loop lives inside ``run`` so the per-call overhead of the harness is a
bare ``for`` over ``itertools.repeat``, identical for every candidate.
"""
import copyreg
import dataclasses
import datetime
import io
import random
from itertools import repeat

# ---------------------------------------------------------------------------
# Classes pickled by the instance / subclass workloads (module-level so they
# are importable by ``find_class``).


class PlainObj:
    def __init__(self, ident, name, score, tags):
        self.ident = ident
        self.name = name
        self.score = score
        self.tags = tags


@dataclasses.dataclass
class DataObj:
    ident: int
    name: str
    score: float
    tags: list


class SlotsObj:
    __slots__ = ("ident", "name", "score", "tags")

    def __init__(self, ident, name, score, tags):
        self.ident = ident
        self.name = name
        self.score = score
        self.tags = tags


class ReduceObj:
    __slots__ = ("ident", "name", "score", "tags")

    def __init__(self, ident, name, score, tags):
        self.ident = ident
        self.name = name
        self.score = score
        self.tags = tags

    def __reduce__(self):
        return (ReduceObj, (self.ident, self.name, self.score, self.tags))


class Point:
    """Pickled through a class-level ``dispatch_table`` entry."""

    def __init__(self, x, y):
        self.x = x
        self.y = y


def reduce_point(p):
    return (Point, (p.x, p.y))


BENCH_DISPATCH_TABLE = copyreg.dispatch_table.copy()
BENCH_DISPATCH_TABLE[Point] = reduce_point


# ---------------------------------------------------------------------------
# Data generators (seeded, so every run pickles the same objects).

_WORDS = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
    "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
    "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu",
]
_UNICODE = ("naïve café", "Ελληνικά", "日本語テキスト", "emoji \U0001f600 ok",
            "Ünïcödé", "plain ascii")
_EPOCH = datetime.datetime(2020, 1, 1, 12, 0, 0)


def _word(rng, n=2):
    return " ".join(rng.choice(_WORDS) for _ in range(n))


def _profile(rng, i):
    """One nested user-profile-like dict (the pyperformance `pickle` shape)."""
    return {
        "id": 265867233 + i,
        "encoded_id": f"{rng.getrandbits(48):012x}",
        "name": _word(rng, 2).title(),
        "screen_name": _word(rng, 1) + str(i),
        "bio": rng.choice(_UNICODE) + " " + _word(rng, 6),
        "age": rng.randint(18, 90),
        "balance": rng.uniform(-1e6, 1e6),
        "ratio": rng.random(),
        "big": rng.getrandbits(70),
        "negative": -rng.getrandbits(20),
        "verified": rng.random() < 0.5,
        "deleted": None,
        "created": _EPOCH + datetime.timedelta(seconds=rng.randint(0, 10**8)),
        "birthday": datetime.date(1950 + i % 50, 1 + i % 12, 1 + i % 28),
        "favorites": [rng.randint(0, 10**9) for _ in range(12)],
        "location": (rng.uniform(-90, 90), rng.uniform(-180, 180)),
        "settings": {
            "theme": rng.choice(("dark", "light")),
            "lang": rng.choice(("en", "fr", "de", "ja")),
            "flags": [bool(rng.getrandbits(1)) for _ in range(5)],
            "limits": {"daily": 1000, "monthly": 30000, "burst": 1.5},
        },
        "history": [(_EPOCH + datetime.timedelta(days=d), rng.random())
                    for d in range(4)],
        "blob": bytes(rng.getrandbits(8) for _ in range(24)),
    }


def make_pp_pickle(scale=1.0):
    rng = random.Random(1)
    base = _profile(rng, 0)
    ids = [265867233 + k * 1270 for k in range(40)]
    group = [_profile(rng, i) for i in range(1, 4)]
    return (base, (ids, 60), group)


def make_pp_pickle_dict(scale=1.0):
    rng = random.Random(2)
    n = max(10, int(2000 * scale))
    d = {}
    for i in range(n):
        kind = i % 4
        if kind == 0:
            v = dict.fromkeys(range(10))
        elif kind == 1:
            v = {"count": i, "name": _word(rng, 1), "ok": True}
        elif kind == 2:
            v = (i, rng.random(), _word(rng, 1))
        else:
            v = rng.randint(-10**6, 10**6)
        d[f"key_{i}"] = v
    return d


def make_pp_pickle_list(scale=1.0):
    rng = random.Random(3)
    n = max(10, int(1000 * scale))
    out = []
    for i in range(n):
        if i % 5 == 4:
            out.append([_word(rng, 1) for _ in range(5)])
        else:
            out.append([list(range(i % 7, i % 7 + 10)), list(range(10))])
    return out


_TAGS = ("red", "green", "blue", "new", "sale", "vip", "archived", "beta")


def make_records(n):
    """JSON-like records: small dicts of str/int/float/bool/None/list."""
    rng = random.Random(4)
    out = []
    for i in range(n):
        out.append({
            "id": i,
            "name": f"user{i}",
            "email": f"user{i}@example.com",
            "active": bool(i & 1),
            "score": rng.random() * 100.0,
            "tags": [rng.choice(_TAGS), rng.choice(_TAGS)],
            "parent": None if i % 3 else i // 3,
        })
    return out


def _instance_args(rng, i):
    return (i, f"obj{i}", rng.random(), [rng.choice(_TAGS)])


def make_instances(cls, n):
    rng = random.Random(5)
    return [cls(*_instance_args(rng, i)) for i in range(n)]


def make_tiny_tuples():
    rng = random.Random(6)
    out = []
    for i in range(1000):
        k = i % 4
        if k == 0:
            out.append((i, "x", 1.5))
        elif k == 1:
            out.append((i,))
        elif k == 2:
            out.append((rng.random(), None, True))
        else:
            out.append(("key", i * 1000))
    return out


def make_tiny_ints():
    rng = random.Random(7)
    out = []
    for i in range(1000):
        k = i % 4
        if k == 0:
            out.append(i % 256)
        elif k == 1:
            out.append(256 + i * 37)
        elif k == 2:
            out.append(-rng.getrandbits(31))
        else:
            out.append(rng.getrandbits(62))
    return out


def make_subclass_data(scale=1.0):
    n = max(10, int(5000 * scale))
    rng = random.Random(8)
    return {"records": make_records(n),
            "points": [Point(rng.random(), i) for i in range(n)]}


# numpy data (numpy imported lazily so callgrind/quick runs without numpy work)

def _np():
    import numpy
    return numpy


def make_large_array(nbytes):
    np = _np()
    # one allocation, every page written, no temporary of the same size
    # (a temporary would hide the per-call peak in ru_maxrss measurements)
    return np.arange(nbytes // 8, dtype=np.float64)


def make_small_arrays(scale=1.0):
    np = _np()
    n = max(10, int(10000 * scale))
    rng = np.random.default_rng(9)
    return [rng.random(100) for _ in range(n)]


def make_scientific_record(scale=1.0):
    np = _np()
    rng = np.random.default_rng(10)
    side = 512
    return {
        "temperature": rng.random((side, side), dtype=np.float32),
        "mask": rng.random((side, side)) < 0.1,
        "ids": np.arange(100_000, dtype=np.int64),
        "spectrum": (rng.random(16384) + 1j * rng.random(16384)),
        "timestamps": np.arange("2024-01-01T00:00", 10_000, dtype="datetime64[m]"),
        "transposed": rng.random((300, 200)).T,   # non-contiguous view
        "meta": {
            "instrument": "spectrometer-7",
            "operator": "Ada",
            "started": datetime.datetime(2024, 5, 1, 8, 30),
            "params": [0.1, 0.25, 3.0, 1e-9],
            "units": {"temperature": "K", "spectrum": "arb"},
            "calibrated": True,
            "version": (2, 4, 1),
        },
    }


# ---------------------------------------------------------------------------
# Runner factories.  Each returns run(n) performing one operation n times.

def plain_dumps(cand, obj, protocol):
    f = cand.dumps

    def run(n):
        for _ in repeat(None, n):
            f(obj, protocol)
    return run


def plain_loads(cand, blob):
    f = cand.loads

    def run(n):
        for _ in repeat(None, n):
            f(blob)
    return run


def plain_dumps_once(cand, obj, protocol):
    return cand.dumps(obj, protocol)


def oob_dumps(cand, obj, protocol):
    f = cand.dumps

    def run(n):
        for _ in repeat(None, n):
            bufs = []
            f(obj, protocol, buffer_callback=bufs.append)
    return run


def oob_dumps_once(cand, obj, protocol):
    bufs = []
    data = cand.dumps(obj, protocol, buffer_callback=bufs.append)
    return data, bufs


def oob_loads(cand, blob):
    data, bufs = blob
    f = cand.loads

    def run(n):
        for _ in repeat(None, n):
            f(data, buffers=bufs)
    return run


def tiny_dumps(cand, items, protocol):
    f = cand.dumps

    def run(n):
        for _ in repeat(None, n):
            for x in items:
                f(x, protocol)
    return run


def tiny_dumps_once(cand, items, protocol):
    return b"".join(cand.dumps(x, protocol) for x in items)


def tiny_dumps_baseline(items, protocol):
    """The same loop calling a trivial 2-argument builtin (loop overhead)."""
    f = isinstance

    def run(n):
        for _ in repeat(None, n):
            for x in items:
                f(x, int)
    return run


def tiny_loads(cand, blobs):
    f = cand.loads

    def run(n):
        for _ in repeat(None, n):
            for b in blobs:
                f(b)
    return run


def tiny_loads_baseline(blobs):
    f = len

    def run(n):
        for _ in repeat(None, n):
            for b in blobs:
                f(b)
    return run


# --- subclass workloads: each candidate's Pickler subclassed the same way ---

def _sub_persistent_id(base):
    class BenchPickler(base):
        def persistent_id(self, obj):
            return None
    return BenchPickler


def _sub_reducer_override(base):
    class BenchPickler(base):
        def reducer_override(self, obj):
            return NotImplemented
    return BenchPickler


def _sub_dispatch_table(base):
    class BenchPickler(base):
        dispatch_table = BENCH_DISPATCH_TABLE
    return BenchPickler


class Unrelated:
    """A type no workload contains (target of a custom dispatch entry)."""


def _save_unrelated(self, obj):
    self.save_reduce(Unrelated, (), obj=obj)


def _sub_save_passthrough(base):
    # The pure-Python surface (issue 6): an overriding save() that sees
    # every object.  On the C pickler (no save() to override) this is a
    # plain subclass: "C with no override", the comparison the issue asks for.
    class BenchPickler(base):
        def save(self, obj, save_persistent_id=True):
            base.save(self, obj, save_persistent_id)
    return BenchPickler


def _sub_dispatch_entry(base):
    # A `dispatch` entry for one type the data does not contain: what it
    # costs the other types.  (The C pickler has no `dispatch`.)
    class BenchPickler(base):
        dispatch = dict(getattr(base, "dispatch", {}))
        dispatch[Unrelated] = _save_unrelated
    return BenchPickler


def _unsub_persistent_load(base):
    class BenchUnpickler(base):
        def persistent_load(self, pid):
            raise AssertionError("no persistent ids were written")
    return BenchUnpickler


def _unsub_find_class(base):
    class BenchUnpickler(base):
        def find_class(self, module, name):
            return super().find_class(module, name)
    return BenchUnpickler


def _unsub_plain(base):
    return base


_SUBCLASS_CACHE = {}


def _subclass(factory, base):
    key = (factory, base)
    cls = _SUBCLASS_CACHE.get(key)
    if cls is None:
        cls = _SUBCLASS_CACHE[key] = factory(base)
    return cls


def subclass_dumps_factory(pfactory):
    def dumps_runner(cand, obj, protocol):
        P = _subclass(pfactory, cand.Pickler)
        BytesIO = io.BytesIO

        def run(n):
            for _ in repeat(None, n):
                f = BytesIO()
                P(f, protocol).dump(obj)
        return run

    def dumps_once(cand, obj, protocol):
        P = _subclass(pfactory, cand.Pickler)
        f = io.BytesIO()
        P(f, protocol).dump(obj)
        return f.getvalue()
    return dumps_runner, dumps_once


def subclass_loads_factory(ufactory):
    def loads_runner(cand, blob):
        U = _subclass(ufactory, cand.Unpickler)
        BytesIO = io.BytesIO

        def run(n):
            for _ in repeat(None, n):
                U(BytesIO(blob)).load()
        return run
    return loads_runner


# ---------------------------------------------------------------------------

class Workload:
    """One object graph and how each candidate pickles / unpickles it.

    units: number of items per operation (calls, records) for per-item times.
    kind:  'plain', 'oob', 'tiny' or 'subclass' (reporting/targets).
    """

    def __init__(self, name, group, make, kind="plain", units=1,
                 unit_name="op", needs_numpy=False, description="",
                 dumps_runner=plain_dumps, dumps_once=plain_dumps_once,
                 loads_runner=plain_loads, dumps_baseline=None,
                 loads_baseline=None, py_ok=True):
        self.name = name
        self.group = group
        self.make = make
        self.kind = kind
        self.units = units
        self.unit_name = unit_name
        self.needs_numpy = needs_numpy
        self.description = description
        self.dumps_runner = dumps_runner
        self.dumps_once = dumps_once
        self.loads_runner = loads_runner
        self.dumps_baseline = dumps_baseline
        self.loads_baseline = loads_baseline
        self.py_ok = py_ok

    def __repr__(self):
        return f"<Workload {self.name}>"


def _records_units(scale):
    return max(10, int(100_000 * scale))


def _instances_units(scale):
    return max(10, int(20_000 * scale))


def build_workloads(scale=1.0):
    """The main workload table.  ``scale`` shrinks record counts (quick mode,
    callgrind); the per-record/per-call figures stay comparable."""
    nrec = _records_units(scale)
    ninst = _instances_units(scale)
    nsmall = max(10, int(10000 * min(1.0, scale * 2)))
    nsub = max(10, int(5000 * scale))
    large = int((8 << 20) * min(1.0, max(scale, 1 / 8)))
    W = Workload
    pid_d, pid_once = subclass_dumps_factory(_sub_persistent_id)
    ro_d, ro_once = subclass_dumps_factory(_sub_reducer_override)
    dt_d, dt_once = subclass_dumps_factory(_sub_dispatch_table)
    sv_d, sv_once = subclass_dumps_factory(_sub_save_passthrough)
    de_d, de_once = subclass_dumps_factory(_sub_dispatch_entry)
    return [
        W("pp_pickle", "pyperf", lambda: make_pp_pickle(scale),
          description="pyperformance `pickle`-like: 4 nested profile dicts "
                      "(str, ints, floats, datetime, date, tuples, bytes)"),
        W("pp_pickle_dict", "pyperf", lambda: make_pp_pickle_dict(scale),
          description="pyperformance `pickle_dict`-like: dict of 2000 small entries"),
        W("pp_pickle_list", "pyperf", lambda: make_pp_pickle_list(scale),
          description="pyperformance `pickle_list`-like: list of 1000 small lists"),
        W("json_records", "records", lambda: make_records(nrec), units=nrec,
          unit_name="record",
          description=f"{nrec} JSON-like small dicts"),
        W("inst_plain", "instances", lambda: make_instances(PlainObj, ninst),
          units=ninst, unit_name="object",
          description=f"{ninst} plain class instances (__dict__)"),
        W("inst_dataclass", "instances", lambda: make_instances(DataObj, ninst),
          units=ninst, unit_name="object",
          description=f"{ninst} dataclass instances"),
        W("inst_slots", "instances", lambda: make_instances(SlotsObj, ninst),
          units=ninst, unit_name="object",
          description=f"{ninst} __slots__ instances"),
        W("inst_reduce", "instances", lambda: make_instances(ReduceObj, ninst),
          units=ninst, unit_name="object",
          description=f"{ninst} instances with __reduce__"),
        W("np_large_inband", "numpy", lambda: make_large_array(large),
          needs_numpy=True, units=large, unit_name="byte",
          description=f"one {large >> 20} MiB float64 array, in-band"),
        W("np_large_oob", "numpy", lambda: make_large_array(large),
          kind="oob", needs_numpy=True, units=large, unit_name="byte",
          dumps_runner=oob_dumps, dumps_once=oob_dumps_once,
          loads_runner=oob_loads,
          description=f"one {large >> 20} MiB float64 array, out-of-band (buffer_callback)"),
        W("np_small_arrays", "numpy", lambda: make_small_arrays(nsmall / 10000),
          needs_numpy=True, units=nsmall, unit_name="array",
          description=f"{nsmall} arrays of 100 float64"),
        W("np_sci_record", "numpy", lambda: make_scientific_record(scale),
          needs_numpy=True,
          description="dict of 6 arrays (float32 2-D, bool, int64, complex, "
                      "datetime64, non-contiguous) + metadata"),
        W("tiny_tuples", "tiny", make_tiny_tuples, kind="tiny", units=1000,
          unit_name="call", dumps_runner=tiny_dumps,
          dumps_once=tiny_dumps_once, loads_runner=tiny_loads,
          dumps_baseline=tiny_dumps_baseline,
          loads_baseline=tiny_loads_baseline,
          description="1000 separate dumps/loads calls of small tuples"),
        W("tiny_ints", "tiny", make_tiny_ints, kind="tiny", units=1000,
          unit_name="call", dumps_runner=tiny_dumps,
          dumps_once=tiny_dumps_once, loads_runner=tiny_loads,
          dumps_baseline=tiny_dumps_baseline,
          loads_baseline=tiny_loads_baseline,
          description="1000 separate dumps/loads calls of ints"),
        W("sub_persistent_id", "subclass", lambda: make_subclass_data(scale),
          kind="subclass", units=2 * nsub, unit_name="record",
          dumps_runner=pid_d, dumps_once=pid_once,
          loads_runner=subclass_loads_factory(_unsub_persistent_load),
          description="Pickler subclass with Python persistent_id -> None "
                      "(loads: Unpickler subclass with persistent_load)"),
        W("sub_reducer_override", "subclass", lambda: make_subclass_data(scale),
          kind="subclass", units=2 * nsub, unit_name="record",
          dumps_runner=ro_d, dumps_once=ro_once,
          loads_runner=subclass_loads_factory(_unsub_find_class),
          description="Pickler subclass with Python reducer_override -> "
                      "NotImplemented (loads: Unpickler subclass with find_class)"),
        W("sub_dispatch_table", "subclass", lambda: make_subclass_data(scale),
          kind="subclass", units=2 * nsub, unit_name="record",
          dumps_runner=dt_d, dumps_once=dt_once,
          loads_runner=subclass_loads_factory(_unsub_plain),
          description="Pickler subclass with a class-level dispatch_table "
                      "(loads: Unpickler(file).load())"),
        W("surf_save_passthrough", "surface", lambda: make_subclass_data(scale),
          kind="surface", units=2 * nsub, unit_name="record",
          dumps_runner=sv_d, dumps_once=sv_once, loads_runner=None,
          description="Pickler subclass overriding save() with a pass-through "
                      "(pure-Python surface; C: plain subclass, save() unused)"),
        W("surf_dispatch_entry", "surface", lambda: make_subclass_data(scale),
          kind="surface", units=2 * nsub, unit_name="record",
          dumps_runner=de_d, dumps_once=de_once, loads_runner=None,
          description="Pickler subclass with a `dispatch` entry for a type "
                      "the data does not contain (C: plain subclass)"),
    ]


def get_workload(name, scale=1.0):
    for w in build_workloads(scale):
        if w.name == name:
            return w
    raise KeyError(name)


def prepare(w, ref_cand, protocol):
    """Build the object and the reference pickle (the C pickler's output)."""
    obj = w.make()
    if w.kind == "tiny":
        blob = [ref_cand.dumps(x, protocol) for x in obj]
    elif w.kind == "oob":
        blob = oob_dumps_once(ref_cand, obj, protocol)
    else:
        blob = w.dumps_once(ref_cand, obj, protocol)
    return obj, blob
