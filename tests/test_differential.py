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
import dataclasses
import datetime
import decimal
import enum
import fractions
import functools
import importlib
import io
import math
import operator
import pathlib
import pickle
import re
import typing
import uuid
import warnings

import pytest
from hypothesis import given, settings, strategies as st

import difftools
import pickler
from difftools import PROTOCOLS, check

try:
    import numpy as np
except ImportError:  # pragma: no cover
    np = None

needs_numpy = pytest.mark.skipif(np is None, reason="numpy is not installed")

MOD = __name__   # the module name pickles refer to for the classes below


# ---------------------------------------------------------------------------
# Module-level classes and functions (picklable by reference).
# ---------------------------------------------------------------------------
class A:
    class B:
        class C:
            def method(self):
                return 1

        def method(self):
            return 2

    @classmethod
    def cmethod(cls):
        return cls

    @staticmethod
    def smethod():
        return 3


def module_function(*args, **kwargs):
    return args, kwargs


class Plain:
    def __init__(self, x=1):
        self.x = x
        self.y = ["y", x]


class Empty:
    pass


class WithReduce:
    def __init__(self, a):
        self.a = a

    def __reduce__(self):
        return (WithReduce, (self.a,))


class ReduceToString:
    def __reduce__(self):
        return "REDUCED_TO_STRING"


REDUCED_TO_STRING = ReduceToString()


class WithReduceEx:
    def __init__(self, proto=None):
        self.proto = proto

    def __reduce_ex__(self, proto):
        return (WithReduceEx, (proto,), {"seen": proto})


class GetNewArgs:
    def __new__(cls, a=0):
        self = super().__new__(cls)
        self.a = a
        return self

    def __getnewargs__(self):
        return (self.a,)


class GetNewArgsEx:
    def __new__(cls, a=0, *, b=1):
        self = super().__new__(cls)
        self.a, self.b = a, b
        return self

    def __getnewargs_ex__(self):
        return (self.a,), {"b": self.b}


class GetNewArgsExNoKw(GetNewArgsEx):
    def __getnewargs_ex__(self):
        return (self.a,), {}


class StateTuple:
    def __init__(self):
        self.v = [1, 2]

    def __getstate__(self):
        return (self.v, "extra")

    def __setstate__(self, state):
        self.v = state[0]


class StateFalsy:
    """__getstate__ returning a false value: no BUILD opcode."""
    def __getstate__(self):
        return 0

    def __setstate__(self, state):
        pass


class Slots:
    __slots__ = ("a", "b", "c")

    def __init__(self, a=None, b=None):
        self.a = a
        if b is not None:
            self.b = b


class SlotsAndDict:
    __slots__ = ("a", "__dict__")

    def __init__(self):
        self.a = 1
        self.z = "dict"


class SlotsWithGetstate:
    __slots__ = ("a",)

    def __init__(self):
        self.a = 5

    def __getstate__(self):
        return {"a": self.a}

    def __setstate__(self, st):
        self.a = st["a"]


def set_state(obj, state):
    obj.__dict__.update(state)


class SixTuple:
    def __reduce__(self):
        return (SixTuple, (), {"k": "v"}, None, None, set_state)


class ReduceItems:
    """__reduce__ with listitems/dictitems iterators (a list/dict subclass
    pickled through the generic APPEND/SETITEM batching)."""
    def __init__(self, n=0):
        self.n = n

    def __reduce__(self):
        return (ReduceItems, (), None, iter(range(self.n)),
                iter([(i, str(i)) for i in range(self.n)]))

    def append(self, x):
        pass

    def extend(self, x):
        pass

    def __setitem__(self, k, v):
        pass


class NewObjReduce:
    def __reduce__(self):
        return (copyreg.__newobj__, (NewObjReduce,), {"n": 1})


class NewObjExReduce:
    def __reduce_ex__(self, proto):
        return (copyreg.__newobj_ex__, (NewObjExReduce, (), {}), None)


class MyList(list):
    pass


class MyDict(dict):
    pass


class MySet(set):
    pass


class MyFrozenSet(frozenset):
    pass


class MyTuple(tuple):
    pass


class MyStr(str):
    pass


class MyBytes(bytes):
    pass


