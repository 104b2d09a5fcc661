"""Malformed and hostile input for pickler's Unpickler.

Every case is differential: the exception raised by ``pickler._unpickler``
must have the same type as the one raised by the running interpreter's C
unpickler (``_pickle``) on the same bytes, read from memory (``loads``) and
from a file (``Unpickler(BytesIO)``).  Size fields that claim more data than
the input holds are the exception: there ``_pickle`` (before gh-115952)
allocates the claimed size first, while ours must fail fast with
``UnpicklingError`` and little memory (checked with tracemalloc).
"""
import _pickle
import collections
import datetime
import io
import pickle
import struct
import tracemalloc

import pytest

from pickler._unpickler import Unpickler, loads

MiB = 1 << 20


def _outcome(fn, data):
    try:
        return ("ok", fn(data))
    except Exception as exc:  # the type is what we compare
        return ("raise", exc)


def _c_file(data):
    return _pickle.Unpickler(io.BytesIO(data)).load()


def _our_file(data):
    return Unpickler(io.BytesIO(data)).load()


def assert_same_outcome(data, must_fail=False):
    """Both implementations fail on *data* with the same exception type, or
    both return the same kind of value (from memory and from a file)."""
    for c_fn, our_fn in ((_pickle.loads, loads), (_c_file, _our_file)):
        c = _outcome(c_fn, data)
        ours = _outcome(our_fn, data)
        assert ours[0] == c[0], (data, c, ours)
        if must_fail:
            assert c[0] == "raise", (data, c)
        if c[0] == "ok":
            assert type(ours[1]) is type(c[1]), (data, c, ours)
            if isinstance(c[1], (int, float, str, bytes, tuple, list)):
                assert repr(ours[1]) == repr(c[1]), (data, c, ours)
            continue
        assert type(ours[1]) is type(c[1]), (data, c[1], ours[1])
        if isinstance(c[1], pickle.UnpicklingError):
            # Same message too: these are the texts users see.
            assert str(ours[1]) == str(c[1]), (data, c[1], ours[1])


# ---------------------------------------------------------------------------
# Truncation of valid pickles at every offset

class Plain:
    def __init__(self):
        self.a = 1
        self.b = [2, 3]

    def __eq__(self, other):
        return type(other) is Plain and other.__dict__ == self.__dict__

    def __repr__(self):
        return f"Plain({self.__dict__!r})"


def _corpus_objects():
    rec = [1]
    rec.append(rec)
    return [
        None, True, False, 0, 1, -1, 255, 256, 65535, 65536, 2**31 - 1, -2**31,
        2**31, 2**63, 2**100, -2**100, 1.5, -0.0, float("inf"),
        "", "abc", "é€\U0001f600", "a\nb\\c", b"", b"xyz", b"\x00" * 300,
        bytearray(b"ab"), [], [1, 2], (), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4),
        {}, {"a": 1, "b": [1, (2, 3)]}, {1, 2}, frozenset({3}), [[1], [2]],
        collections.OrderedDict(a=1), datetime.date(2020, 1, 2), Plain(),
        complex(1, 2), rec, list(range(1100)), {i: str(i) for i in range(30)},
    ]


CORPUS = [(proto, pickle.dumps(obj, proto))
          for obj in _corpus_objects() for proto in range(pickle.HIGHEST_PROTOCOL + 1)]


def test_corpus_roundtrip():
    for proto, data in CORPUS:
        expected = _pickle.loads(data)
        assert repr(loads(data)) == repr(expected), (proto, data)
        assert repr(_our_file(data)) == repr(expected), (proto, data)


@pytest.mark.parametrize("proto", range(pickle.HIGHEST_PROTOCOL + 1))
def test_truncated_at_every_offset(proto):
    n = 0
    for p, data in CORPUS:
        if p != proto:
            continue
        for cut in range(len(data)):
            assert_same_outcome(data[:cut], must_fail=True)
            n += 1
    assert n > 200


# ---------------------------------------------------------------------------
# Opcodes with bad arguments, misplaced marks, bad memo indices, bad targets

