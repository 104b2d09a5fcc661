"""Large arrays without copies (protocol 5): the deterministic properties.

Buffer addresses, memory sharing and tracemalloc peaks; no timings (those
are in benchmarks/).  numpy reports its data allocations to tracemalloc, and
pickler's output buffer is a bytes object, so both show in the peaks.
"""
import _pickle
import gc
import io
import pickle
import tracemalloc

import pytest

import pickler

np = pytest.importorskip("numpy")

MiB = 1 << 20


def address(buf):
    """Start address of the memory a buffer-exporting object exposes."""
    return np.frombuffer(buf, dtype=np.uint8).__array_interface__["data"][0]


def data_address(arr):
    return arr.__array_interface__["data"][0]


def peak_during(fn):
    """(peak bytes allocated above the starting point while fn runs, result).

    A small dumps() first: after a large result, dumps() allocates the next
    storage at that size (see test_dumps_sizes_its_storage_from_the_last_
    large_result); the peaks here are about one call on its own.
    """
    pickler.dumps(None)
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        result = fn()
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    return peak, result


class SizeOnlySink:
    """A file that records what it is given but keeps none of it."""

    def __init__(self):
        self.calls = []

    def write(self, data):
        with memoryview(data) as m:
            self.calls.append((type(data), m.nbytes, m.readonly, address(m) if m.nbytes else 0))
        return len(self.calls)