class MyInt(int):
    pass


class MyFloat(float):
    pass


class Meta(type):
    pass


class WithMeta(metaclass=Meta):
    pass


@dataclasses.dataclass
class DC:
    a: int
    b: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class FrozenDC:
    a: int
    b: str = "b"


@dataclasses.dataclass(slots=True)
class SlotsDC:
    a: int
    b: tuple = ()


class Color(enum.Enum):
    RED = 1
    GREEN = "green"


class Num(enum.IntEnum):
    ONE = 1
    BIG = 2 ** 40


class Perm(enum.Flag):
    R = 4
    W = 2
    X = 1


Point = collections.namedtuple("Point", "x y")


class TypedPoint(typing.NamedTuple):
    x: int
    y: float = 0.0


class CustomError(Exception):
    pass


# ---------------------------------------------------------------------------
# Integers, floats, strings, bytes.
# ---------------------------------------------------------------------------
def _int_edges():
    vals = set()
    # 30: ints of one 30-bit digit are read from the object directly.
    for b in (7, 8, 15, 16, 30, 31, 32, 63, 64, 127, 128, 255, 256, 1000,
              8 * 255, 8 * 256, 8 * 257, 10000):
        for base in (2 ** b, -(2 ** b)):
            vals.update((base - 1, base, base + 1))
    vals.update((0, 1, -1, 255, 256, 65535, 65536, 2 ** 31 - 1, -2 ** 31,
                 2 ** 31, -2 ** 31 - 1, 2 ** 63, -2 ** 63, 2 ** 64, 10 ** 100,
                 -10 ** 100, 3 ** 5000, -(7 ** 4000)))
    return sorted(vals)


INT_EDGES = _int_edges()

FLOAT_EDGES = [0.0, -0.0, 1.0, -1.5, math.nan, -math.nan, math.inf, -math.inf,
               1e308, -1e308, 5e-324, 2.2250738585072014e-308, 1 / 3,
               0.1, 1e16, 123456789.123456789, float(2 ** 53 + 1)]

LENGTHS = (0, 1, 2, 255, 256, 257, 65535, 65536, 65537, (1 << 20) + 3)

SPECIAL_CHARS = "\\\n\r\x1a\x00\t'\"\x7f\x80\xff\u0100\u20ac\ud800\udfff\U0001f600"