BAD = [
    # unknown opcodes, printable and not
    b"\xff.", b"\x00", b"Z.", b"'", b"\\", b"\x80\x05\x99.",
    # bad protocol
    b"\x80\x06N.", b"\x80\xffN.",
    # empty stack / underflow at STOP and for every consuming opcode
    b".", b"0", b"1", b"2", b"a", b"b", b"e", b"l", b"d", b"s", b"t", b"u",
    b"R", b"\x81", b"\x92", b"\x93", b"\x85", b"\x86", b"\x87", b"\x90",
    b"\x91", b"q\x00", b"r\x00\x00\x00\x00", b"\x94", b"p0\n", b"Q", b"\x98",
    b"N\x86.", b"NN\x87.", b"N\x81.", b"NN\x92.", b"Na.", b"Ns.", b"Nb.",
    # marks out of place
    b"(.", b"(N.", b"N(.", b"(a.", b"(Na.", b"](a.", b"(b.", b"(Nb.",
    b"(\x85.", b"((\x86.", b"(R.", b"(NR.", b"(\x81.", b"(N\x81.", b"(\x93.",
    b"(\x94.", b"(q\x00.", b"(2.", b"(0.", b"(00.", b"(1.", b"11.",
    b"N(s.", b"}(Ns.", b"}N(s.", b"](N(e.", b"N(\x90.", b"(\x90.",
    # odd item counts
    b"(Nd.", b"}(Nu.", b"}(NNNu.", b"(NNNd.",
    # wrong targets
    b"N(Ne.", b"N(Nu.", b"NNNs.", b"N(N\x90.", b"NNa.", b"]N(Ne.",
    b"KxNb.", b"}Kxb.", b"N}b.", b"N(K\x01K\x02tb.", b"\x8f(]\x90.",
    b"](]\x90.", b"\x8f(}\x90.",
    # bad memo indices
    b"g0\n.", b"h\x00.", b"j\x00\x00\x00\x00.", b"j\xff\xff\xff\xff.",
    b"gx\n.", b"g\n.", b"Np-1\n.", b"Np\n.", b"Npx\n.",
    b"Ng99999999999999999999999999\n.", b"Np99999999999999999999999999\n.",
    b"Nq\x00h\x01.",
    # text opcodes with bad arguments
    b"I\n.", b"Ix\n.", b"I-111805916207174113034\n.", b"I99999999999999999999\n.", b"I1x\n.",
    b"I0.5\n.", b"L\n.", b"Lx\n.", b"L1x\n.",
    b"F\n.", b"Fx\n.", b"F1.5x\n.", b"S\n.", b"Sabc\n.", b"S'abc\n.",
    b"S'abc\"\n.", b"S'\\x4'\n.", b"S'\xff'\n.", b"V\\u12\n.", b"I1", b"I",
    b"P\xff\n.", b"Pabc\n.", b"cbuiltins\n.", b"cbuiltins\nlen", b"c\nlen\n.",
    b"cbuiltins\n\n.", b"c\xff\nx\n.", b"cnosuchmodule_xyz\nx\n.",
    b"cbuiltins\nnosuchname_xyz\n.", b"(i\n.", b"(ibuiltins\n\n.",
    b"(i\xff\nx\n.", b"(ibuiltins\nnosuchname_xyz\n.",
    # binary opcodes with bad arguments
    b"T\xff\xff\xff\x7f", b"U\x05ab.", b"\x80\x02U\x02\xff\xfe.",
    b"X\x02\x00\x00\x00\xff\xfe.", b"\x8c\x02\xed\xa0.", b"\x8a\x05ab.",
    b"\x8b\xff\xff\xff\xff.", b"\x8b\x05\x00\x00\x00ab.", b"G\x00\x00.",
    b"B\x05\x00\x00\x00ab.", b"C\x05ab.", b"J\x01\x00.", b"M\x01.", b"K",
    b"\x95\x08\x00\x00\x00\x00\x00\x00\x00N.",
    # globals from the stack
    b"NN\x93.", b"\x8c\x08builtins\x8c\x03len\x86\x93.", b"K\x01K\x02\x93.",
    b"\x8c\x08builtins\x8c\x10nosuchname_xyzzy\x93.",
    b"\x80\x04\x8c\x08builtins\x8c\x0bstr.<locals>\x93.",
    # NEWOBJ / NEWOBJ_EX / REDUCE / OBJ / BUILD with bad types
    b"N)\x81.", b"cbuiltins\nlen\n)\x81.", b"cbuiltins\nlist\nN\x81.",
    b"cbuiltins\nlist\n)N\x92.", b"cbuiltins\nlist\nN}\x92.",
    b"N)\x92.", b"cbuiltins\nlist\nNR.", b"NNR.", b"(N)o.", b"(No.",
    b"cbuiltins\nlen\n)R.", b"(cbuiltins\nlen\no.",
    b"\x80\x02cbuiltins\nobject\n)\x81K\x01b.",
    b"\x80\x02cbuiltins\nobject\n)\x81N}\x86b.",
    b"\x80\x02cbuiltins\nobject\n)\x81}N\x86b.",
    b"\x80\x02ccollections\nOrderedDict\n)\x81}(K\x01K\x02ub.",
    # extension registry
    b"\x82\x00.", b"\x82\x01.", b"\x83\x00\x00.", b"\x83\xff\xff.",
    b"\x84\x00\x00\x00\x00.", b"\x84\xff\xff\xff\xff.", b"\x84\x01\x00\x00\x00.",
    # persistent ids without persistent_load
    b"P0\n.", b"NQ.", b"\x8c\x01xQ.",
    # out-of-band buffers without buffers=
    b"\x80\x05\x97.", b"\x80\x05\x97\x98.",
    # read-only view of something that is not a buffer
    b"N\x98.", b"K\x01\x98.",
]


