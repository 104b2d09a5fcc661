"""Shared test fixtures: the picklable classes, edge values, object corpus and
Hypothesis strategies that several test modules use (test_differential,
test_deterministic, test_safe), and the recording file objects.

Not a test module (pytest collects only ``test_*.py``).  The classes are pickled
by reference, as ``fixtures.<qualname>``: the test modules import this module by
name (pytest puts ``tests/`` on ``sys.path``), and a subprocess that loads such a
pickle needs ``tests/`` on its path too.  Nothing here may depend on pickler's
behaviour or assert anything: the tests do.
"""
import array
import collections
import copyreg
import dataclasses
import datetime
import decimal
import enum
import fractions
import functools
import io
import math
import operator
import pathlib
import re
import typing
import uuid

from hypothesis import strategies as st

try:
    import numpy as np
except ImportError:  # pragma: no cover
    np = None




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


# ---------------------------------------------------------------------------
# Recording file objects: what the (un)pickler calls, in order.
# ---------------------------------------------------------------------------
class RecordingFile:
    """A file object that records every write() call: the type of the
    argument and its bytes (the C pickler hands large payloads to write()
    as the original object, without copying)."""

    def __init__(self):
        self.calls = []

    def write(self, data):
        self.calls.append((type(data).__name__, bytes(memoryview(data))))
        return memoryview(data).nbytes

    def getvalue(self):
        return b"".join(chunk for _, chunk in self.calls)


class RecordingReader:
    """A file with only the methods named, each call (method, size asked,
    size returned) recorded; `returns` converts what read() returns."""

    def __init__(self, data, methods, returns=bytes):
        self._f = io.BufferedReader(io.BytesIO(data), 8192)
        self.calls = []
        for name in methods:
            setattr(self, name, self._recorded(name, returns))

    def _recorded(self, name, returns):
        method = getattr(self._f, name)

        def call(*args):
            result = method(*args)
            asked = args[0] if args and isinstance(args[0], int) else (
                len(args[0]) if args else None)
            got = len(result) if isinstance(result, bytes) else result
            self.calls.append((name, asked, got))
            return returns(result) if name == "read" else result
        return call
