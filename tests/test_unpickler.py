"""API, input handling, protocol 5 buffers and hook semantics of pickler's
Unpickler, compared with the running interpreter's ``_pickle``."""
import _pickle
import collections
import gc
import inspect
import io
import pickle
import sys
import weakref

import pytest

import pickler
from fixtures import RecordingReader
from pickler._unpickler import Unpickler, load, loads

np = pytest.importorskip("numpy")

PY313 = sys.version_info >= (3, 13)


# ---------------------------------------------------------------------------
# API surface

def test_package_exports_compiled_unpickler():
    assert pickler.Unpickler is Unpickler
    assert pickler.load is load
    assert pickler.loads is loads


@pytest.mark.parametrize("name", ["load", "loads"])
def test_signatures_match_pickle(name):
    assert inspect.signature(getattr(pickler._unpickler, name)) == \
        inspect.signature(getattr(pickle, name))
    assert str(inspect.signature(getattr(pickler._unpickler, name))) == \
        str(inspect.signature(getattr(pickle, name)))


def test_loads_positional_only_and_keyword_only():
    data = pickle.dumps([1])
    with pytest.raises(TypeError):
        loads(data=data)
    with pytest.raises(TypeError):
        loads(data, True)
    with pytest.raises(TypeError):
        Unpickler(io.BytesIO(data), True)
    with pytest.raises(TypeError):
        loads("not bytes")
    with pytest.raises(TypeError):
        loads(data, encoding=b"ASCII")


def test_bytes_like_inputs_without_copy():
    data = pickle.dumps({"a": [1, 2]}, 5)
    for src in (data, bytearray(data), memoryview(data), memoryview(bytearray(data))):
        assert loads(src) == {"a": [1, 2]}
    with pytest.raises(BufferError):
        loads(memoryview(data * 2)[::2])


def test_file_without_read_or_readline():
    class OnlyRead:
        def read(self, n):
            return b""
    with pytest.raises(TypeError, match="'read' and 'readline'"):
        Unpickler(OnlyRead())
    with pytest.raises(TypeError):
        _pickle.Unpickler(OnlyRead())


def test_init_not_called():
    class Sub(Unpickler):
        def __init__(self):
            pass
    with pytest.raises(pickle.UnpicklingError, match="was not called"):
        Sub().load()


def test_persistent_load_attribute_by_version():
    u = Unpickler(io.BytesIO())
    c = _pickle.Unpickler(io.BytesIO())
    if PY313:
        with pytest.raises(pickle.UnpicklingError):
            u.persistent_load("x")
        with pytest.raises(pickle.UnpicklingError):
            c.persistent_load("x")
    else:
        with pytest.raises(AttributeError):
            u.persistent_load
        with pytest.raises(AttributeError):
            c.persistent_load
    # Instance assignment works on the base type and on subclasses.
    data = pickle.dumps(["a", "b"], 0).replace(b"Va\n", b"Pa\n")
    u = Unpickler(io.BytesIO(data))
    u.persistent_load = lambda pid: pid.upper()
    assert u.load() == ["A", "b"]
    with pytest.raises(TypeError):
        u.persistent_load = 42
    with pytest.raises(TypeError):
        del u.persistent_load


def test_find_class_called_through_attribute_each_time():
    calls = []

    class Sub(Unpickler):
        def find_class(self, module, name):
            calls.append((module, name))
            return super().find_class(module, name)

    data = pickle.dumps([pickle.PickleError, pickle.PickleError, dict], 2)
    expected = pickle.loads(data)
    assert Sub(io.BytesIO(data)).load() == expected
    assert [n for _, n in calls] == ["PickleError", "dict"]   # memo hits skip it
    u = Sub(io.BytesIO(data))
    u.find_class = lambda m, n: n          # instance attribute on a subclass
    assert u.load() == ["PickleError", "PickleError", "dict"]


def test_find_class_audit_event():
    # sys.audit hooks cannot be removed; record only while the flag is set.
    events = []
    recording = [True]

    def hook(event, args):
        if recording[0] and event == "pickle.find_class":
            events.append(args)
    sys.addaudithook(hook)
    try:
        loads(pickle.dumps(collections.OrderedDict, 0))
    finally:
        recording[0] = False
    assert events == [("collections", "OrderedDict")]


