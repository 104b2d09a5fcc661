"""Differential tests: ``pickler`` must write exactly what ``_pickle`` writes.

Every case goes through ``difftools.check``, which for each protocol 0..5
compares ``dumps()``, ``Pickler(BytesIO()).dump()`` and the exact sequence of
``write()`` calls on a recording file object (payloads of 64 KiB and more go
to ``file.write()`` directly), plus the PickleBuffers handed to
``buffer_callback`` when one is given.  Objects come from an explicit
edge-case corpus and from Hypothesis-generated object graphs (with shared
references and cycles).  The number of objects and comparisons is printed at
the end of the run (see conftest.py).
"""
import _compat_pickle
import _pickle
import array
import collections
import copyreg
import decimal
import functools
import importlib
import io
import operator
import pickle
import warnings

import pytest
from hypothesis import given, settings, strategies as st

import pickler
from difftools import PROTOCOLS, check
from fixtures import (
    DC,
    A,
    Color,
    Empty,
    GetNewArgsEx,
    Plain,
    Point,
    RecordingFile,
    SixTuple,
    SlotsWithGetstate,
    StateTuple,
    WithReduce,
    corpus_containers,
    corpus_objects,
    corpus_recursive,
    corpus_scalars,
    corpus_slots,
    graphs,
    module_function,
    numpy_arrays,
)

try:
    import numpy as np
except ImportError:  # pragma: no cover
    np = None

needs_numpy = pytest.mark.skipif(np is None, reason="numpy is not installed")

def test_int_too_long_for_text_protocols():
    # Protocols 0 and 1 write ints as decimal text, which the interpreter's
    # int max_str_digits limit (4300 digits by default) refuses: ValueError.
    for v in (2 ** 20000, -(10 ** 5000)):
        refs = check(v, protocols=(0, 1), expect_ok=False)
        assert all(r.exc is ValueError for r in refs)
        check(v, protocols=(2, 3, 4, 5))


def _params(gen):
    return [pytest.param(obj, id=name) for name, obj in gen()]


@pytest.mark.parametrize("obj", _params(corpus_containers))
def test_containers(obj):
    check(obj)


@pytest.mark.parametrize("obj", _params(corpus_scalars))
def test_scalars(obj):
    check(obj)


@pytest.mark.parametrize("obj", _params(corpus_objects))
def test_objects(obj):
    check(obj)


@pytest.mark.parametrize("obj", _params(corpus_slots))
def test_slots_and_low_protocols(obj):
    check(obj, protocols=(2, 3, 4, 5))
    refs = check(obj, protocols=(0, 1), expect_ok=False)
    assert all(r.exc in (TypeError, RecursionError) for r in refs)


@pytest.mark.parametrize("obj", _params(corpus_recursive))
def test_recursive(obj):
    check(obj)


@pytest.mark.parametrize("proto", [None, -1, -5, True, False,
                                   pickle.HIGHEST_PROTOCOL])
def test_protocol_argument_forms(proto):
    check([1, "a", (b"b",), {2.5}], protocols=[proto])


@pytest.mark.parametrize("obj", [[1, "x", {"k": (b"v", 2.5)}], Plain(),
                                 functools.reduce, collections.UserDict])
def test_fix_imports_false(obj):
    check(obj, fix_imports=False)


def test_big_payloads_in_containers():
    # Several payloads around the 64 KiB frame / direct-write threshold
    # inside one pickle, mixing buffered and bypassed writes.
    objs = [b"a" * 65535, "b" * 65536, bytearray(b"c" * 65537), b"small",
            "é" * 40000, b"d" * 70000, ("e" * 10,) * 3, b"f" * 200000]
    check(objs)
    check(objs * 2)
    check({"x": objs, "y": objs[::-1]})