@pytest.mark.parametrize("data", BAD, ids=[repr(b)[:40] for b in BAD])
def test_bad_input_same_outcome_as_c(data):
    assert_same_outcome(data)


# ---------------------------------------------------------------------------
# Huge length fields: fail fast, without allocating the claimed size.

def _huge_cases():
    big8 = struct.pack("<Q", 1 << 62)
    big4 = struct.pack("<I", 0xFFFFFFF0)
    near_max = struct.pack("<Q", (1 << 63) - 9)
    return {
        "BINBYTES8": b"\x80\x04\x8e" + big8 + b"abcdefgh",
        "BINUNICODE8": b"\x80\x04\x8d" + big8 + b"abcdefgh",
        "BYTEARRAY8": b"\x80\x05\x96" + big8 + b"abcdefgh",
        "FRAME": b"\x80\x04\x95" + big8 + b"N.",
        "BINBYTES": b"\x80\x03B" + big4 + b"abcdefgh",
        "BINUNICODE": b"X" + big4 + b"abcdefgh",
        "BINSTRING": b"T" + big4 + b"abcdefgh",
        "LONG4": b"\x80\x02\x8b" + struct.pack("<i", 0x7FFFFFF0) + b"ab",
        "FRAME_ok_then_BINBYTES8": (b"\x80\x04\x95" + struct.pack("<Q", 10)
                                    + b"\x8e" + big8 + b"x"),
        # Just below PY_SSIZE_T_MAX: _pickle's allocation of the claimed
        # size fails with OverflowError ("byte string is too large") there,
        # not MemoryError; the fuzzer met it through a FRAME read from a
        # BufferedReader.
        "BINBYTES8_near_max": b"\x80\x04\x8e" + near_max + b"abcdefgh",
        "FRAME_near_max": b"\x80\x04\x95" + near_max + b"N.",
    }


class _ReadOnlyFile:
    """A file with only read() and readline() (no peek, no readinto)."""

    def __init__(self, data):
        self._f = io.BytesIO(data)
        self.read = self._f.read
        self.readline = self._f.readline


SOURCES = {
    "loads": lambda d: loads(d),
    "BytesIO": lambda d: Unpickler(io.BytesIO(d)).load(),
    "BufferedReader": lambda d: Unpickler(io.BufferedReader(io.BytesIO(d))).load(),
    "read-only file": lambda d: Unpickler(_ReadOnlyFile(d)).load(),
}