def _strings():
    out = ["", "a", "\\", "\\u0041", "a\nb", "\r\n", "\x1a", "\0", "\ud800",
           "\udc80abc", "line\\\nnext", SPECIAL_CHARS, "é" * 128, "é" * 127 + "a",
           "€" * 85, "€" * 86, "\U0001f600" * 64]
    for n in LENGTHS:
        out.append("x" * n)
        out.append(("é" * n)[:n])          # 2-byte UTF-8
    # UTF-8 length around the 255/256 and 65535/65536 boundaries with
    # multi-byte characters.
    for n in (254, 255, 256, 65534, 65535, 65536, 65537):
        out.append("é" * (n // 2) + "a" * (n % 2))
    out.append("\\" * 300)
    out.append("\n" * 70000)
    return out


STRINGS = _strings()
BYTESES = [b"\x00" * n for n in LENGTHS] + [bytes(range(256)), b"\\\n\x1a"]


# ---------------------------------------------------------------------------
# The corpus.
# ---------------------------------------------------------------------------
SIZES = (0, 1, 2, 3, 999, 1000, 1001, 2000, 2001)


def corpus_containers():
    for n in SIZES:
        yield f"list{n}", list(range(n))
        yield f"tuple{n}", tuple(range(n))
        yield f"dict{n}", {i: -i for i in range(n)}
        yield f"set{n}", set(range(n))
        yield f"frozenset{n}", frozenset(range(n))
        yield f"strlist{n}", [f"s{i % 7}" for i in range(n)]
        yield f"strdict{n}", {f"k{i}": "v" for i in range(n)}
        yield f"MyList{n}", MyList(range(n))
        yield f"MyDict{n}", MyDict((i, None) for i in range(n))
        yield f"MySet{n}", MySet(range(n))
        yield f"MyFrozenSet{n}", MyFrozenSet(range(n))
        yield f"MyTuple{n}", MyTuple(range(n))
        yield f"ReduceItems{n}", ReduceItems(n)
        yield f"nested-tuple{n}", tuple((i, (i,)) for i in range(n))


def corpus_scalars():
    for v in INT_EDGES:
        yield "int {} bits {}".format(v.bit_length(), "neg" if v < 0 else "pos"), v
    for v in FLOAT_EDGES:
        yield f"float {v!r}", v
    yield "complex", complex(1.5, -2)
    yield "complex-nan", complex(math.nan, -0.0)
    yield "bools", [True, False, None]
    for s in STRINGS:
        yield f"str len {len(s)} {s[:12]!r}", s
    for b in BYTESES:
        yield f"bytes len {len(b)}", b
        yield f"bytearray len {len(b)}", bytearray(b)
    yield "empty-bytearray-shared", [bytearray()] * 3
    yield "MyStr", MyStr("abc")
    yield "MyBytes", MyBytes(b"abc")
    yield "MyInt", MyInt(2 ** 70)
    yield "MyFloat", MyFloat(-0.0)


def _with_attr(obj, **attrs):
    for k, v in attrs.items():
        setattr(obj, k, v)
    return obj


def corpus_objects():
    yield "nested-class", A.B.C
    yield "nested-class-B", A.B
    yield "nested-instance", A.B.C()
    yield "nested-function", A.B.C.method
    yield "classmethod-bound", A.cmethod
    yield "staticmethod", A.smethod
    yield "bound-method", Plain(3).__init__
    yield "module-function", module_function
    yield "builtins", [len, print, int, object, type, type(None), sorted,
                       NotImplemented, Ellipsis, None, bytes, bytearray]
    yield "builtin-methods", [dict.fromkeys, bytes.fromhex, str.upper,
                              int.__add__, object.__init__, [].append,
                              {}.get, "abc".join]
    yield "range-slice", [range(0), range(1, 10, 3), slice(1, None, -1)]
    # typing's aliases are the objects under test here, not annotations
    yield "types", [list[int], typing.List[int], typing.Optional[str],  # noqa: UP006, UP045
                    typing.Dict[str, typing.Tuple[int, ...]]]  # noqa: UP006
    yield "union-type", int | str | None
    yield "Plain", Plain()
    yield "Empty", Empty()
    yield "WithMeta", [WithMeta, WithMeta()]
    yield "WithReduce", WithReduce([1, "a"])
    yield "ReduceToString", [REDUCED_TO_STRING, REDUCED_TO_STRING]
    yield "WithReduceEx", WithReduceEx()
    yield "GetNewArgs", GetNewArgs((1, 2))
    yield "GetNewArgsEx", GetNewArgsEx("a", b=[1])
    yield "GetNewArgsExNoKw", GetNewArgsExNoKw(5)
    yield "StateTuple", StateTuple()
    yield "StateFalsy", StateFalsy()
    yield "SlotsWithGetstate", SlotsWithGetstate()
    yield "SixTuple-state-setter", SixTuple()
    yield "NewObjReduce", NewObjReduce()
    yield "NewObjExReduce", NewObjExReduce()
    yield "MyList-attrs", _with_attr(MyList([1, 2]), note="n")
    yield "MyDict-attrs", _with_attr(MyDict(a=1), note=[1])
    yield "dataclass", DC(1, [DC(2)])
    yield "frozen-dataclass", FrozenDC(3)
    yield "enum", [Color.RED, Color.GREEN, Num.ONE, Num.BIG, Color]
    yield "flag", [Perm.R, Perm.R | Perm.W, Perm(0)]
    yield "namedtuple", [Point(1, 2), TypedPoint(3), Point]
    yield "datetime", [datetime.date(2024, 2, 29), datetime.time(1, 2, 3, 4),
                       datetime.datetime(2000, 1, 1, 0, 0, 0, 1),
                       datetime.datetime(2021, 11, 7, 1, 30, fold=1),
                       datetime.datetime(1, 1, 1, tzinfo=datetime.timezone.utc),
                       datetime.time(23, 59, tzinfo=datetime.timezone(
                           datetime.timedelta(hours=-5), "EST")),
                       datetime.timedelta(-1, 3, 5), datetime.timezone.utc,
                       datetime.datetime.max, datetime.date.min]
    yield "decimal", [decimal.Decimal("1.10"), decimal.Decimal("-0"),
                      decimal.Decimal("NaN"), decimal.Decimal("-sNaN12"),
                      decimal.Decimal("Infinity"), decimal.Decimal(2 ** 100)]
    yield "fraction", [fractions.Fraction(1, 3), fractions.Fraction(-10 ** 30, 7)]
    yield "collections", [collections.OrderedDict([(1, 2), ("a", "b")]),
                          collections.defaultdict(list, {1: [2]}),
                          collections.defaultdict(None),
                          collections.deque([1, 2, 3], maxlen=5),
                          collections.deque(), collections.Counter("hello"),
                          collections.ChainMap({1: 2}, {3: 4}),
                          collections.UserDict({1: 2}),
                          collections.UserList([1]),
                          collections.UserString("s")]
    yield "partial", functools.partial(module_function, 1, k=2)
    yield "partial-nested", functools.partial(
        functools.partial(max, 1), 2, key=abs)
    yield "operator", [operator.itemgetter(1, 2), operator.attrgetter("a.b"),
                       operator.methodcaller("m", 1, k=2), operator.add]
    yield "functools.reduce", functools.reduce
    yield "regex", [re.compile(r"a+\n", re.IGNORECASE), re.compile(b"x")]
    yield "uuid", uuid.UUID(int=2 ** 127 + 12345)
    yield "pathlib", [pathlib.PurePosixPath("/a/b"), pathlib.PureWindowsPath("c:/x")]
    yield "array", [array.array("d", [1.0, -0.0]), array.array("b"),
                    array.array("q", range(10000))]
    yield "exceptions", [ValueError("x"), OSError(2, "no such"), KeyError("k"),
                         StopIteration(1), SystemExit(3),
                         UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad"),
                         ImportError("m", name="mod", path="p"),
                         _with_attr(CustomError("c"), extra=[1])]
    yield "shared-refs", _shared_refs()
    yield "memo-heavy", [("abc", "abc"), ["abc"] * 3, [b"x"] * 3,
                         [(1, 2)] * 3, [frozenset([1])] * 3]


def corpus_slots():
    # Objects of __slots__ classes without __getstate__ (or with an
    # interpreter-provided one) cannot be pickled with protocols 0 and 1.
    yield "Slots-partial", Slots(1)
    yield "Slots-full", Slots([1], (2,))
    yield "Slots-empty", Slots.__new__(Slots)
    yield "SlotsAndDict", SlotsAndDict()
    yield "slots-dataclass", SlotsDC(4, (5,))
    s = Slots()
    s.a = s
    s.b = [s]
    yield "slots-self", s
    ml = MyList()
    ml.append(ml)
    ml.attr = ml
    # protocols 0/1 reduce list subclasses through copyreg._reconstructor,
    # whose arguments contain the list itself: RecursionError
    yield "MyList-self", ml


def _shared_refs():
    s = "shared string"
    b = b"shared bytes"
    t = (s, b)
    lst = [t, t, s]
    d = {"l": lst, "l2": lst}
    return [s, b, t, lst, d, d, (lst, d), frozenset([t])]


def corpus_recursive():
    lst = []
    lst.append(lst)
    yield "list-self", lst

    d = {}
    d["self"] = d
    yield "dict-self", d

    lst2 = []
    t = (lst2, 1)
    lst2.append(t)
    yield "tuple-in-list-cycle", lst2
    yield "tuple-in-list-cycle-from-tuple", t

    lst3 = []
    t3 = (((lst3,),),)
    lst3.append(t3)
    lst3.append(t3)
    yield "deep-tuple-cycle", [t3, lst3]

    a, b = [], []
    a.append(b)
    b.append(a)
    yield "mutual-lists", [a, b]

    p = Plain()
    p.x = p
    yield "instance-self", p

    q = Plain()
    q.y = [q, {"q": q}]
    yield "instance-cycle-via-dict", (q,)

    dd = {}
    dd[1] = [dd, (dd,)]
    yield "dict-list-tuple-cycle", dd

    deep = []
    cur = deep
    for i in range(150):
        nxt = [i]
        cur.append(nxt)
        cur = nxt
    yield "nested-150", deep

    deep_t = ()
    for i in range(150):
        deep_t = (deep_t, i)
    yield "nested-tuples-150", deep_t


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
        f = difftools.RecordingFile()
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


def numpy_arrays():
    if np is None:
        return
    yield "float64", np.linspace(0, 1, 17)
    yield "int8", np.arange(-128, 128, dtype=np.int8)
    yield "complex", np.array([1 + 2j, -0.0 - 1j])
    yield "bool", np.array([True, False, True])
    yield "object", np.array([1, "a", None, (1,)], dtype=object)
    yield "structured", np.array([(1, 2.5, b"ab"), (3, -1.0, b"")],
                                 dtype=[("i", "<i4"), ("f", ">f8"), ("s", "S2")])
    yield "datetime64", np.array(["2020-01-01", "NaT"], dtype="datetime64[ns]")
    yield "timedelta64", np.array([1, 2], dtype="m8[s]")
    yield "0-d", np.array(3.5)
    yield "0-d-big-endian", np.array(7, dtype=">i4")
    yield "empty", np.empty((0, 3))
    yield "fortran", np.asfortranarray(np.arange(12.0).reshape(3, 4))
    yield "non-contiguous", np.arange(100)[::3]
    yield "non-contiguous-2d", np.arange(24).reshape(4, 6)[:, 1:4]
    ro = np.arange(10, dtype=np.uint16)
    ro.setflags(write=False)
    yield "readonly", ro
    yield "big", np.arange(20000, dtype=np.float64)       # 160 KB payload
    yield "unicode", np.array(["ab", "\u20ac"])
    a = np.arange(5)
    yield "shared-array", [a, a, a[1:]]


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


# ---------------------------------------------------------------------------
# Hypothesis: generated object graphs.
# ---------------------------------------------------------------------------
ints = st.one_of(st.integers(-300, 70000), st.sampled_from(INT_EDGES),
                 st.integers())
floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                   st.sampled_from(FLOAT_EDGES))
texts = st.text(alphabet=st.one_of(st.sampled_from(SPECIAL_CHARS),
                                   st.characters(exclude_categories=())),
                max_size=30)
binaries = st.binary(max_size=30)

hashable_atoms = st.one_of(st.none(), st.booleans(), ints, floats, texts,
                           binaries)
atoms = st.one_of(hashable_atoms, binaries.map(bytearray))
hashables = st.recursive(
    hashable_atoms,
    lambda ch: st.one_of(st.lists(ch, max_size=4).map(tuple),
                         st.frozensets(ch, max_size=4)),
    max_leaves=8)
trees = st.recursive(
    atoms,
    lambda ch: st.one_of(
        st.lists(ch, max_size=6),
        st.lists(ch, max_size=6).map(tuple),
        st.dictionaries(hashables, ch, max_size=6),
        st.sets(hashables, max_size=6),
        st.frozensets(hashables, max_size=6)),
    max_leaves=40)


def _collect(obj, out, seen):
    if id(obj) in seen:
        return
    seen.add(id(obj))
    out.append(obj)
    if isinstance(obj, (list, tuple, set, frozenset)):
        for x in obj:
            _collect(x, out, seen)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _collect(k, out, seen)
            _collect(v, out, seen)


@st.composite
def graphs(draw):
    """A tree, then extra edges: shared references to any node (strings,
    bytes, containers) and cycles through lists and dicts, optionally via a
    tuple wrapper (a tuple inside a list that references the list)."""
    root = [draw(trees)]
    nodes = []
    _collect(root, nodes, set())
    mutable = [n for n in nodes if isinstance(n, (list, dict))]
    for _ in range(draw(st.integers(0, 6))):
        dst = draw(st.sampled_from(mutable))
        tgt = draw(st.sampled_from(nodes))
        if draw(st.booleans()):
            tgt = (tgt,) if draw(st.booleans()) else (tgt, dst)
        if isinstance(dst, list):
            dst.insert(draw(st.integers(0, len(dst))), tgt)
        else:
            dst[draw(hashables)] = tgt
    return root


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