def test_memo_across_dumps():
    """A reused Pickler keeps its memo between dump() calls (the second dump
    emits memo GETs), unless clear_memo() is called."""
    shared = ["shared", ("t",)]

    def run(impl, proto, clear):
        f = RecordingFile()
        p = impl.Pickler(f, proto)
        p.dump(shared)
        if clear:
            p.clear_memo()
        p.dump([shared, shared])
        p.dump("shared")
        return f.calls

    for proto in PROTOCOLS:
        for clear in (False, True):
            assert run(pickler, proto, clear) == run(_pickle, proto, clear)


def test_large_memo_every_object_found_again():
    """A memo of ~150 000 objects of different sizes (allocated interleaved,
    so their addresses collide in the table and whole probe groups fill up),
    each pickled once and then referenced again in another order: every
    second reference must be a memo GET with the index _pickle gives, at
    every table size the memo grows through."""
    import random
    objs = []
    for i in range(50_000):
        objs.append(f"s{i}")
        objs.append([i])
        objs.append(("t", i, "x" * (i % 50)))
    again = objs[:]
    random.Random(1).shuffle(again)
    data = [objs, again]
    for proto in (1, 2, 5):
        assert pickler.dumps(data, proto) == _pickle.dumps(data, proto)
        ours = pickler.Pickler(io.BytesIO(), proto)
        ours.dump(data)
        theirs = _pickle.Pickler(io.BytesIO(), proto)
        theirs.dump(data)
        assert ours.memo.copy() == theirs.memo.copy()


def test_memo_assignment():
    """Assigning one pickler's memo to another pickler carries the memo."""
    obj = ["abc", ("tuple",)]

    def run(impl, proto):
        p1 = impl.Pickler(io.BytesIO(), proto)
        p1.dump(obj)
        f = io.BytesIO()
        p2 = impl.Pickler(f, proto)
        p2.memo = p1.memo
        p2.dump(obj)
        return f.getvalue()

    for proto in PROTOCOLS:
        assert run(pickler, proto) == run(_pickle, proto)


# ---------------------------------------------------------------------------
# copyreg extension codes.
# ---------------------------------------------------------------------------
class Ext1:
    pass


class Ext2:
    pass


class Ext3:
    pass


class Ext4:
    pass


class Ext5:
    pass


class Ext6:
    pass


EXTENSIONS = [(Ext1, 1), (Ext2, 0xff), (Ext3, 0x100), (Ext4, 0xffff),
              (Ext5, 0x10000), (Ext6, 0x7fffffff), (A.B.C, 0x1234)]


@pytest.fixture
def extension_codes():
    added = []
    try:
        for cls, code in EXTENSIONS:
            key = (cls.__module__, cls.__qualname__)
            assert key not in copyreg._extension_registry
            assert code not in copyreg._inverted_registry
            copyreg.add_extension(cls.__module__, cls.__qualname__, code)
            added.append((cls, code))
        yield
    finally:
        for cls, code in added:
            copyreg.remove_extension(cls.__module__, cls.__qualname__, code)


@pytest.mark.parametrize("cls,code", EXTENSIONS,
                         ids=[f"code-{c:#x}" for _, c in EXTENSIONS])
def test_extension_codes(extension_codes, cls, code):
    check(cls)
    check([cls, cls()])


def test_extension_codes_all_together(extension_codes):
    check([cls for cls, _ in EXTENSIONS] * 2)


# ---------------------------------------------------------------------------
# fix_imports: names renamed between Python 2 and 3 (protocols < 3).
# ---------------------------------------------------------------------------
def _compat_objects():
    seen = []
    names = list(_compat_pickle.REVERSE_NAME_MAPPING)
    for module in _compat_pickle.REVERSE_IMPORT_MAPPING:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")   # e.g. deprecated tkinter.tix
                mod = importlib.import_module(module)
        except Exception:
            continue
        # a few public classes/functions of every renamed module
        pub = [n for n in sorted(vars(mod)) if not n.startswith("_")]
        names.extend((module, n) for n in pub[:3])
    for module, qualname in names:
        try:
            obj = importlib.import_module(module)
            for part in qualname.split("."):
                obj = getattr(obj, part)
        except Exception:
            continue  # module not built on this interpreter (e.g. _gdbm)
        if not isinstance(obj, (type, type(len))) and not callable(obj):
            continue
        if _pickle_fails(obj):
            continue  # e.g. names that are aliases pickled under another name
        seen.append(pytest.param(obj, id=f"{module}.{qualname}"))
    return seen