@pytest.mark.parametrize("source", list(SOURCES))
@pytest.mark.parametrize("case", list(_huge_cases()))
def test_huge_length_fails_fast_with_little_memory(case, source):
    data = _huge_cases()[case]
    load = SOURCES[source]
    tracemalloc.start()
    try:
        with pytest.raises(pickle.UnpicklingError, match="truncated|overflow"):
            load(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # At most the first 1 MiB read chunk plus bookkeeping.
    assert peak < 3 * MiB, (case, source, peak)


@pytest.mark.parametrize("source", list(SOURCES))
def test_big_payload_still_loads(source):
    # A real 5 MiB payload crosses several geometric read steps.
    for payload in (b"x" * (5 * MiB + 3), bytearray(b"y" * (3 * MiB)), "z" * (2 * MiB + 1)):
        for proto in (4, 5):
            data = pickle.dumps(payload, proto)
            assert SOURCES[source](data) == payload


def test_binbytes8_beyond_ssize_t_max():
    data = b"\x80\x04\x8e" + b"\xff" * 8 + b"x."
    with pytest.raises(OverflowError):
        loads(data)
    with pytest.raises(OverflowError):
        _pickle.loads(data)


def test_sparse_memo_index_uses_little_memory():
    # LONG_BINPUT / LONG_BINGET at index 2**32-1: _pickle resizes its memo
    # array to 2*index slots; ours stores sparse indices in a dict.
    data = b"\x80\x02]r\xff\xff\xff\xff0j\xff\xff\xff\xffK\x01a."
    tracemalloc.start()
    try:
        result = loads(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result == pickle._loads(data) == [1]
    assert peak < MiB
    u = Unpickler(io.BytesIO(data))
    u.load()
    assert list(u.memo.copy()) == [0xFFFFFFFF]


def test_many_sparse_puts_bounded():
    # Doubling indices must not make the memo array grow geometrically.
    parts = [b"\x80\x02N"]
    idx = 1
    for _ in range(31):
        parts.append(b"r" + struct.pack("<I", idx))
        idx *= 2
    parts.append(b".")
    tracemalloc.start()
    try:
        assert loads(b"".join(parts)) is None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MiB


# ---------------------------------------------------------------------------
# find_class returning odd objects, failing hooks, re-entrant loads

class OddFindClass(Unpickler):
    def __init__(self, file, result):
        super().__init__(file)
        self.result = result

    def find_class(self, module, name):
        return self.result


class COddFindClass(_pickle.Unpickler):
    def __init__(self, file, result):
        super().__init__(file)
        self.result = result

    def find_class(self, module, name):
        return self.result


@pytest.mark.parametrize("odd", [None, 42, "str", [], object(), len, b"x"])
@pytest.mark.parametrize("tail", [b")R.", b")\x81.", b"(o.", b"N\x86\x81.", b"}b.",
                                  b"(K\x01o.", b"N.", b"\x85."])
def test_find_class_returning_odd_objects(odd, tail):
    data = b"\x80\x02cm\nn\n" + tail
    c = _outcome(lambda d: COddFindClass(io.BytesIO(d), odd).load(), data)
    ours = _outcome(lambda d: OddFindClass(io.BytesIO(d), odd).load(), data)
    assert c[0] == ours[0], (c, ours)
    if c[0] == "raise":
        assert type(c[1]) is type(ours[1]), (c, ours)
    else:
        assert repr(c[1]) == repr(ours[1])



# ---------------------------------------------------------------------------
# Rare paths (found untested by a coverage run of the suite): streams
# CPython's pickler never writes but a hand-made or foreign pickle may hold,
# and file objects that answer oddly.

RARE_STREAMS = [
    b"(S'a'\nI1\nS'b'\nI2\nd.",                  # DICT with items (protocol 0)
    b"(S'a'\nI1\nS'b'\nd.",                      # DICT with an odd count
    b"\x80\x02\x8a\x00.",                        # LONG1 with no bytes: 0
    b"\x80\x02\x8b\x00\x00\x00\x00.",            # LONG4 with no bytes: 0
    b"\x80\x04K\x01K\x02\x93.",                  # STACK_GLOBAL with ints
    b"\x80\x04\x8c\x03abcK\x02\x93.",            # STACK_GLOBAL, name not str
    b"\x80\x02K\x01)\x81.",                      # NEWOBJ on an int
    b"\x80\x02ctypes\nGeneratorType\n)\x81.",     # NEWOBJ on a type without __new__
    b"\x80\x04K\x01)}\x92.",                     # NEWOBJ_EX on an int
    b"Pabc\n.",                                  # PERSID, no persistent_load
    b"\x80\x02K\x01Q.",                          # BINPERSID, no persistent_load
    b"\x80\x05\x96\x00\x00\x00\x00\x00\x00\x00\x00",   # empty BYTEARRAY8 at the end
    b"\x80\x05\x96\x00\x00\x00\x00\x00\x00\x00\x00.",  # empty BYTEARRAY8
    b"\x80\x03C\x00.",                           # empty SHORT_BINBYTES
    # A memo index far beyond the entries (kept aside), then enough dense
    # entries that the array grows past it: the far entry must still be found.
    b"\x80\x02]K\x07r\xa0\x0f\x00\x000" + b"".join(
        b"K\x01r" + i.to_bytes(4, "little") + b"0" for i in range(3000))
    + b"j\xa0\x0f\x00\x00a.",
]


@pytest.mark.parametrize("data", RARE_STREAMS, ids=range(len(RARE_STREAMS)))
def test_rare_streams_as_c(data):
    assert_same_outcome(data)


def test_memo_entries_kept_aside_survive_the_array_growing():
    # (the last stream above, with its value checked)
    data = RARE_STREAMS[-1]
    assert loads(data) == _pickle.loads(data) == [7]


class _OddFile:
    """A file whose read()/readinto()/readline() answer as configured."""

    def __init__(self, data, read=None, readinto=None, readline=None):
        self._f = io.BytesIO(data)
        if read is not None:
            self.read = lambda n=-1: read(self._f.read(n))
        else:
            self.read = self._f.read
        if readinto is not None:
            self.readinto = lambda b: readinto(self._f, b)
        self.readline = (lambda: readline(self._f.readline())) if readline else self._f.readline


ODD_FILES = {
    # a payload (BINBYTES) read with read() must come back as bytes
    "read_bytearray_payload": (pickle.dumps(b"x" * 100, 3),
                               {"read": bytearray}),
    "read_bytearray_large_payload": (pickle.dumps([b"y" * 300000], 3),
                                     {"read": bytearray}),
    # readinto() that claims a negative count
    "readinto_negative": (pickle.dumps(b"x" * 100, 3),
                          {"readinto": lambda f, b: -1}),
    # readinto() that reads less than asked: truncated
    "readinto_short": (pickle.dumps(b"x" * 100, 3),
                       {"readinto": lambda f, b: f.readinto(memoryview(b)[:10])}),
    # readline() returning a bytearray (protocol 0 lines)
    "readline_bytearray": (pickle.dumps([1, "a", 2.5], 0),
                           {"readline": bytearray}),
}


@pytest.mark.parametrize("name", sorted(ODD_FILES))
def test_odd_file_answers_as_c(name):
    data, how = ODD_FILES[name]
    c = _outcome(lambda d: _pickle.Unpickler(_OddFile(d, **how)).load(), data)
    ours = _outcome(lambda d: Unpickler(_OddFile(d, **how)).load(), data)
    assert ours[0] == c[0], (c, ours)
    assert type(ours[1]) is type(c[1]), (c, ours)
    if c[0] == "raise":
        assert str(ours[1]) == str(c[1])
    else:
        assert ours[1] == c[1]


def test_buffers_iterator_that_raises():
    data = pickle.dumps(pickle.PickleBuffer(b"ab"), 5, buffer_callback=lambda b: False)

    def failing():
        raise KeyError("from the iterator")
        yield  # pragma: no cover - makes this a generator

    for load in (_pickle.loads, loads):
        with pytest.raises(KeyError, match="from the iterator"):
            load(data, buffers=failing())