def test_memo_proxy():
    data = pickle.dumps([[1], [1]], 2)
    u = Unpickler(io.BytesIO(data))
    u.load()
    c = _pickle.Unpickler(io.BytesIO(data))
    c.load()
    assert u.memo.copy() == c.memo.copy()
    assert u.memo.__reduce__() == (dict, (u.memo.copy(),))
    with pytest.raises(TypeError):
        hash(u.memo)
    u2 = Unpickler(io.BytesIO())
    u2.memo = u.memo
    assert u2.memo.copy() == u.memo.copy()
    u.memo.clear()
    assert u.memo.copy() == {}
    assert u2.memo.copy() != {}
    with pytest.raises(TypeError):
        del u.memo
    with pytest.raises(TypeError):
        u.memo = {"a": 1}


# ---------------------------------------------------------------------------
# Several pickles in one file; file position after STOP

OBJS = [{"a": 1}, list(range(2000)), "x" * 100000, b"y" * 300000, (1, 2), None]


@pytest.mark.parametrize("proto", range(pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize("wrap", ["BytesIO", "BufferedReader", "BufferedReader-small"])
def test_multiple_pickles_in_one_file(proto, wrap):
    buf = io.BytesIO()
    for obj in OBJS:
        pickle.dump(obj, buf, proto)
    buf.write(b"trailer")
    raw = io.BytesIO(buf.getvalue())
    if wrap == "BytesIO":
        f = raw
    elif wrap == "BufferedReader":
        f = io.BufferedReader(raw)
    else:
        f = io.BufferedReader(raw, buffer_size=7)
    for obj in OBJS:
        assert load(f) == obj
    assert f.read() == b"trailer"


def test_one_unpickler_many_loads():
    buf = io.BytesIO()
    p = pickle.Pickler(buf, 2)
    shared = ["shared"]
    p.dump(shared)
    p.dump([shared, 1])        # refers to memo entries of the first pickle
    f = io.BufferedReader(io.BytesIO(buf.getvalue()))
    u = Unpickler(f)
    first = u.load()
    second = u.load()
    assert second[0] is first
    with pytest.raises(EOFError):
        u.load()


FILE_METHODS = [("read", "readline"), ("read", "readline", "readinto"),
                ("read", "readline", "peek"), ("read", "readline", "readinto", "peek")]
FILE_OBJS = [[1, 2, "abc"], {"k": b"x" * 100, "s": "y" * 70000}, b"z" * 200000,
             bytearray(b"q" * 300000), ["a" * 100000, b"b" * 70000, [1.5] * 10000],
             list(range(50000)), ("\xe9" * 40000, None, True)]


@pytest.mark.parametrize("methods", FILE_METHODS, ids="+".join)
@pytest.mark.parametrize("proto", range(pickle.HIGHEST_PROTOCOL + 1))
def test_file_calls_match_c(methods, proto):
    # The same calls as _pickle, in the same order with the same sizes:
    # peek() for small reads, read() for opcode arguments, frames and str
    # data, readinto() only for bytes/bytearray payloads (the buffered
    # bytes first, then the rest), so a file object that supports only
    # what _pickle uses works the same.
    for obj in FILE_OBJS:
        data = pickle.dumps(obj, proto)
        ours, theirs = RecordingReader(data, methods), RecordingReader(data, methods)
        assert Unpickler(ours).load() == _pickle.Unpickler(theirs).load() == obj
        assert ours.calls == theirs.calls, (type(obj).__name__, ours.calls, theirs.calls)


@pytest.mark.parametrize("returns", [bytearray, memoryview])
@pytest.mark.parametrize("proto", [0, 2, 4, 5])
def test_read_may_return_any_bytes_like(returns, proto):
    # _pickle takes any bytes-like object from read() for opcode arguments
    # and frames, but only bytes for a bytes payload read without readinto().
    for obj in ([1, 2, "abc"], {"s": "y" * 70000}, b"z" * 20, b"z" * 200000):
        data = pickle.dumps(obj, proto)
        outcomes = []
        for cls in (_pickle.Unpickler, Unpickler):
            try:
                outcomes.append(cls(RecordingReader(data, ("read", "readline"), returns)).load())
            except Exception as exc:  # the type is compared
                outcomes.append(type(exc))
        assert outcomes[0] == outcomes[1], (obj if len(repr(obj)) < 80 else type(obj), outcomes)


def test_unusable_readinto_only_matters_for_payloads():
    class NoReadinto(RecordingReader):
        def readinto(self, buf):
            raise io.UnsupportedOperation("readinto")
    for obj in ([1, 2, "abc"], {"s": "y" * 70000}):       # no bytes payload
        data = pickle.dumps(obj, 4)
        for cls in (_pickle.Unpickler, Unpickler):
            assert cls(NoReadinto(data, ("read", "readline"))).load() == obj
    data = pickle.dumps(b"z" * 200000, 4)                    # a payload
    for cls in (_pickle.Unpickler, Unpickler):
        with pytest.raises(io.UnsupportedOperation):
            cls(NoReadinto(data, ("read", "readline"))).load()


# ---------------------------------------------------------------------------
# Protocol 5 buffers

def test_numpy_out_of_band_shares_memory():
    for arr in (np.arange(1000, dtype=np.float64), np.arange(24).reshape(4, 6),
                np.asfortranarray(np.arange(24).reshape(4, 6))):
        buffers = []
        data = pickle.dumps(arr, 5, buffer_callback=buffers.append)
        raw = [b.raw() for b in buffers]
        out = loads(data, buffers=raw)
        assert np.array_equal(out, arr)
        assert any(np.shares_memory(out, np.frombuffer(r, dtype=np.uint8)) for r in raw)
        assert out.flags.writeable
        out2 = Unpickler(io.BytesIO(data), buffers=iter(raw)).load()
        assert np.shares_memory(out2, out)


def test_numpy_readonly_out_of_band():
    arr = np.arange(100, dtype=np.int32)
    arr.flags.writeable = False
    buffers = []
    data = pickle.dumps(arr, 5, buffer_callback=buffers.append)
    backing = bytearray(buffers[0].raw())          # writable supplied buffer
    out = loads(data, buffers=[backing])
    assert not out.flags.writeable                  # READONLY_BUFFER applied
    assert np.shares_memory(out, np.frombuffer(backing, dtype=np.uint8))


def test_numpy_in_band():
    arr = np.arange(10000, dtype=np.float64).reshape(100, 100)
    for proto in range(2, 6):
        data = pickle.dumps(arr, proto)
        assert np.array_equal(loads(data), arr)
        assert np.array_equal(load(io.BufferedReader(io.BytesIO(data))), arr)


def test_next_buffer_is_passed_as_is():
    class Obj:
        pass
    marker = Obj()
    data = b"\x80\x05\x97."
    assert loads(data, buffers=[marker]) is marker
    view = loads(b"\x80\x05\x97\x98.", buffers=[bytearray(b"abc")])
    assert type(view) is memoryview and view.readonly and view == b"abc"
    ro = b"abc"
    assert loads(b"\x80\x05\x97\x98.", buffers=[ro]) is ro


def test_buffers_errors_match_c():
    data = b"\x80\x05\x97."
    for kw in ({}, {"buffers": None}, {"buffers": []}, {"buffers": iter([])}):
        with pytest.raises(pickle.UnpicklingError) as ours:
            loads(data, **kw)
        with pytest.raises(pickle.UnpicklingError) as c:
            _pickle.loads(data, **kw)
        assert str(ours.value) == str(c.value)
    with pytest.raises(TypeError):
        loads(data, buffers=42)


# ---------------------------------------------------------------------------
# Order of user-code calls, re-entrancy

class Recorder:
    log = []

    def __init__(self, tag):
        self.tag = tag

    def __reduce__(self):
        return (Recorder, (self.tag,), {"s": self.tag}, iter([1, 2]), iter([("k", 3)]))

    def __setstate__(self, state):
        Recorder.log.append(("setstate", self.tag, state))

    def append(self, x):
        Recorder.log.append(("append", self.tag, x))

    def extend(self, xs):
        Recorder.log.append(("extend", self.tag, list(xs)))

    def __setitem__(self, k, v):
        Recorder.log.append(("setitem", self.tag, k, v))


@pytest.mark.parametrize("proto", range(pickle.HIGHEST_PROTOCOL + 1))
def test_user_code_call_order(proto):
    data = pickle.dumps([Recorder("a"), [Recorder("b")]], proto)
    Recorder.log = []
    pickle.loads(data)
    expected = Recorder.log
    Recorder.log = []
    loads(data)
    assert Recorder.log == expected


@pytest.mark.parametrize("wrap", [io.BytesIO, lambda d: io.BufferedReader(io.BytesIO(d))])
def test_reentrant_load_from_persistent_load(wrap):
    # persistent_load reads an embedded pickle with a nested load() on the
    # same unpickler.  The nested load runs on its own stack (_pickle would
    # clear the outer one), so the outer pickle continues intact.
    inner = pickle.dumps({"inner": [1, 2]}, 2)
    stream = (b"\x80\x02](X\x06\x00\x00\x00beforeX\x01\x00\x00\x00xQ" + inner
              + b"X\x05\x00\x00\x00aftere." + b"tail")

    class U(Unpickler):
        def persistent_load(self, pid):
            assert pid == "x"
            return self.load()

    f = wrap(stream)
    assert U(f).load() == ["before", {"inner": [1, 2]}, "after"]
    assert f.read() == b"tail"


class Evil:
    current = None
    calls = 0

    def __setstate__(self, state):
        Evil.calls += 1
        u = Evil.current
        for _ in range(3):
            try:
                u.load()
            except Exception:
                pass
        u.memo.clear()
        self.__dict__.update(state)


def test_reentrant_load_from_setstate_does_not_crash():
    # Nested loads that eat the rest of the outer stream and clear the memo
    # in the middle of BUILD: any exception is fine, a crash is not.
    obj = Evil.__new__(Evil)
    obj.a = [1, 2]
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        data = pickle.dumps([obj, obj, [obj.a]], proto)
        for wrap in (io.BytesIO, lambda d: io.BufferedReader(io.BytesIO(d))):
            u = Unpickler(wrap(data * 3))
            Evil.current = u
            before = Evil.calls
            try:
                u.load()
            except Exception:
                pass
            assert Evil.calls > before
    Evil.current = None


def test_init_during_load_is_refused():
    class U(Unpickler):
        def persistent_load(self, pid):
            self.__init__(io.BytesIO(b"N."))
    with pytest.raises(RuntimeError):
        U(io.BytesIO(b"P1\n.")).load()


def test_no_reference_cycle_after_load():
    class U(Unpickler):
        def persistent_load(self, pid):
            return pid
    u = U(io.BytesIO(b"P1\n."))
    assert u.load() == "1"
    r = weakref.ref(u)
    del u
    assert r() is None


# ---------------------------------------------------------------------------
# Python 2 data

def test_python2_strings_and_names():
    data = b"(S'caf\\xe9'\np0\nc__builtin__\nxrange\np1\ntp2\n."
    for kw in ({"encoding": "latin1"}, {"encoding": "bytes"}):
        assert repr(loads(data, **kw)) == repr(_pickle.loads(data, **kw))
    with pytest.raises(UnicodeDecodeError):
        loads(data)
    with pytest.raises(ModuleNotFoundError):
        loads(data, encoding="latin1", fix_imports=False)
    b2 = b"\x80\x02U\x03\xe9t\xe9q\x00."
    assert loads(b2, encoding="latin1") == "été"
    assert loads(b2, encoding="bytes") == b"\xe9t\xe9"


# ---------------------------------------------------------------------------
# loads() reuses one Unpickler between calls: nothing of one call may leak
# into the next.

class _Nested:
    def __setstate__(self, state):
        # a loads() inside a loads(): the spare Unpickler is taken, so this
        # one runs on a fresh one and both results are intact
        self.inner = loads(state)


def test_loads_nested_in_setstate():
    inner = pickle.dumps({"k": [1, 2, 3], "s": "x" * 5}, 5)
    data = (b"\x80\x02c" + __name__.encode() + b"\n_Nested\n)\x81"
            + b"C" + bytes([len(inner)]) + inner + b"b.")
    assert _pickle.loads(data).inner == {"k": [1, 2, 3], "s": "xxxxx"}
    for _ in range(3):
        got = loads(data)
        assert type(got) is _Nested and got.inner == {"k": [1, 2, 3], "s": "xxxxx"}
    assert loads(pickle.dumps([1, "a"], 5)) == [1, "a"]


def test_loads_options_do_not_carry_over():
    b2 = b"\x80\x02U\x03\xe9t\xe9q\x00."
    assert loads(b2, encoding="bytes") == b"\xe9t\xe9"
    with pytest.raises(UnicodeDecodeError):
        loads(b2)                      # back to ASCII/strict
    assert loads(b2, encoding="latin1") == "été"
    with pytest.raises(UnicodeDecodeError):
        loads(b2)
    # buffers= of one call are not seen by the next
    data = pickle.dumps(pickle.PickleBuffer(b"abc"), 5, buffer_callback=lambda b: False)
    assert bytes(loads(data, buffers=[b"abc"])) == b"abc"
    with pytest.raises(pickle.UnpicklingError) as ours:
        loads(data)
    with pytest.raises(pickle.UnpicklingError) as theirs:
        _pickle.loads(data)
    assert str(ours.value) == str(theirs.value)
    # Python 2 module names: fix_imports of one call is not kept
    old = b"c__builtin__\nset\n(]tR."
    assert loads(old) == set()
    with pytest.raises(ModuleNotFoundError):
        loads(old, fix_imports=False)
    assert loads(old) == set()


class _Tracked:
    pass


def test_loads_releases_memo_and_input():
    # After loads() returns or fails, the spare Unpickler holds neither the
    # loaded objects (memo, stack) nor the input buffer.
    good = pickle.dumps([[_Tracked(), _Tracked()]] * 2, 4)
    bad = good[:-2]                     # truncated after the objects are memoized
    got = loads(good)
    refs = [weakref.ref(o) for o in got[0]]
    del got
    assert [r() for r in refs] == [None, None]
    with pytest.raises(pickle.UnpicklingError):
        loads(bad)
    assert [o for o in gc.get_objects() if type(o) is _Tracked] == []
    # the input's buffer is released, success or failure: a bytearray can
    # be resized afterwards
    for data in (good, bad):
        ba = bytearray(data)
        try:
            loads(ba)
        except pickle.UnpicklingError:
            pass
        ba.extend(b"more")


def test_loads_after_large_memo():
    # a load with a large memo and deep stack, then small ones
    big = list(range(100000))
    data = pickle.dumps([[str(i)] for i in range(20000)] + [big], 4)
    assert loads(data)[-1] == big
    assert loads(pickle.dumps(("a", "a"), 4)) == ("a", "a")
    deep = pickle.dumps(tuple(range(5000)), 0)   # 5000 items on the stack
    assert loads(deep) == tuple(range(5000))
    assert loads(b"\x80\x04K\x01.") == 1


@pytest.mark.parametrize("proto", range(pickle.HIGHEST_PROTOCOL + 1))
def test_strings_ascii_fast_path_and_decoder(proto):
    # Short ASCII strings are built directly, others decoded as UTF-8 with
    # surrogatepass: both must give the str C gives, of the same kind.
    samples = ["", "a", "\x7f" * 3, "k" * 63, "k" * 64, "k" * 65, "x" * 300,
               "caf\xe9", "\u20ac" * 10, "\U0001f600", "a\udc80b", "\ud800",
               "mix" * 20 + "\xe9", "\x00\x01"]
    data = pickle.dumps(samples, proto)
    got = loads(data)
    ref = _pickle.loads(data)
    assert got == ref
    for a, b in zip(got, ref):
        assert type(a) is str and len(a) == len(b)
        assert a.isascii() == b.isascii()
        assert sys.getsizeof(a) == sys.getsizeof(b)   # same compact kind
    # truncated inside a short string
    short = pickle.dumps("abcdef", 4)
    with pytest.raises(pickle.UnpicklingError):
        loads(short[:-4])


# Objects the interpreter may share (one-character str, empty str and bytes,
# one-byte bytes, small ints, the empty tuple), built at run time so that they
# are not constants of this module.
SHARED_ATOMS = ["A", "\x00", "\x7f", "\xe9", "\u20ac", "", bytes(0),
                bytes([97]), bytes([255]), "".join(("a", "b")),  # noqa: FLY002 (not the interned "ab") bytes([1, 2]),
                (), int("0"), int("256"), int("257"), -5, -6]


@pytest.mark.parametrize("proto", range(pickle.HIGHEST_PROTOCOL + 1))
def test_shared_atoms_as_c(proto):
    """Where _pickle returns the interpreter's shared instance (one-character
    and empty strings, small ints) pickler does too, and where it returns a
    new object (one-byte bytes from BINBYTES) so does pickler: the same
    identities, and the same memory for data full of such atoms."""
    for obj in SHARED_ATOMS:
        for data in (pickle.dumps(obj, proto), pickle.dumps([obj, 1.5], proto)):
            for source in ("loads", "BytesIO", "RecordingReader"):
                def load_with(unpickler_load, unpickler_loads):
                    if source == "loads":
                        got = unpickler_loads(data)
                    elif source == "BytesIO":
                        got = unpickler_load(io.BytesIO(data))
                    else:
                        got = unpickler_load(RecordingReader(data, ("read", "readline")))
                    return got[0] if type(got) is list else got
                ours = load_with(load, loads)
                ref = load_with(_pickle.load, _pickle.loads)
                assert ours == ref
                assert (ours is obj) == (ref is obj), (obj, source)
                assert (ours is load_with(load, loads)) == \
                    (ref is load_with(_pickle.load, _pickle.loads)), (obj, source)


@pytest.mark.parametrize("proto", [1, 2, 5])
def test_binfloat_bit_patterns(proto):
    import math
    import struct
    # every bit pattern class of a double: signed zeros, subnormals,
    # infinities, quiet and signalling NaNs with payloads
    patterns = [0x0000000000000000, 0x8000000000000000, 0x0000000000000001,
                0x000FFFFFFFFFFFFF, 0x3FF0000000000000, 0xC00921FB54442D18,
                0x7FEFFFFFFFFFFFFF, 0x7FF0000000000000, 0xFFF0000000000000,
                0x7FF8000000000000, 0x7FF8DEADBEEF0001, 0xFFF4000000000001,
                0x7FF0000000000001]
    values = [struct.unpack(">d", p.to_bytes(8, "big"))[0] for p in patterns]
    data = pickle.dumps(values, proto)
    got = loads(data)
    ref = _pickle.loads(data)
    assert [struct.pack(">d", x) for x in got] == [struct.pack(">d", x) for x in ref]
    assert math.copysign(1.0, got[1]) == -1.0


def test_loads_does_not_keep_large_work_arrays():
    # The spare Unpickler of loads() drops a mark array, stack or line
    # buffer that a large (or hostile) input grew: 10**6 MARKs take 8 MB.
    import tracemalloc
    data = b"(" * 10**6 + b"N."
    assert _pickle.loads(data) is None
    loads(b"N.")                       # the spare exists
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        assert loads(data) is None
        long_line = b"F0." + b"0" * 100000 + b"1\n."
        assert loads(long_line) == _pickle.loads(long_line) == 0.0
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after - before < 256 * 1024


class _ManyAttrs:
    pass


def _many_attr_objects(n_objects, n_attrs, prefix):
    objs = []
    for i in range(n_objects):
        o = _ManyAttrs()
        for j in range(n_attrs):
            # Names built at run time: not interned until something interns them.
            setattr(o, "".join((prefix, "_", str(j))), i * j)
        objs.append(o)
    return objs


@pytest.mark.parametrize("proto", range(pickle.HIGHEST_PROTOCOL + 1))
def test_build_interns_instance_dict_keys_as_c(proto):
    """BUILD stores interned keys, as _pickle does; pickler remembers the
    interned twin of each memoized key (more keys than its 8 slots here,
    so pairs are evicted and found again)."""
    objs = _many_attr_objects(40, 20, f"attr_{proto}")
    data = _pickle.dumps(objs, proto)
    ours = loads(data)
    theirs = _pickle.loads(data)
    assert [vars(o) for o in ours] == [vars(o) for o in theirs]
    for o in ours + theirs:
        for key in vars(o):
            assert sys.intern(key) is key
    # The same key object is stored in every instance.
    first = list(vars(ours[0]))
    for o in ours[1:]:
        assert all(a is b for a, b in zip(first, vars(o)))


def test_build_key_cache_keeps_nothing_after_loads():
    """The interned-key pairs are dropped with the load: no reference to
    an interned key is left behind (checked by refcount where interned
    strings are mortal, 3.10 and 3.11), and loads in a loop do not grow."""
    import tracemalloc
    objs = _many_attr_objects(5, 4, "kept")
    data = pickle.dumps(objs, 4)
    # Twins exist, so the loaded keys stay uninterned and get cached.
    twins = [sys.intern(name) for name in vars(objs[0])]
    del objs

    def refcounts():
        # The interpreter's type attribute cache holds a reference to each
        # attribute name it was last asked for (setattr looks the name up on
        # the class), and evicts it when another lookup hashes to the same
        # slot: empty it so only lasting references are counted.
        gc.collect()
        sys._clear_type_cache()
        return [sys.getrefcount(t) for t in twins]

    counts = refcounts()
    loaded = loads(data)
    assert all(k is t for k, t in zip(vars(loaded[0]), twins))
    del loaded
    assert refcounts() == counts
    tracemalloc.start()
    try:
        loads(data)
        # The same type cache holds each load's new class-name string (the
        # module attribute looked up), in a slot chosen by its address: with
        # PYTHONMALLOC=malloc the addresses vary and _pickle "grows" by 19 KB
        # here too.  Emptied at both readings, it counts for neither.
        gc.collect()
        sys._clear_type_cache()
        start = tracemalloc.get_traced_memory()[0]
        for _ in range(2000):
            loads(data)
        gc.collect()
        sys._clear_type_cache()
        grown = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    assert grown < 16 * 1024


class _Slotted:
    __slots__ = ("alpha", "beta", "__dict__")


def test_build_slot_state_as_c():
    """Slot state goes through setattr with the interned name, as
    PyObject_SetAttr would intern it; unknown names fail as with _pickle."""
    objs = []
    for i in range(30):
        o = _Slotted()
        o.alpha = i
        o.beta = [i]
        o.extra = f"x{i}"
        objs.append(o)
    for proto in range(2, pickle.HIGHEST_PROTOCOL + 1):
        data = _pickle.dumps(objs, proto)
        ours, theirs = loads(data), _pickle.loads(data)
        assert ([(o.alpha, o.beta, vars(o)) for o in ours]
                == [(o.alpha, o.beta, vars(o)) for o in theirs])
    # BUILD with a slot name the class does not have.
    bad = (pickle.PROTO + b"\x04" + pickle.dumps(_SlotsOnly, 4)[11:-1]
           + b")\x81N}\x8c\x05gammaK\x01s\x86b.")
    errors = []
    for mod in (_pickle, pickler):
        try:
            mod.loads(bad)
        except Exception as exc:
            errors.append((type(exc), str(exc)))
    assert len(errors) == 2 and errors[0] == errors[1]
    assert errors[0][0] is AttributeError


class _SlotsOnly:
    __slots__ = ("alpha",)


class _ListChild(list):
    pass


@pytest.mark.parametrize("proto", range(1, pickle.HIGHEST_PROTOCOL + 1))
def test_appends_keeps_list_identity_and_contents(proto):
    """The first APPENDS batch hands its items to the list in place: the
    list keeps its identity (memo, self-references, sharing), later
    batches, list subclasses and empty batches behave as with _pickle."""
    selfref = [1, "two"]
    selfref.append(selfref)
    shared = list(range(5))
    big = list(range(2500))                   # three batches of APPENDS
    child = _ListChild([1, 2, 3])
    graph = [selfref, [shared, shared], big, child, [], [[]], [None] * 7]
    data = _pickle.dumps(graph, proto)
    for out in (loads(data), _pickle.loads(data)):
        assert out[0][2] is out[0] and out[0][:2] == [1, "two"]
        assert out[1][0] is out[1][1] and out[1][0] == shared
        assert out[2] == big
        assert type(out[3]) is _ListChild and out[3] == [1, 2, 3]
        assert out[4:] == [[], [[]], [None] * 7]
    # An empty batch (MARK APPENDS) leaves the list as it is.
    assert loads(b"\x80\x02](e.") == _pickle.loads(b"\x80\x02](e.") == []
    assert loads(b"\x80\x02](K\x01e(e.") == [1]