def _pickle_fails(obj):
    try:
        for proto in (0, 1, 2):
            _pickle.dumps(obj, proto)
    except Exception:
        return True
    return False


COMPAT_OBJECTS = _compat_objects()


def test_compat_corpus_is_not_empty():
    assert len(COMPAT_OBJECTS) > 50


@pytest.mark.parametrize("obj", COMPAT_OBJECTS)
def test_fix_imports_mapping(obj):
    check(obj, protocols=(0, 1, 2, 3), modes=("dumps", "bytesio"))
    check(obj, protocols=(0, 1, 2), modes=("dumps",), fix_imports=False)


def test_fix_imports_instances():
    objs = [collections.UserDict({1: 2}), collections.UserList([1]),
            ModuleNotFoundError("m"), ConnectionRefusedError(1, "x"),
            TimeoutError("t"), collections.OrderedDict(a=1),
            functools.partial(functools.reduce, operator.add), range(3),
            b"bytes go through codecs.encode", bytearray(b"ba")]
    check(objs, protocols=(0, 1, 2))
    check(objs, protocols=(0, 1, 2), fix_imports=False)


# ---------------------------------------------------------------------------
# Protocol 5: PickleBuffer and out-of-band buffers, numpy.
# ---------------------------------------------------------------------------
def picklebuffers():
    yield "bytes", pickle.PickleBuffer(b"abc")
    yield "bytearray", pickle.PickleBuffer(bytearray(b"abcd"))
    yield "memoryview-bytes", pickle.PickleBuffer(memoryview(b"xyz" * 10))
    yield "memoryview-bytearray", pickle.PickleBuffer(memoryview(bytearray(10)))
    yield "empty", pickle.PickleBuffer(b"")
    yield "big-readonly", pickle.PickleBuffer(b"r" * 70000)
    yield "big-writable", pickle.PickleBuffer(bytearray(b"w" * 70000))
    yield "2d-c-contiguous", pickle.PickleBuffer(
        memoryview(bytearray(range(12))).cast("B", (3, 4)))
    yield "typed-memoryview", pickle.PickleBuffer(
        memoryview(array.array("i", range(5))))
    pb = pickle.PickleBuffer(bytearray(b"shared"))
    yield "shared-twice", [pb, pb, (pb,)]


@pytest.mark.parametrize("pb", _params(picklebuffers))
def test_picklebuffer(pb):
    check(pb, protocols=(5,))
    check(pb, protocols=(5,), oob="none")
    check(pb, protocols=(5,), oob="true")
    # protocols < 5 refuse PickleBuffer: same exception type
    refs = check(pb, protocols=(0, 1, 2, 3, 4), expect_ok=False)
    assert all(r.exc is pickle.PicklingError for r in refs)


def test_noncontiguous_picklebuffer():
    # _pickle refuses a non-contiguous PickleBuffer even out-of-band
    # (PicklingError before the callback is called).
    base = bytearray(range(20))
    pb = pickle.PickleBuffer(memoryview(base)[::2])
    for oob in (None, "none", "true"):
        refs = check([b"head", pb], protocols=(5,), oob=oob, expect_ok=False)
        assert all(r.exc is pickle.PicklingError for r in refs)


@needs_numpy
@pytest.mark.parametrize("arr", _params(numpy_arrays))
def test_numpy(arr):
    check(arr)
    check(arr, protocols=(5,), oob="none")
    check(arr, protocols=(5,), oob="true")


