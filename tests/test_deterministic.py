"""Deterministic pickles and content hashes (pickler/_deterministic.pyx,
docs/hashing.md).

- equal values give identical bytes and hashes, however they were built
  (strings by concatenation, sys.intern or copies; sets with different
  insertion histories; tuples shared or rebuilt), and values that differ in
  one element give different ones (Hypothesis);
- subprocesses with different PYTHONHASHSEED values write the same bytes;
- a pinned table of digests for a corpus of built-in data (the same on
  3.10 to 3.13);
- the differential corpus round-trips through pickle.loads;
- hooks (persistent_id, reducer_override, dispatch_table, the dispatch
  surface) work in this mode; pickler.hash streams into any object with
  update() and hands large payloads to it without copying.
"""
import collections
import copyreg
import hashlib
import io
import math
import os
import pickle
import random
import struct
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given, settings, strategies as st

import fixtures
import pickler

try:
    import numpy as np
except ImportError:  # pragma: no cover
    np = None

needs_numpy = pytest.mark.skipif(np is None, reason="numpy is not installed")

ddumps = pickler.deterministic_dumps

# The property tests draw whole object graphs (about 50 ms an example):
# at most 100 examples each, whatever the profile, to stay within CI's
# per-file budget (the "thorough" profile still gets more).
_EXAMPLES = settings(max_examples=max(100, settings.default.max_examples // 5))


# ---------------------------------------------------------------------------
# Rebuilding a value with different identities and histories.
# ---------------------------------------------------------------------------
def _vary_str(s, rnd):
    choice = rnd.randrange(5)
    if choice == 0:
        return s
    if choice == 1:
        return sys.intern(s)
    if choice == 2:
        return "".join(list(s))                 # a new object when len(s) > 1
    if choice == 3:
        return (s + "\x00")[:-1]                # a new object
    return s.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass")


def _vary_bytes(b, rnd):
    choice = rnd.randrange(3)
    if choice == 0:
        return b
    if choice == 1:
        return bytes(bytearray(b))
    return b"".join([b[:1], b[1:]])


def _pure(x):
    if type(x) in (tuple, frozenset):
        return all(_pure(item) for item in x)
    return type(x) in (str, bytes, int, float, bool, type(None))


def rebuild(x, rnd, memo=None):
    """An equal value of `x` with fresh identities for immutables (or not,
    at random), sets and frozensets built in a shuffled order with extra
    items added and removed (their iteration order differs), and the
    sharing and cycles of mutable objects kept (memo, as deepcopy)."""
    if memo is None:
        memo = {}
    t = type(x)
    if t is str:
        return _vary_str(x, rnd)
    if t is bytes:
        return _vary_bytes(x, rnd)
    if t is int:
        return x if rnd.random() < 0.5 else (x + 2 ** 70) - 2 ** 70
    if t is float:
        return struct.unpack("<d", struct.pack("<d", x))[0]
    if t is tuple:
        if rnd.random() < 0.2 and _pure(x):
            return x        # the same object (only where no mutable is inside)
        return tuple([rebuild(item, rnd, memo) for item in x])
    if t is frozenset:
        items = [rebuild(item, rnd, memo) for item in x]
        rnd.shuffle(items)
        return frozenset(items)
    if id(x) in memo:
        return memo[id(x)]
    if t is list:
        new = memo[id(x)] = []
        new.extend(rebuild(item, rnd, memo) for item in x)
        return new
    if t is dict:
        new = memo[id(x)] = {}
        for k, v in x.items():
            new[rebuild(k, rnd, memo)] = rebuild(v, rnd, memo)
        return new
    if t is set:
        new = memo[id(x)] = set()
        junk = [f"junk{i}" for i in range(rnd.randrange(40))]
        new.update(junk)
        items = [rebuild(item, rnd, memo) for item in x]
        rnd.shuffle(items)
        new.update(items)
        new.difference_update(junk)
        return new
    if t is bytearray:
        new = memo[id(x)] = bytearray(x)
        return new
    return x


@st.composite
def values(draw):
    """Nested data with sets, frozensets, dicts, tuples, strings; shared
    mutable objects and cycles (the differential tests' graphs, from fixtures)."""
    return draw(fixtures.graphs())


@_EXAMPLES
@given(values(), st.randoms(use_true_random=False))
def test_equal_values_give_identical_bytes_and_hashes(obj, rnd):
    data = ddumps(obj)
    other = rebuild(obj, rnd)
    assert ddumps(other) == data
    assert pickler.hash(other) == pickler.hash(obj) == hashlib.sha256(data).hexdigest()
    # A Pickler that pickled something else before writes the same bytes.
    f = io.BytesIO()
    p = pickler.DeterministicPickler(f)
    p.dump(rebuild(obj, rnd))
    p.dump(other)
    assert f.getvalue()[len(f.getvalue()) - len(data):] == data


def _leaves(x, path, out, seen):
    """Paths to the atoms of a tree of lists, tuples and dict values."""
    if id(x) in seen:
        return
    if isinstance(x, (list, dict)):
        seen.add(id(x))
    if type(x) in (list, tuple):
        for i, item in enumerate(x):
            _leaves(item, path + (i,), out, seen)
    elif type(x) is dict:
        for k, v in x.items():
            _leaves(v, path + (k,), out, seen)
    elif type(x) in (int, float, str, bytes, bool, type(None)):
        out.append(path)


def _replace(x, path, new):
    if not path:
        return new
    head, rest = path[0], path[1:]
    if type(x) is tuple:
        items = list(x)
        items[head] = _replace(items[head], rest, new)
        return tuple(items)
    if type(x) is list:
        return [_replace(item, rest, new) if i == head else item
                for i, item in enumerate(x)]
    copy = dict(x)
    copy[head] = _replace(x[head], rest, new)
    return copy


def _same_atom(a, b):
    if type(a) is not type(b):
        return False
    if type(a) is float:
        return struct.pack("<d", a) == struct.pack("<d", b)
    return a == b


_tree_of_atoms = st.recursive(
    fixtures.hashable_atoms,
    lambda ch: st.one_of(st.lists(ch, max_size=5),
                         st.lists(ch, max_size=5).map(tuple),
                         st.dictionaries(fixtures.texts, ch, max_size=5)),
    max_leaves=30)


@_EXAMPLES
@given(_tree_of_atoms, fixtures.hashable_atoms, st.data())
def test_values_differing_in_one_element_differ(tree, new, data):
    root = [tree]
    paths = []
    _leaves(root, (), paths, set())
    if not paths:
        return
    path = data.draw(st.sampled_from(paths))
    old = root
    for step in path:
        old = old[step]
    if _same_atom(old, new):
        return
    changed = _replace(root, path, new)
    assert ddumps(changed) != ddumps(root)
    assert pickler.hash(changed) != pickler.hash(root)


@_EXAMPLES
@given(st.sets(fixtures.hashables, min_size=1, max_size=8), fixtures.hashables)
def test_sets_differing_in_one_element_differ(items, extra):
    if extra in items:
        return
    assert ddumps(items | {extra}) != ddumps(items)
    assert ddumps(frozenset(items | {extra})) != ddumps(frozenset(items))


@_EXAMPLES
@given(values())
def test_loads_gives_an_equal_value(obj):
    data = ddumps(obj)
    back = pickle.loads(data)
    # Re-pickling what was loaded gives the same bytes: the same value,
    # sharing and cycles (== is no test for NaN and cyclic graphs).
    assert ddumps(back) == data


# ---------------------------------------------------------------------------
# Strings, tuples, sets, dicts: the canonicalised cases one by one.
# ---------------------------------------------------------------------------
def test_strings_identity_and_interning_do_not_matter():
    a = "some key"
    b = "".join(["some ", "key"])  # noqa: FLY002 (another object)
    assert a is not b
    assert ddumps([a, a]) == ddumps([a, b]) == ddumps([b, sys.intern("some key")])
    assert ddumps([b"xy", b"xy"]) == ddumps([b"xy", bytes(bytearray(b"xy"))])
    # The standard pickler writes them differently: the test is not void.
    assert pickle.dumps([a, a]) != pickle.dumps([a, b])


def test_tuples_identity_does_not_matter():
    t = ("a", 1, 2.5)
    u = tuple(["a", 1, 2.5])  # noqa: C409 (another object)
    assert ddumps([t, t]) == ddumps([t, u])
    assert ddumps([(1,), (1.0,), (True,)]) != ddumps([(1,), (1,), (1,)])
    assert ddumps((0.0,)) != ddumps((-0.0,))
    nan = float("nan")
    assert ddumps([(nan,), (nan,)]) == ddumps([(nan,), (float("nan"),)])


def test_shared_tuple_dag_stays_linear():
    t = ()
    for _ in range(200):
        t = (t, t)
    data = ddumps(t)
    assert len(data) < 20 * 200
    # The same value built without sharing (equal, distinct tuples at
    # every level) gives the same bytes.
    u = ()
    for _ in range(12):
        u = (u, tuple(list(u)) if u else ())  # noqa: C414 (another object)
    v = ()
    for _ in range(12):
        v = (v, v)
    assert ddumps(u) == ddumps(v)


def test_recursive_tuple_identity_does_not_matter():
    lst = []
    t = (lst,)
    lst.append(t)
    lst2 = []
    lst2.append((lst2,))
    t2 = (lst2,)                # equal to lst2[0], another object
    assert ddumps(t) == ddumps(t2)
    back = pickle.loads(ddumps(t))
    assert back[0][0] is back


def test_mutable_sharing_and_cycles_are_kept():
    shared = [1, 2]
    a = [shared, shared]
    b = [[1, 2], [1, 2]]
    assert ddumps(a) != ddumps(b)          # sharing is part of the value
    back = pickle.loads(ddumps(a))
    assert back[0] is back[1]
    d = {}
    d["self"] = d
    back = pickle.loads(ddumps(d))
    assert back["self"] is back


def test_set_order_is_canonical_for_mixed_types():
    items = [1, "a", b"b", (1, "x"), None, 2.5, frozenset({3}), False, (2,)]
    orders = set()
    rnd = random.Random(5)
    for _ in range(20):
        rnd.shuffle(items)
        s = set()
        s.update([f"junk{i}" for i in range(rnd.randrange(50))])
        s.update(items)
        s.difference_update([f"junk{i}" for i in range(50)])
        orders.add(ddumps(s))
        orders.add(ddumps(frozenset(items)) + b"f")
    assert len(orders) == 2
    assert pickle.loads(ddumps(set(items))) == set(items)


def test_dicts_keep_insertion_order_unless_sort_keys():
    a = {"x": 1, "y": 2}
    b = {"y": 2, "x": 1}
    assert ddumps(a) != ddumps(b)
    assert ddumps(a, sort_keys=True) == ddumps(b, sort_keys=True)
    assert pickler.hash(a, sort_keys=True) == pickler.hash(b, sort_keys=True)
    mixed = {1: "i", "s": 2, (1, 2): 3, None: 4}
    rev = dict(reversed(list(mixed.items())))
    assert ddumps(mixed, sort_keys=True) == ddumps(rev, sort_keys=True)
    assert pickle.loads(ddumps(rev, sort_keys=True)) == mixed


@pytest.mark.parametrize("proto", range(pickle.HIGHEST_PROTOCOL + 1))
def test_every_protocol(proto):
    s1 = {"b", "a", ("t", 1)}
    obj = [s1, frozenset(s1), ("x", "y"), ("x", "y"), {"k": s1}]
    data = ddumps(obj, proto)
    assert pickle.loads(data) == obj
    assert ddumps(rebuild(obj, random.Random(1)), proto) == data
    assert pickler.hash(obj, protocol=proto) == hashlib.sha256(data).hexdigest()


def test_default_protocol_is_fixed():
    assert ddumps(1)[:2] == b"\x80\x05"
    assert ddumps(1) == ddumps(1, 5)


def test_pickler_dump_starts_from_an_empty_memo():
    f = io.BytesIO()
    p = pickler.DeterministicPickler(f)
    p.dump(["abc", (1, 2)])
    start = f.tell()
    p.dump(["abc", (1, 2)])
    assert f.getvalue()[start:] == ddumps(["abc", (1, 2)])
    assert pickle.loads(f.getvalue()[start:]) == ["abc", (1, 2)]


def test_standard_pickler_is_unchanged():
    s = "".join(["a", "b"])  # noqa: FLY002 (another object)
    obj = [s, "ab", {3, 1, 2}]
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        assert pickler.dumps(obj, proto) == pickle.dumps(obj, proto)
    assert "deterministic" not in str(pickler.Pickler.__init__.__doc__ or "")


# ---------------------------------------------------------------------------
# Processes and Python versions.
# ---------------------------------------------------------------------------
def pinned_corpus():
    """Built-in data only: its bytes are the same on 3.10 to 3.13."""
    shared = ["shared", 1]
    cyc = []
    cyc.append(cyc)
    return {
        "atoms": [None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -2 ** 31,
                  2 ** 31, 2 ** 64, -2 ** 100, 0.0, -0.0, 1.5, math.inf, -math.inf,
                  math.nan],
        "str": ["", "a", "\u00e9\u4e2d\U0001f600", "x" * 300, "x" * 70000],
        "bytes": [b"", b"\x00\xff", b"y" * 300, b"y" * 70000],
        "bytearray": bytearray(b"ba"),
        "tuples": [(), (1,), (1, 2), (1, 2, 3), tuple(range(10)), ((1,), (1,))],
        "sets": [set(), {1, 2, 3}, {"a", "b", "c", "dd"}, {b"q", b"r"},
                 {1, "a", (2, "b"), None, 2.5, frozenset({1})}],
        "frozensets": [frozenset(), frozenset({"x", "y"}), frozenset({(1, 2), (3, 4)})],
        "dicts": [{}, {"a": 1, "b": [1, 2]}, {1: "x", (2, 3): {4}}],
        "shared": [shared, shared, cyc],
        "big": list(range(2500)),
        "builtins": [len, int, type(None), range(3), slice(1, 9, 2), complex(1, -2)],
    }


# sha256 of deterministic_dumps(pinned_corpus()[key], protocol); computed
# once, checked on 3.10, 3.11, 3.12 and 3.13.  A change here breaks every
# cache key users derived from pickler.hash: do not update it lightly.
PINNED = {
    ('atoms', 2): "7d4b5fb67a9ea9edd30370b2f29353ced4e36c4b8b9c5386fb6eec09e9e64b0a",
    ('atoms', 4): "ff25a35432c60c463d24a22a69e3321325d8b233576d4bc99f76a629f8a98f53",
    ('atoms', 5): "0e39e8b3163b7ed1e24ffc971e3f7daf982a5692fc9fa3fefefefdff9404c698",
    ('big', 2): "ddf9eb09e709794dccf0f21d94d940abf831c3794f953323848be62665e55c60",
    ('big', 4): "583a1d10b8aa78593442582ce39644789842e433b683d7be79d3c8e1759f114c",
    ('big', 5): "a2292ac146b9d04a36e005f818937ee0abd9805e469689a86d1fb37aff9827aa",
    ('builtins', 2): "4f69db19a179bcb810cd0357c70680952592288ab40227802c59cc47f5bf04c6",
    ('builtins', 4): "4489d1735655547520f3309ee97951978b8643a663a52987a6055e9bae197a04",
    ('builtins', 5): "29aa52da27d0915007f6ac9007060f649e579d36160b7e61a87596b555538881",
    ('bytearray', 2): "15183313c3c11187efffe208a8e2ee425d80971b8928dde3958d74c4688011c5",
    ('bytearray', 4): "cc7c3cd1993f5d6876b5ec6feaba93ecadc5e83b6d862f0bf6bc089b05cadf31",
    ('bytearray', 5): "c1de11e597690c7e3b93bb6ab1a52b02368bbe16d92b6aa08318598c315891e1",
    ('bytes', 2): "c8aadff8a197bfad27a80d34eabb5de0b257c48731997b5259f04dd3f28691c5",
    ('bytes', 4): "6433c37eb3009b330f52dfbd9e6060c870f372d86e3cb3311cc16ae064132a14",
    ('bytes', 5): "5db14988827befa018614521100fa44bb35604e2847be6e1bb90945406cad488",
    ('dicts', 2): "fceeacb64e7bafc482a596c53400234db466302de5aa24af663411bc91e7fb96",
    ('dicts', 4): "f073306a0bd9f5ffcbfb45b1abfe1d588cc3a1c33b5039226bbdaab4925e9c41",
    ('dicts', 5): "9a2bc51c43a51d117ff2e2d73d225393b5b9da6abd435b4e2798ffd794da09fe",
    ('frozensets', 2): "996186159cdb2f6c3d323cf769b7f20b146cffb09bf543d463b44f76b491400b",
    ('frozensets', 4): "a497afde0f66c5dcb01cf020d28b7a60c374fc27191bd11830dbb762a2e1b1fd",
    ('frozensets', 5): "9c74ba6fac0629853f8f4ce8bb9f785d88a6ce1dddc388fb37b1d03bf471a432",
    ('sets', 2): "ff5a7e69e1efafe7c7a0e2ca88a621d57fbdf3e8dc3a1547c8ae35d5d5e90407",
    ('sets', 4): "5f0627414eac15ae3a615d0a72e94ccaef1580f403425c8c76b9ff94be9b742e",
    ('sets', 5): "5a09f4fcb3e4e2f37d7fe6806fea254cfb4824f150eb09fc90f66fdd7dda55b6",
    ('shared', 2): "c1d3ac84ce04e152bddc7561cc5a08c567a4958eb912a46f89de992bf4efd815",
    ('shared', 4): "6b7c11240951ca4e4f6728ad775febcf704920beb155aa1d35e1d1d9f16ba723",
    ('shared', 5): "70707ba3e6f459fc311126a9e8fd04cbec1888aad2a0d014aa7af464d405ba3f",
    ('str', 2): "cc77ad407372590373eb653d14c83ef88c7beca12a5a12e830ba6472aeeaf6c5",
    ('str', 4): "10fc9ffec10deef8f1cc0ce6083f64609974dcb99f2d05f6cfce1541dfc5211d",
    ('str', 5): "d8bd294fc672fa4184ed2824566645b1798f07e152b9743ed5441edb2a8aadf0",
    ('tuples', 2): "aa46cb6b826efdcbbecaebd39214410c81201cbff577ac2b16ca5f3f3cd2c858",
    ('tuples', 4): "a88fa89aad60c745dc43ac162f3675b7c6497f78394dfb2d3573913947a77607",
    ('tuples', 5): "0adefcaa3d99b5c0821080eb969dad9012d1431d240179edaadc695632fa97fa",
}


@pytest.mark.parametrize("key", sorted(pinned_corpus()))
def test_pinned_digests(key):
    obj = pinned_corpus()[key]
    for proto in (2, 4, 5):
        digest = hashlib.sha256(ddumps(obj, proto)).hexdigest()
        assert digest == PINNED[key, proto], (key, proto)
    assert pickler.hash(obj) == PINNED[key, 5]


_CHILD = textwrap.dedent("""
    import hashlib, pickle, sys
    import pickler
    import test_deterministic as t
    out = []
    corpus = t.pinned_corpus()
    corpus["strings-set"] = {"k%d" % i for i in range(200)}
    corpus["mixed-set"] = {("k", i) for i in range(50)} | {str(i) for i in range(50)}
    corpus["nested"] = {frozenset({"a", ("b", frozenset({"c", 1}))}): {"x", "y"}}
    for key in sorted(corpus):
        out.append(key + " " + pickler.hash(corpus[key]) + " "
                   + pickler.hash(corpus[key], "blake2b", 2, sort_keys=True))
    print("\\n".join(out))
""")


def test_same_bytes_with_any_hash_seed():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(os.path.abspath(pickler.__file__)))
    results = []
    for seed in ("0", "1", "4242", "random"):
        env = dict(os.environ, PYTHONHASHSEED=seed,
                   PYTHONPATH=os.pathsep.join([root, here]))
        proc = subprocess.run([sys.executable, "-c", _CHILD], env=env, cwd=here, check=False,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        results.append(proc.stdout)
    assert len(set(results)) == 1
    assert results[0].count("\n") >= 10


# ---------------------------------------------------------------------------
# Round trip of the differential corpus.
# ---------------------------------------------------------------------------
def _differential_corpus():
    for gen in (fixtures.corpus_containers, fixtures.corpus_scalars, fixtures.corpus_objects,
                fixtures.corpus_slots, fixtures.corpus_recursive):
        for name, obj in gen():
            yield pytest.param(obj, id=name)


def _equal(a, b):
    try:
        return bool(a == b)
    except RecursionError:      # cyclic containers compare recursively
        return False


@pytest.mark.parametrize("obj", list(_differential_corpus()))
def test_differential_corpus_round_trip(obj):
    data = ddumps(obj)
    back = pickle.loads(data)
    # What the standard pickle loads back is the reference: where it is
    # equal to the original, so is ours; and ours is the same value as it
    # (the same deterministic pickle, sharing and cycles included).
    ref = pickle.loads(pickle.dumps(obj, 5))
    if _equal(ref, obj):
        assert _equal(back, obj)
    assert ddumps(back) == ddumps(ref)
    assert ddumps(rebuild(obj, random.Random(3))) == data


def _same_array(a, b):
    if isinstance(a, list):
        return len(a) == len(b) and all(_same_array(x, y) for x, y in zip(a, b))
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.hasobject:
        return a.tolist() == b.tolist()
    return a.tobytes() == b.tobytes()


@needs_numpy
@pytest.mark.parametrize("arr", [pytest.param(obj, id=name)
                                 for name, obj in fixtures.numpy_arrays()])
def test_differential_numpy_arrays_round_trip(arr):
    data = ddumps(arr)
    back = pickle.loads(data)
    assert _same_array(back, arr)
    ref = pickle.loads(pickle.dumps(arr, 5))
    assert ddumps(back) == ddumps(ref)
    if isinstance(arr, list):
        assert back[0] is back[1]


# ---------------------------------------------------------------------------
# Hooks.
# ---------------------------------------------------------------------------
class Box:
    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return type(other) is Box and other.value == self.value

    def __hash__(self):
        return hash(self.value)


def _reduce_box(box):
    return (Box, (("via table", box.value),))


def test_persistent_id():
    class P(pickler.DeterministicPickler):
        def persistent_id(self, obj):
            if type(obj) is Box:
                return ("box", obj.value)
            return None

    def dump(obj):
        f = io.BytesIO()
        P(f).dump(obj)
        return f.getvalue()

    data = dump([Box("a"), {Box("b"), Box("c")}, "ab"])
    other = "".join(["a", "b"])  # noqa: FLY002 (another object)
    assert data == dump([Box("a"), {Box("c"), Box("b")}, other])

    class U(pickle.Unpickler):
        def persistent_load(self, pid):
            return Box(pid[1])
    assert U(io.BytesIO(data)).load() == [Box("a"), {Box("b"), Box("c")}, "ab"]


def test_reducer_override_and_dispatch_table():
    class R(pickler.DeterministicPickler):
        def reducer_override(self, obj):
            if type(obj) is Box:
                return (Box, (("via override", obj.value),))
            return NotImplemented

    f = io.BytesIO()
    R(f).dump({Box(1), Box(2)})
    assert pickle.loads(f.getvalue()) == {Box(("via override", 1)),
                                          Box(("via override", 2))}
    f = io.BytesIO()
    p = pickler.DeterministicPickler(f)
    p.dispatch_table = copyreg.dispatch_table.copy()
    p.dispatch_table[Box] = _reduce_box
    p.dump([Box(1), frozenset({Box(2), Box(3)})])
    assert pickle.loads(f.getvalue()) == [Box(("via table", 1)), frozenset(
        {Box(("via table", 2)), Box(("via table", 3))})]


def test_dispatch_surface():
    class S(pickler.DeterministicPickler):
        dispatch = pickler.DeterministicPickler.dispatch.copy()

        def save_box(self, obj):
            self.save_reduce(Box, ("surface",), obj=obj)
        dispatch[Box] = save_box

    f = io.BytesIO()
    S(f).dump([Box(1), {"a", "b"}])
    assert pickle.loads(f.getvalue()) == [Box("surface"), {"a", "b"}]
    assert f.getvalue().count(b"surface") == 1


def test_subclass_dump_calling_the_base_pickler_dump():
    class P(pickler.DeterministicPickler):
        def dump(self, obj):
            pickler.Pickler.dump(self, obj)     # bypasses DeterministicPickler.dump

    def dump(obj):
        f = io.BytesIO()
        P(f).dump(obj)
        return f.getvalue()

    a = {f"x{i}" for i in range(50)}
    b = set()
    for item in reversed(list(a)):             # another insertion order
        b.add(item)
    other = "".join(["a", "b"])  # noqa: FLY002 (another object)
    assert dump([a, "ab"]) == dump([b, other]) == ddumps([a, "ab"])


def test_subclass_attributes_reach_set_ordering():
    # Ordering the items of a set pickles each with a pickler of the same
    # class and the same attributes.
    class P(pickler.DeterministicPickler):
        def __init__(self, file, prefix):
            super().__init__(file)
            self.prefix = prefix

        def persistent_id(self, obj):
            return self.prefix + str(obj.value) if type(obj) is Box else None

    f = io.BytesIO()
    P(f, "p:").dump({Box(1), Box(2), "x"})
    assert b"p:1" in f.getvalue()


# ---------------------------------------------------------------------------
# Hash objects and streaming.
# ---------------------------------------------------------------------------
class RecordingHash:
    """An object with update() only: records what it is fed."""

    def __init__(self):
        self.chunks = []

    def update(self, data):
        self.chunks.append(data)


def test_hash_algorithms():
    obj = {"a": [1, 2, {3}], "b": ("x", b"y")}
    data = ddumps(obj)
    assert pickler.hash(obj) == hashlib.sha256(data).hexdigest()
    assert pickler.hash(obj, "md5") == hashlib.md5(data).hexdigest()
    assert pickler.hash(obj, hashlib.blake2b) == hashlib.blake2b(data).hexdigest()
    h = hashlib.sha1()
    assert pickler.hash(obj, h) == hashlib.sha1(data).hexdigest()
    rec = RecordingHash()
    assert pickler.hash(obj, rec) is None
    assert b"".join(bytes(c) for c in rec.chunks) == data
    with pytest.raises(TypeError):
        pickler.hash(obj, 42)
    with pytest.raises(ValueError):
        pickler.hash(obj, "no-such-hash")


def test_hash_with_xxhash_and_blake3():
    xxhash = pytest.importorskip("xxhash")
    blake3 = pytest.importorskip("blake3")
    for obj in [[1, "two", {3.0}], [bytearray(100000), b"x" * 100000]] + (
            [np.arange(1 << 16, dtype=np.float64)] if np is not None else []):
        data = ddumps(obj)
        assert pickler.hash(obj, xxhash.xxh3_128) == xxhash.xxh3_128(data).hexdigest()
        assert pickler.hash(obj, blake3.blake3) == blake3.blake3(data).hexdigest()


def test_hash_streams_large_payloads_without_copy():
    big = bytes(range(256)) * 4096              # 1 MiB
    rec = RecordingHash()
    pickler.hash([big, "tail"], rec)
    assert any(c is big for c in rec.chunks)
    assert max(len(c) for c in rec.chunks if c is not big) <= 70000
    assert b"".join(bytes(c) for c in rec.chunks) == ddumps([big, "tail"])


@needs_numpy
def test_numpy_array_data_goes_to_the_hash_from_its_memory():
    arr = np.arange(1 << 17, dtype=np.float64)    # 1 MiB
    rec = RecordingHash()
    pickler.hash(arr, rec)
    views = [c for c in rec.chunks if isinstance(c, memoryview)]
    assert len(views) == 1
    assert views[0].format == "B" and views[0].nbytes == arr.nbytes
    assert np.shares_memory(np.frombuffer(views[0], dtype=np.uint8), arr)
    f = np.asfortranarray(arr.reshape(512, 256))
    rec = RecordingHash()
    pickler.hash(f, rec)
    views = [c for c in rec.chunks if isinstance(c, memoryview)]
    assert len(views) == 1
    assert np.shares_memory(np.frombuffer(views[0], dtype=np.uint8), f)
    assert pickler.hash(arr) == hashlib.sha256(ddumps(arr)).hexdigest()


@needs_numpy
def test_numpy_layouts():
    a = np.arange(24.0).reshape(4, 6)
    # Views and copies: the same hash (a strided view is pickled as its copy).
    assert pickler.hash(a[:, ::2]) == pickler.hash(a[:, ::2].copy())
    assert pickler.hash(a[::2]) == pickler.hash(np.ascontiguousarray(a[::2]))
    assert pickler.hash(a[1:3]) == pickler.hash(a[1:3].copy())
    # C and Fortran order: different (the order is part of what loads back).
    f = np.asfortranarray(a)
    assert pickler.hash(f) != pickler.hash(a)
    assert pickle.loads(ddumps(f)).flags.f_contiguous
    # Dtype and shape are part of the value.
    assert pickler.hash(a) != pickler.hash(a.astype(np.float32))
    assert pickler.hash(a) != pickler.hash(a.reshape(6, 4))
    view = a[:, ::2]
    back = pickle.loads(ddumps([view, view]))
    assert back[0] is back[1] and (back[0] == view).all()
    assert ddumps(a) == ddumps(a.copy())


def test_dask_tokenize_registration():
    # The registration docs/hashing.md shows, with dask's own tokenize.
    dask_base = pytest.importorskip("dask.base")   # in the [test] extra

    class Config:
        def __init__(self, options):
            self.options = options

    @dask_base.normalize_token.register(Config)
    def _normalize(obj):
        return pickler.hash(obj.options, "blake2b", sort_keys=True)

    class Records:
        def __init__(self, rows):
            self.rows = rows

        def __dask_tokenize__(self):
            return pickler.hash(self.rows, "blake2b")

    a = Config({"b": {1, 2}, "a": "".join(["x", "y"])})  # noqa: FLY002
    b = Config({"a": "xy", "b": {2, 1}})
    assert dask_base.tokenize(a) == dask_base.tokenize(b)
    assert dask_base.tokenize(a) != dask_base.tokenize(Config({"a": "xz", "b": {1, 2}}))
    rows = [{"k": i, "s": {"p", "q"}} for i in range(10)]
    assert dask_base.tokenize(Records(rows)) == dask_base.tokenize(
        Records(rebuild(rows, random.Random(2))))
    assert dask_base.tokenize(Records(rows)) != dask_base.tokenize(Records(rows[:-1]))


def test_example_runs():
    # examples/hashing.py checks its own results and exits non-zero on a
    # mismatch; its demo() prints at most 4 lines.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ,
               PYTHONPATH=os.path.dirname(os.path.dirname(pickler.__file__)))
    proc = subprocess.run([sys.executable, os.path.join(root, "examples", "hashing.py")],
                          capture_output=True, text=True, timeout=120, env=env,
                          cwd=os.path.join(root, "examples"), check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 1 <= len(proc.stdout.strip().splitlines()) <= 4


# ---------------------------------------------------------------------------
# Bad input.
# ---------------------------------------------------------------------------
def test_unpicklable_and_errors():
    with pytest.raises((TypeError, pickle.PicklingError, AttributeError)):
        ddumps({1, lambda: 0})
    with pytest.raises(ValueError):
        ddumps(1, protocol=99)
    deep = ()
    for _ in range(100000):
        deep = (deep,)
    with pytest.raises(RecursionError):
        ddumps(deep)
    p = pickler.DeterministicPickler(io.BytesIO())
    p.dump({"ok"})                      # usable after errors elsewhere


def test_failing_calls_do_not_leak():
    import gc
    import tracemalloc
    bad = [{"a", ("b", lambda: 0)}, ("x", [1, 2], {3})]

    def fail():
        for func in (ddumps, pickler.hash):
            try:
                func(bad)
            except (pickle.PicklingError, AttributeError, TypeError):
                pass
            else:
                raise AssertionError("a lambda was pickled")

    for _ in range(50):
        fail()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(2000):
            fail()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 20_000, grown


def test_clear_memo_from_a_hook_mid_dump():
    # Values written before clear_memo() must not be referenced after it
    # (their memo indices are reused): the result still loads correctly.
    class P(pickler.DeterministicPickler):
        def reducer_override(self, obj):
            if type(obj) is Box:
                self.clear_memo()
                return (Box, (obj.value,))
            return NotImplemented

    obj = ["shared", ("t", 1), Box(0), "shared", ("t", 1), [9]]
    f = io.BytesIO()
    try:
        P(f).dump(obj)
    except RuntimeError:        # a core that refuses clear_memo() inside dump()
        return
    assert pickle.loads(f.getvalue()) == obj


_DEEP_IN_A_THREAD = textwrap.dedent("""
    import sys, threading
    import pickler
    kind = sys.argv[1]
    x = ()
    for i in range(100000):
        if kind == "tuple":
            x = (x, i)
        elif kind == "frozenset":
            x = frozenset({x, i})
        else:
            x = {frozenset({i}): [x]}
    outcome = []

    def run():
        try:
            pickler.deterministic_dumps(x, sort_keys=True)
            outcome.append("ok")
        except RecursionError:
            outcome.append("RecursionError")

    old = threading.stack_size(1024 * 1024)
    t = threading.Thread(target=run)
    t.start()
    t.join()
    print(outcome[0])
""")


@pytest.mark.parametrize("kind", ["tuple", "frozenset", "sorted-dict"])
def test_deep_data_in_a_thread_with_a_small_stack(kind, tmp_path):
    # Deep data raises RecursionError instead of overflowing a 1 MiB thread
    # stack (in a subprocess: a crash shows as a failure).
    env = dict(os.environ,
               PYTHONPATH=os.path.dirname(os.path.dirname(pickler.__file__)))
    # cwd: `-c` puts the working directory first on sys.path, and in CI that
    # is the checkout, whose pickler/ has no compiled modules.
    proc = subprocess.run([sys.executable, "-c", _DEEP_IN_A_THREAD, kind],
                          capture_output=True, text=True, timeout=120, env=env,
                          check=False, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "RecursionError"


def test_set_changing_while_ordered():
    class Evil:
        def __init__(self, target):
            self.target = target

        def __reduce__(self):
            self.target.add(len(self.target) + 1000)
            return (int, (1,))

        def __hash__(self):
            return 1

        def __eq__(self, other):
            return self is other

    s = {1, 2}
    s.add(Evil(s))
    data = ddumps(s)      # ordered from a snapshot: no crash, a valid pickle
    assert isinstance(pickle.loads(data), set)


class Node:
    """Hashable by name, holding a reference back to a container."""

    def __init__(self, name, ref=None):
        self.name = name
        self.ref = ref

    def __eq__(self, other):
        return type(other) is Node and other.name == self.name

    def __hash__(self):
        return hash(self.name)


def test_set_whose_items_lead_back_to_it():
    def build(order):
        s = set()
        for name in order:
            s.add(Node(name, s))
        s.add(1)
        return s

    a, b = build("abcd"), build("dcba")
    assert ddumps(a) == ddumps(b)
    back = pickle.loads(ddumps(a))
    assert {n.name for n in back if type(n) is Node} == set("abcd")
    assert all(n.ref is back for n in back if type(n) is Node)
    d = {}
    d[Node("k", d)] = 1
    d[Node("j", d)] = 2
    e = {}
    e[Node("j", e)] = 2
    e[Node("k", e)] = 1
    assert ddumps(d, sort_keys=True) == ddumps(e, sort_keys=True)


def test_ordered_collections():
    od = collections.OrderedDict([("b", 1), ("a", 2)])
    assert pickle.loads(ddumps(od)) == od
    assert ddumps(od) != ddumps(collections.OrderedDict([("a", 2), ("b", 1)]))