@pytest.fixture(scope="module")
def big():
    return np.arange(32 * MiB // 8, dtype=np.float64)


def test_out_of_band_callback_gets_a_view_of_the_array(big):
    for arr in (big, big.reshape(1024, -1), np.asfortranarray(big.reshape(1024, -1))):
        seen = []
        data = pickler.dumps(arr, protocol=5, buffer_callback=seen.append)
        assert data == _pickle.dumps(arr, protocol=5, buffer_callback=lambda b: None)
        assert len(seen) == 1
        pb = seen[0]
        assert type(pb) is pickle.PickleBuffer
        with pb.raw() as raw:
            assert raw.nbytes == arr.nbytes
            assert raw.readonly == (not arr.flags.writeable)
            assert address(raw) == data_address(arr)
        back = pickler.loads(data, buffers=seen)
        assert np.shares_memory(back, arr)
        np.testing.assert_array_equal(back, arr)


def test_out_of_band_readonly_array(big):
    ro = big[: 1 * MiB].copy()
    ro.flags.writeable = False
    seen = []
    data = pickler.dumps(ro, protocol=5, buffer_callback=seen.append)
    assert data == _pickle.dumps(ro, protocol=5, buffer_callback=lambda b: None)
    assert pickle.READONLY_BUFFER in data
    with seen[0].raw() as raw:
        assert raw.readonly
        assert address(raw) == data_address(ro)


def test_out_of_band_memory_does_not_grow_with_the_array(big):
    small = big[:128].copy()
    peak_small, _ = peak_during(lambda: pickler.dumps(small, 5, buffer_callback=lambda b: None))
    peak_big, _ = peak_during(lambda: pickler.dumps(big, 5, buffer_callback=lambda b: None))
    # Both are a few KiB of opcodes; nothing proportional to 32 MiB.
    assert peak_big < 64 * 1024
    assert peak_big < peak_small + 16 * 1024


def test_in_band_dumps_peaks_near_the_result_size(big):
    peak, data = peak_during(lambda: pickler.dumps(big, protocol=5))
    assert data == _pickle.dumps(big, protocol=5)
    # One copy of the payload into the result, no intermediate bytes, no
    # geometric over-allocation (the C pickler peaks near 1.5x here).
    assert peak <= 1.05 * len(data)
    c_peak, _ = peak_during(lambda: _pickle.dumps(big, protocol=5))
    assert peak < c_peak


def test_in_band_dump_to_a_file_passes_the_buffer_itself(big):
    sink = SizeOnlySink()
    peak, _ = peak_during(lambda: pickler.dump(big, sink, protocol=5))
    # header chunk, the payload object itself (a PickleBuffer over the
    # array's memory, no copy), trailing chunk: as _pickle writes it.
    kinds = [(t, n) for t, n, _, _ in sink.calls]
    c_sink = SizeOnlySink()
    _pickle.dump(big, c_sink, protocol=5)
    assert kinds == [(t, n) for t, n, _, _ in c_sink.calls]
    payload = [c for c in sink.calls if c[1] == big.nbytes]
    assert len(payload) == 1
    assert payload[0][0] is pickle.PickleBuffer
    assert payload[0][3] == data_address(big)
    assert peak < 1 * MiB


@pytest.mark.parametrize("make_file", [io.BytesIO, "real"])
def test_dump_to_files_round_trips(big, tmp_path, make_file):
    arr = big[: 4 * MiB // 8]
    if make_file == "real":
        path = tmp_path / "a.pkl"
        with open(path, "wb") as f:
            pickler.dump(arr, f, protocol=5)
        raw = path.read_bytes()
    else:
        f = make_file()
        pickler.dump(arr, f, protocol=5)
        raw = f.getvalue()
    assert raw == _pickle.dumps(arr, protocol=5)
    np.testing.assert_array_equal(pickler.loads(raw), arr)


@pytest.mark.parametrize("proto", [2, 3, 4])
def test_older_protocols_copy_no_more_than_c(big, proto):
    arr = big[: 8 * MiB // 8]
    peak, data = peak_during(lambda: pickler.dumps(arr, proto))
    c_peak, c_data = peak_during(lambda: _pickle.dumps(arr, proto))
    assert data == c_data
    assert peak <= c_peak + 64 * 1024


def test_array_kinds_match_c_in_band_and_out_of_band():
    base = np.arange(60, dtype=np.int32)
    ro = base.copy()
    ro.flags.writeable = False
    structured = np.zeros(5, dtype=[("a", "<i4"), ("b", "<f8", (2,))])
    kinds = {
        "c": base.reshape(6, 10),
        "f": np.asfortranarray(base.reshape(6, 10)),
        "noncontig": base[::3],
        "readonly": ro,
        "zero_d": np.array(3.5),
        "empty": np.zeros((0, 4)),
        "object": np.array([1, "a", None], dtype=object),
        "structured": structured,
        "datetime": np.array(["2020-01-01", "2021-06-30"], dtype="datetime64[D]"),
        "complex": np.linspace(0, 1, 7) * 1j,
        "big_endian": base.astype(">i8"),
    }
    for name, arr in kinds.items():
        for proto in range(pickle.HIGHEST_PROTOCOL + 1):
            assert pickler.dumps(arr, proto) == _pickle.dumps(arr, proto), (name, proto)
        ours, theirs = [], []
        data = pickler.dumps(arr, 5, buffer_callback=ours.append)
        assert data == _pickle.dumps(arr, 5, buffer_callback=theirs.append), name
        assert [bytes(b.raw()) for b in ours] == [bytes(b.raw()) for b in theirs], name
        back = pickler.loads(data, buffers=ours)
        if arr.dtype != object:
            np.testing.assert_array_equal(back, arr)
        else:
            assert list(back) == list(arr)
        # Out-of-band buffers are used in place (an empty array shares no
        # memory with anything; non-contiguous ones are pickled in-band).
        if ours and arr.size:
            assert np.shares_memory(back, arr), name


@pytest.mark.parametrize("source", ["bytes", "bytearray", "memoryview"])
def test_picklebuffer_over_builtin_buffers(source):
    raw = bytes(range(256)) * 300
    obj = {"bytes": raw, "bytearray": bytearray(raw),
           "memoryview": memoryview(bytearray(raw))}[source]
    pb = pickle.PickleBuffer(obj)
    for cb in (None, lambda b: True, lambda b: None):
        assert (pickler.dumps(pb, 5, buffer_callback=cb)
                == _pickle.dumps(pb, 5, buffer_callback=cb))
    seen = []
    pickler.dumps(pb, 5, buffer_callback=seen.append)
    assert seen[0] is pb


def test_non_contiguous_picklebuffer_is_refused():
    pb = pickle.PickleBuffer(np.arange(20)[::2])
    for mod in (pickler, _pickle):
        with pytest.raises(pickle.PicklingError):
            mod.dumps(pb, 5)
        with pytest.raises(pickle.PicklingError):
            mod.dumps(pb, 5, buffer_callback=lambda b: None)


def test_raising_buffer_callback_leaves_the_pickler_usable(big):
    class Boom(Exception):
        pass

    def cb(b):
        raise Boom

    f = io.BytesIO()
    p = pickler.Pickler(f, 5, buffer_callback=cb)
    with pytest.raises(Boom):
        p.dump(big)
    p2 = pickler.Pickler(io.BytesIO(), 5, buffer_callback=cb)
    for _ in range(200):
        with pytest.raises(Boom):
            p2.dump([1, big[:10]])
    gc.collect()
    # No leak of the arrays' buffers: the array can still be resized-checked
    # (an outstanding export would make this fail).
    arr = np.arange(10.0)
    with pytest.raises(Boom):
        pickler.dumps(arr, 5, buffer_callback=cb)
    arr.resize(20, refcheck=False)
    f = io.BytesIO()
    pickler.Pickler(f, 5).dump([1, 2])
    assert f.getvalue() == _pickle.dumps([1, 2], 5)


def test_callback_releasing_the_buffer_is_safe():
    arr = np.arange(10000.0)

    class Releasing:
        def __init__(self, pb):
            self.pb = pb

        def __bool__(self):
            self.pb.release()
            return True

    with pytest.raises(ValueError):
        pickler.dumps(arr, 5, buffer_callback=lambda pb: Releasing(pb))
    # The callback's PickleBuffer stays valid while the caller holds it.
    kept = []
    pickler.dumps(arr, 5, buffer_callback=kept.append)
    del arr
    gc.collect()
    with kept[0].raw() as m:
        assert m.nbytes == 10000 * 8


@pytest.mark.parametrize("n", [1 << 20, (1 << 20) + 12345, 3 << 20])
def test_large_results_are_ordinary_bytes(n):
    # A large dumps() result may keep a few KiB of unused storage past its
    # end (detach() sets its size without a realloc): it must behave as any
    # bytes object of that length, NUL-terminated, and equal C's output.
    payload = bytes(range(256)) * (n // 256) + b"x" * (n % 256)
    for obj in (payload, [payload, b"small"], {"a": payload, "b": payload[:1000]}):
        for proto in (2, 4, 5):
            ours = pickler.dumps(obj, proto)
            ref = _pickle.dumps(obj, proto)
            assert type(ours) is bytes and len(ours) == len(ref)
            assert ours == ref and hash(ours) == hash(ref)
            assert ours[-1:] == b"." and ours.endswith(ref[-100:])
            assert pickle.loads(ours) == obj
            # bytes methods that rely on the trailing NUL / the size
            assert ours.find(b".", len(ours) - 1) == len(ours) - 1
            assert (ours + b"!")[-2:] == b".!"


@pytest.mark.parametrize("n", [8 * MiB, 64 * MiB + 4099])
def test_large_payloads_copied_page_by_page_match_c(n):
    """Payloads of 8 MiB and more are copied into storage advised for huge
    pages, from 64 MiB one 2 MiB page of the destination at a time (the
    first piece ends at the first page boundary): every byte lands where
    the C pickler puts it, in dumps() and in loads() of bytes, bytearray
    and arrays."""
    # Random bytes: a piece copied to the wrong offset cannot look right.
    arr = np.random.default_rng(3).integers(0, 256, n, dtype=np.uint8)
    for proto in (4, 5):
        data = pickler.dumps(arr, proto)
        assert data == _pickle.dumps(arr, proto)
        back = pickler.loads(data)
        assert back.dtype == arr.dtype and np.array_equal(back, arr)
        del data, back
    raw = arr.tobytes()
    for obj in (raw, bytearray(raw)):
        got = pickler.loads(_pickle.dumps(obj, 5))
        assert type(got) is type(obj) and got == obj
        del got


def test_dumps_sizes_its_storage_from_the_last_large_result():
    """After a large result, the next dumps() allocates one block of that
    size (not a chain of growing ones): a same-size result then peaks at
    its own size, with nothing else allocated on the way.  A small result
    frees such a block and forgets the size."""
    arr = np.arange(3 * MiB // 8, dtype=np.float64)
    record = {"a": arr, "b": arr[: MiB // 8].copy(), "meta": list(range(1000))}
    expected = _pickle.dumps(record, 5)
    assert pickler.dumps(record, 5) == expected
    # tracemalloc sees every allocation, so a realloc chain would show as
    # blocks above the result size.
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        data = pickler.dumps(record, 5)
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    assert data == expected
    assert peak <= len(data) + 64 * 1024
    # The first small call after it pays for the large block once; the
    # next one is back to small storage.
    assert pickler.dumps(1) == _pickle.dumps(1)
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        assert pickler.dumps((1, 2), 5) == _pickle.dumps((1, 2), 5)
        small_peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    assert small_peak < 64 * 1024