@needs_numpy
def test_numpy_mixed_container_out_of_band():
    arrays = [np.arange(n, dtype=np.float32) for n in (0, 1, 1000, 30000)]
    obj = {"arrays": arrays, "meta": [b"x" * 70000, "y"], "again": arrays[2]}
    check(obj, protocols=(5,), oob="none")
    check(obj, protocols=(5,), oob="true")
    check(obj)


# ---------------------------------------------------------------------------
# Pickler subclasses: persistent_id, reducer_override, dispatch_table, fast.
# ---------------------------------------------------------------------------
def _pid(obj):
    if isinstance(obj, str) and obj.startswith("pid:"):
        return obj[4:]
    if isinstance(obj, Empty):
        return ("empty", 1)
    return None


def reduce_plain(obj):
    return (Plain, (obj.x,))


def _subclass_factory(body):
    cache = {}

    def factory(impl, f, proto, **kw):
        if impl not in cache:
            cache[impl] = type("Sub", (impl.Pickler,), dict(body))
        return cache[impl](f, proto, **kw)
    return factory


HOOK_DATA = ["pid:abc", "plain", Empty(), [Empty(), "pid:x"], Plain(2),
             WithReduce(1), module_function, Plain, 3, 2.5, b"b", None]


def test_persistent_id_method():
    factory = _subclass_factory({"persistent_id": lambda self, o: _pid(o)})
    check(HOOK_DATA, pickler_factory=factory)


def test_persistent_id_protocol0_needs_ascii_str():
    # protocol 0 writes persistent ids as text: non-str ids and non-ASCII
    # ids must fail in the same way.
    for pid in (("t", 1), 5, "ü"):
        factory = _subclass_factory(
            {"persistent_id": lambda self, o, pid=pid: pid if o == "P" else None})
        check(["P"], protocols=(0,), pickler_factory=factory, expect_ok=False)


def test_persistent_id_instance_attribute():
    def factory(impl, f, proto, **kw):
        p = type("Sub", (impl.Pickler,), {})(f, proto, **kw)
        p.persistent_id = _pid
        return p
    check(HOOK_DATA, pickler_factory=factory)


def test_reducer_override():
    def override(self, obj):
        if isinstance(obj, Plain):
            return (Plain, ("overridden",))
        if obj is module_function:
            return (str, ("function replaced",))
        return NotImplemented
    factory = _subclass_factory({"reducer_override": override})
    check(HOOK_DATA, pickler_factory=factory)


def test_reducer_override_sees_what_c_pickler_passes():
    """Record which objects reducer_override is called with: the C pickler
    skips it for atoms and some exact builtin types."""
    corpus = [1, 2.0, "s", b"b", None, True, bytearray(b"x"), (1,), [1],
              {1: 2}, {1}, frozenset([2]), Plain(), Plain, module_function,
              len, Color.RED, pickle.PickleBuffer(b"pb"), 2 ** 100, 1j]
    for proto in PROTOCOLS:
        calls = {}
        for impl in (pickler, _pickle):
            seen = []

            class Sub(impl.Pickler):
                def reducer_override(self, obj):
                    seen.append(type(obj).__name__)
                    return NotImplemented
            try:
                Sub(io.BytesIO(), proto).dump(corpus)
            except pickle.PicklingError:
                # PickleBuffer with protocol < 5
                Sub(io.BytesIO(), proto).dump(corpus[:-3])
            calls[impl.__name__] = seen
        assert calls["pickler"] == calls["_pickle"], proto


def test_dispatch_table_instance():
    def factory(impl, f, proto, **kw):
        p = impl.Pickler(f, proto, **kw)
        p.dispatch_table = {Plain: reduce_plain, Empty: lambda o: (Empty, ())}
        return p
    check(HOOK_DATA, pickler_factory=factory)


def test_dispatch_table_class_level():
    table = copyreg.dispatch_table.copy()
    table[Plain] = reduce_plain
    factory = _subclass_factory({"dispatch_table": table})
    check(HOOK_DATA, pickler_factory=factory)


def test_dispatch_table_chainmap():
    def factory(impl, f, proto, **kw):
        p = impl.Pickler(f, proto, **kw)
        p.dispatch_table = collections.ChainMap({Plain: reduce_plain},
                                                copyreg.dispatch_table)
        return p
    check(HOOK_DATA + [1j, Color.GREEN], pickler_factory=factory)


def test_all_hooks_together():
    def override(self, obj):
        return (int, (7,)) if isinstance(obj, WithReduce) else NotImplemented
    factory = _subclass_factory({
        "persistent_id": lambda self, o: _pid(o),
        "reducer_override": override,
        "dispatch_table": {Plain: reduce_plain},
    })
    check(HOOK_DATA, pickler_factory=factory)


@pytest.mark.parametrize("obj,ok", [
    ([1, "a", (2, "b"), {"k": [b"v"]}], True),
    (["same"] * 3 + [("t",)] * 2, True),                # duplicates, no memo
    (list(range(3000)), True), ({i: str(i) for i in range(1500)}, True),
    (Plain(), True), ([Plain()] * 2, True),
    # a state_setter reduce saves the object again after itself; without a
    # memo _pickle recurses until RecursionError
    (SixTuple(), False),
], ids=["plain", "dups", "list3000", "dict1500", "instance", "instances", "six"])
def test_fast_mode(obj, ok):
    def factory(impl, f, proto, **kw):
        p = impl.Pickler(f, proto, **kw)
        p.fast = True
        return p
    check(obj, pickler_factory=factory, expect_ok=ok)


def test_bin_attribute():
    def factory(impl, f, proto, **kw):
        p = impl.Pickler(f, proto, **kw)
        p.bin = 0 if proto else 1
        return p
    check([1, "a", 2.5, [None]], pickler_factory=factory)


@given(graphs())
def test_generated_graphs(obj):
    check(obj, kind="hypothesis")


@given(st.lists(st.one_of(st.integers(0, 70000).map(lambda n: b"b" * n),
                          st.integers(0, 70000).map(lambda n: "s" * n),
                          st.integers(0, 40000).map(lambda n: "\u20ac" * n),
                          st.integers(0, 70000).map(lambda n: bytearray(n)),
                          st.integers()),
                max_size=8))
@settings(max_examples=max(10, settings().max_examples // 5))
def test_generated_framing(obj):
    """Payload sizes around the 64 KiB frame target and direct-write
    threshold."""
    check(obj, kind="hypothesis")


@given(st.lists(st.sampled_from([Plain(), Empty(), WithReduce(1), SlotsWithGetstate(),
                                 DC(1), Color.RED, Point(1, 2), A.B.C,
                                 module_function, len, SixTuple(),
                                 GetNewArgsEx(1, b=2), StateTuple(),
                                 decimal.Decimal("1.5"), 1j, "s", b"b"]),
                max_size=10))
def test_generated_instance_lists(obj):
    check(obj, kind="hypothesis")


if np is not None:
    dtypes = st.sampled_from(["f8", "i1", "u2", ">i4", "c16", "?", "M8[D]",
                              "S3", "U2"])

    @st.composite
    def numpy_arrays_st(draw):
        dt = np.dtype(draw(dtypes))
        shape = draw(st.lists(st.integers(0, 5), max_size=3))
        n = int(np.prod(shape)) * dt.itemsize
        raw = draw(st.binary(min_size=n, max_size=n))
        arr = np.frombuffer(raw, dtype=dt).reshape(shape).copy()
        if arr.ndim >= 1 and draw(st.booleans()):
            arr = arr[::2]
        if arr.ndim == 2 and draw(st.booleans()):
            arr = arr.T
        return arr

    @given(st.lists(numpy_arrays_st(), max_size=4),
           st.sampled_from([None, "none", "true"]))
    def test_generated_numpy(arrays, oob):
        check(arrays, protocols=(5,) if oob else PROTOCOLS, oob=oob,
              kind="hypothesis")
