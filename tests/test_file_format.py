"""pickler.save / pickler.open: the file of a pickle plus aligned buffers.

Round trips of every numpy array kind and of the pandas objects of the
scientific-stack tests under each ``mmap_mode``; what each mode means (read-only
arrays, copy-on-write, writes reaching the file, no mapping); arrays outliving
everything else; atomic writes under an exception, a failing write and a
crash; damaged files; and the format read back by the standard library's
``pickle`` through a reader written from docs/file-format.md alone.
"""
import gc
import os
import pickle
import random
import signal
import struct
import subprocess
import sys
import textwrap
import tracemalloc
import zlib

import pytest

import pickler

np = pytest.importorskip("numpy")

MiB = 1 << 20
MODES = ["r", "c", "r+", None]
HERE = os.path.dirname(os.path.abspath(__file__))
PICKLER_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(pickler.__file__)))


# ------------------------------------------------------------------ helpers

def numpy_arrays():
    """The array kinds of test_differential.py and test_zero_copy.py."""
    ro = np.arange(10, dtype=np.uint16)
    ro.setflags(write=False)
    a = np.arange(5)
    return {
        "float64": np.linspace(0, 1, 17),
        "int8": np.arange(-128, 128, dtype=np.int8),
        "complex": np.array([1 + 2j, -0.0 - 1j]),
        "bool": np.array([True, False, True]),
        "object": np.array([1, "a", None, (1,)], dtype=object),
        "structured": np.array([(1, 2.5, b"ab"), (3, -1.0, b"")],
                               dtype=[("i", "<i4"), ("f", ">f8"), ("s", "S2")]),
        "datetime64": np.array(["2020-01-01", "NaT"], dtype="datetime64[ns]"),
        "timedelta64": np.array([1, 2], dtype="m8[s]"),
        "0-d": np.array(3.5),
        "0-d-big-endian": np.array(7, dtype=">i4"),
        "empty": np.empty((0, 3)),
        "fortran": np.asfortranarray(np.arange(12.0).reshape(3, 4)),
        "non-contiguous": np.arange(100)[::3],
        "non-contiguous-2d": np.arange(24).reshape(4, 6)[:, 1:4],
        "readonly": ro,
        "big": np.arange(20000, dtype=np.float64),       # 160 KB: page-aligned
        "unicode": np.array(["ab", "\u20ac"]),
        "shared-array": [a, a, a[1:]],
        "float16": np.arange(7, dtype=np.float16),
        "odd-sized-then-aligned": [np.arange(3, dtype=np.int8), np.arange(5.0)],
    }


def assert_same(a, b):
    if isinstance(a, np.ndarray):
        assert type(b) is type(a)
        assert (a.dtype, a.shape) == (b.dtype, b.shape)
        if a.flags.f_contiguous and not a.flags.c_contiguous:
            assert b.flags.f_contiguous          # Fortran order is kept
        if a.dtype == object:
            assert a.tolist() == b.tolist()
        else:
            assert a.tobytes() == b.tobytes()
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, pickle.PickleBuffer):
        assert bytes(a.raw()) == bytes(memoryview(b).cast("B"))
    else:
        assert a is b or a == b


def mapped_ranges(path):
    """[(start, end)] of this process's mappings of the file at `path`."""
    ino = os.stat(path).st_ino
    out = []
    with open("/proc/self/maps") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 6 and int(fields[4]) == ino and fields[5] == os.path.realpath(path):
                lo, hi = (int(x, 16) for x in fields[0].split("-"))
                out.append((lo, hi))
    return out


def maps_count(path):
    """How many lines of /proc/self/maps name the file (mapped or not, by name)."""
    with open("/proc/self/maps") as f:
        return f.read().count(os.fspath(path))


def address(arr):
    return arr.__array_interface__["data"][0]


def in_mapping_of(arr, ranges):
    return any(lo <= address(arr) < hi for lo, hi in ranges)


needs_proc_maps = pytest.mark.skipif(
    not os.path.exists("/proc/self/maps"),
    reason="the mapping checks read /proc/self/maps (Linux)")


# A reader written from docs/file-format.md alone (no pickler code): the
# header and index with struct, the pickle stream and buffers as slices.
def read_per_the_doc(path):
    with open(path, "rb") as f:
        data = f.read()
    (magic, version, flags, file_size, index_offset, stream_offset, stream_length,
     nbuffers, index_crc, stream_crc, header_crc) = struct.unpack_from("<8sIIQQQQIIII", data, 0)
    assert magic == b"\x93PICKLER" and version == 1 and file_size == len(data)
    assert zlib.crc32(data[:60]) == header_crc
    index = data[index_offset:index_offset + 24 * nbuffers]
    assert zlib.crc32(index) == index_crc
    stream = data[stream_offset:stream_offset + stream_length]
    assert zlib.crc32(stream) == stream_crc
    buffers = []
    for offset, length, crc, eflags in struct.iter_unpack("<QQII", index):
        buf = data[offset:offset + length]
        if flags & 1:
            assert zlib.crc32(buf) == crc
        buffers.append(buf)
    return stream, buffers, list(struct.iter_unpack("<QQII", index))


def rewrite(path, entries=None, **fields):
    """Re-write the header fields / index entries, with a correct checksum:
    the damage the structural checks must catch, not the CRC."""
    with open(path, "rb") as f:
        data = bytearray(f.read())
    names = ("magic", "version", "flags", "file_size", "index_offset", "stream_offset",
             "stream_length", "nbuffers", "index_crc", "stream_crc")
    head = dict(zip(names, struct.unpack_from("<8sIIQQQQIII", data, 0)))
    old_entries = list(struct.iter_unpack(
        "<QQII", data[head["index_offset"]:head["index_offset"] + 24 * head["nbuffers"]]))
    entries = old_entries if entries is None else entries
    head.update(fields)
    index = b"".join(struct.pack("<QQII", *e) for e in entries)
    start = 64 if head["index_offset"] + len(index) > len(data) else head["index_offset"]
    data[start:start + len(index)] = index
    # the checksum of what a reader finds where the header says the index is
    io, nb = head["index_offset"], head["nbuffers"]
    found = bytes(data[io:io + 24 * nb]) if io + 24 * nb <= len(data) else index
    head["index_crc"] = zlib.crc32(found)
    body = struct.pack("<8sIIQQQQIII", *(head[n] for n in names))
    data[:64] = body + struct.pack("<I", zlib.crc32(body))
    with open(path, "wb") as f:
        f.write(bytes(data))
    return old_entries


@pytest.fixture
def sample(tmp_path):
    """A saved file of three arrays (one page-aligned) and some records."""
    obj = {"small": np.arange(10, dtype=np.int32),
           "big": np.arange(40000, dtype=np.float64),
           "f": np.asfortranarray(np.arange(12.0).reshape(3, 4)),
           "records": [{"id": i, "name": f"r{i}"} for i in range(5)]}
    path = tmp_path / "sample.pkl"
    pickler.save(obj, path, checksum=True)
    return obj, path


# ------------------------------------------------------------ round trips

@pytest.mark.parametrize("mode", MODES)
def test_every_array_kind_round_trips(tmp_path, mode):
    kinds = numpy_arrays()
    path = tmp_path / "kinds.pkl"
    pickler.save(kinds, path, checksum=True)
    back = pickler.open(path, mmap_mode=mode, verify=True)
    assert_same(kinds, back)
    # one shared array stays one object (a slice is a copy, as in pickle)
    shared = back["shared-array"]
    assert shared[0] is shared[1]
    # read-only arrays come back read-only in every mode; writable ones
    # are writable except under "r"
    assert not back["readonly"].flags.writeable
    assert back["big"].flags.writeable == (mode != "r")


@pytest.mark.parametrize("mode", ["r", None])
def test_each_kind_on_its_own(tmp_path, mode):
    for name, arr in numpy_arrays().items():
        path = tmp_path / f"{name}.pkl"
        pickler.save(arr, path)
        assert_same(arr, pickler.open(path, mmap_mode=mode))


def test_plain_objects_buffers_and_no_buffers(tmp_path):
    path = tmp_path / "x.pkl"
    for obj in (None, 1, "text", {"a": [1, 2.5, b"x" * 100000]}, list(range(5000))):
        pickler.save(obj, path)
        assert pickler.open(path) == obj
    raw = bytearray(range(256)) * 1000
    pickler.save([pickle.PickleBuffer(raw), pickle.PickleBuffer(bytes(raw))], path)
    back = pickler.open(path, mmap_mode="c")
    # a bare PickleBuffer loads as the buffer it was given: a view of the mapping
    assert [bytes(b) for b in back] == [bytes(raw)] * 2
    assert back[1].readonly and not back[0].readonly


def test_many_buffers(tmp_path):
    arrays = {i: np.full(i % 97 + 1, i, dtype=np.int16) for i in range(2000)}
    path = tmp_path / "many.pkl"
    pickler.save(arrays, path)
    back = pickler.open(path)
    assert back.keys() == arrays.keys()
    assert all(np.array_equal(arrays[k], back[k]) for k in arrays)


def pandas_cases():
    pytest.importorskip("pandas", reason="pandas is a [test] dependency")
    pytest.importorskip("scipy.sparse", reason="test_scientific_stack imports scipy")
    sys.path.insert(0, HERE)
    try:
        from test_scientific_stack import pandas_objects
    finally:
        sys.path.remove(HERE)
    return dict(pandas_objects())


def assert_pandas_same(a, b):
    import pandas as pd
    t = pd.testing
    assert type(a) is type(b)
    if isinstance(a, pd.DataFrame):
        t.assert_frame_equal(a, b)
    elif isinstance(a, pd.Series):
        t.assert_series_equal(a, b)
    elif isinstance(a, pd.Index):
        t.assert_index_equal(a, b, exact=True)
    elif isinstance(a, pd.api.extensions.ExtensionArray):
        t.assert_extension_array_equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_pandas_same(a[k], b[k])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_pandas_same(x, y)
    else:
        assert a is b or a == b


@pytest.mark.parametrize("mode", MODES)
def test_pandas_objects_round_trip(tmp_path, mode):
    cases = pandas_cases()
    path = tmp_path / "pandas.pkl"
    pickler.save(cases, path, checksum=True)
    back = pickler.open(path, mmap_mode=mode, verify=True)
    assert back.keys() == cases.keys()
    for name in cases:
        assert_pandas_same(cases[name], back[name])
    # the shared frame is still one object
    assert back["shared_frames"]["a"] is back["shared_frames"]["b"][0]


@needs_proc_maps
def test_pandas_frame_block_is_a_view_of_the_mapping(tmp_path):
    pd = pytest.importorskip("pandas", reason="pandas is a [test] dependency")
    frame = pd.DataFrame(np.arange(40000.0).reshape(8000, 5))
    path = tmp_path / "frame.pkl"
    pickler.save(frame, path)
    back = pickler.open(path)
    pd.testing.assert_frame_equal(back, frame)
    assert in_mapping_of(np.asarray(back.values), mapped_ranges(path))


# ------------------------------------------------------------ the layout

def test_stdlib_pickle_reads_the_file_with_a_reader_written_from_the_doc(tmp_path):
    obj = numpy_arrays()
    obj["records"] = [{"id": i, "v": i / 3} for i in range(100)]
    obj["pb"] = pickle.PickleBuffer(bytearray(b"abc" * 30000))
    path = tmp_path / "doc.pkl"
    pickler.save(obj, path, checksum=True)
    stream, buffers, entries = read_per_the_doc(path)
    assert stream[:2] == b"\x80\x05"            # a protocol 5 pickle
    for load in (pickle.loads, pickle._loads):  # the C and the Python unpickler
        assert_same(obj, load(stream, buffers=buffers))
    # the documented alignment: 64 bytes, a page for 64 KiB and more
    assert entries and all(offset % 64 == 0 for offset, _, _, _ in entries)
    assert all(offset % 4096 == 0 for offset, length, _, _ in entries if length >= 65536)
    assert any(length >= 65536 for _, length, _, _ in entries)
    # the read-only flag of the index
    ro = [flags & 1 for _, _, _, flags in entries]
    assert ro.count(1) == 1                  # numpy_arrays()["readonly"]


@needs_proc_maps
@pytest.mark.parametrize("mode", ["r", "c", "r+"])
def test_large_buffers_start_on_a_page_of_the_mapping(sample, mode):
    _, path = sample
    back = pickler.open(path, mmap_mode=mode)
    ranges = mapped_ranges(path)
    assert len(ranges) == 1
    assert (address(back["big"]) - ranges[0][0]) % 4096 == 0
    assert address(back["small"]) % 64 == 0
    assert all(in_mapping_of(back[k], ranges) for k in ("small", "big", "f"))


def test_save_memory_does_not_grow_with_the_arrays(tmp_path):
    """Buffers are written from the arrays' own memory: no copy of the data."""
    def peak(obj):
        # after a large result the next dumps() sizes its storage from it
        # (test_zero_copy.py): a small dumps() first, so the peak is this call's
        pickler.dumps(None)
        gc.collect()
        tracemalloc.start()
        try:
            pickler.save(obj, tmp_path / "m.pkl", fsync=False)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    small = peak({"a": np.ones(1000)})
    big = peak({"a": np.ones(8 * MiB)})        # 64 MiB of data
    assert big < 256 * 1024
    assert big < small + 64 * 1024


def test_open_reads_no_array_data(tmp_path):
    path = tmp_path / "big.pkl"
    pickler.save({"a": np.ones(8 * MiB)}, path, fsync=False)
    gc.collect()
    tracemalloc.start()
    try:
        back = pickler.open(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert back["a"].nbytes == 64 * MiB and peak < 64 * 1024


# ------------------------------------------------------------ mmap_mode

@needs_proc_maps
def test_mode_r_gives_read_only_views_of_the_file(sample):
    _, path = sample
    back = pickler.open(path, mmap_mode="r")
    arr = back["big"]
    assert not arr.flags.writeable
    with pytest.raises(ValueError):
        arr[0] = 1
    assert in_mapping_of(arr, mapped_ranges(path))


@needs_proc_maps
def test_mode_c_is_writable_and_leaves_the_file_unchanged(sample):
    obj, path = sample
    before = path.read_bytes()
    back = pickler.open(path, mmap_mode="c")
    arr = back["big"]
    assert arr.flags.writeable and in_mapping_of(arr, mapped_ranges(path))
    arr[:] = -1
    back["f"][0, 0] = 99
    assert (arr == -1).all()
    assert path.read_bytes() == before
    again = pickler.open(path, mmap_mode="r", verify=True)
    assert_same(obj["big"], again["big"])


@needs_proc_maps
def test_mode_r_plus_writes_reach_the_file(sample):
    obj, path = sample
    back = pickler.open(path, mmap_mode="r+")
    arr = back["big"]
    assert arr.flags.writeable and in_mapping_of(arr, mapped_ranges(path))
    arr[:100] = -7.0
    # another reader sees the change at once (the same page cache) ...
    again = pickler.open(path, mmap_mode=None)
    assert (again["big"][:100] == -7.0).all()
    assert np.array_equal(again["big"][100:], obj["big"][100:])
    del back, arr
    gc.collect()
    # ... and after the mapping is gone; the stored checksum now disagrees
    assert (pickler.open(path)["big"][:100] == -7.0).all()
    with pytest.raises(pickler.FileFormatError, match="buffer 1 .*checksum mismatch"):
        pickler.open(path, verify=True)


@needs_proc_maps
def test_mode_none_reads_into_memory(sample):
    obj, path = sample
    back = pickler.open(path, mmap_mode=None)
    arr = back["big"]
    assert arr.flags.writeable
    assert mapped_ranges(path) == []
    arr[:] = 5
    assert_same(obj["big"], pickler.open(path, verify=True)["big"])
    # the file can change under it
    pickler.save({"big": np.zeros(3)}, path)
    with open(path, "r+b") as f:
        f.truncate(10)
    assert (arr == 5).all() and back["small"].sum() == obj["small"].sum()


def test_bad_arguments(tmp_path, sample):
    _, path = sample
    with pytest.raises(ValueError, match="mmap_mode"):
        pickler.open(path, mmap_mode="w+")
    with pytest.raises(ValueError, match="protocol 5"):
        pickler.save(1, tmp_path / "p4.pkl", protocol=4)
    assert not (tmp_path / "p4.pkl").exists()
    with pytest.raises(FileNotFoundError):
        pickler.save(1, tmp_path / "no-such-dir" / "x.pkl")
    with pytest.raises(FileNotFoundError):
        pickler.open(tmp_path / "missing.pkl")
    with pytest.raises(pickler.FileFormatError, match="not a regular file"):
        pickler.open(tmp_path)
    (tmp_path / "adir").mkdir()
    with pytest.raises(IsADirectoryError):
        pickler.save(np.arange(3), tmp_path / "adir")     # fails at the rename
    assert sorted(os.listdir(tmp_path)) == ["adir", "sample.pkl"]
    pickler.save(1, tmp_path / "highest.pkl", protocol=-1)
    assert pickler.open(tmp_path / "highest.pkl") == 1


# ------------------------------------------------------------ lifetime

@needs_proc_maps
@pytest.mark.parametrize("mode", ["r", "c", "r+"])
def test_arrays_outlive_everything_else(tmp_path, mode):
    path = tmp_path / "life.pkl"
    data = np.arange(50000, dtype=np.float64)
    pickler.save({"a": data, "b": data[:10].copy()}, path)
    view = pickler.open(path, mmap_mode=mode)["a"][1000:2000]
    gc.collect()
    # the dict, the other array, the base array are gone; the mapping is not
    assert len(mapped_ranges(path)) == 1
    # replace the file (atomic rename: a new inode) and delete it
    pickler.save({"a": np.zeros(10)}, path)
    os.unlink(path)
    gc.collect()
    assert np.array_equal(view, data[1000:2000])
    if mode != "r":
        view[:] = 0
        assert view.sum() == 0
    # the mapping goes with the last array
    assert maps_count(path) == 1
    del view
    gc.collect()
    assert maps_count(path) == 0


@needs_proc_maps
def test_no_mapping_left_after_a_failed_load(tmp_path):
    path = tmp_path / "bad.pkl"
    pickler.save([np.arange(10.0), np.arange(20.0)], path)
    rewrite(path, nbuffers=1, entries=rewrite(path)[:1])
    with pytest.raises(pickle.UnpicklingError):
        pickler.open(path)
    gc.collect()
    assert maps_count(path) == 0


# ------------------------------------------------------------ atomicity

class RaisesOnPickle:
    def __reduce__(self):
        raise RuntimeError("injected failure")


def only_file_in(directory, name):
    assert sorted(os.listdir(directory)) == [name]


def test_exception_mid_save_leaves_the_old_file(tmp_path):
    path = tmp_path / "keep.pkl"
    pickler.save({"old": np.arange(10)}, path)
    before = path.read_bytes()
    arrays = [np.ones(100000) for _ in range(3)]   # handed to buffer_callback first
    with pytest.raises(RuntimeError, match="injected failure"):
        pickler.save([*arrays, RaisesOnPickle()], path)
    assert path.read_bytes() == before
    only_file_in(tmp_path, "keep.pkl")


@pytest.mark.parametrize("tmpfile", [True, False], ids=["O_TMPFILE", "named-temporary"])
def test_failing_write_leaves_the_old_file(tmp_path, monkeypatch, tmpfile):
    if not tmpfile:
        # the path taken where the filesystem has no O_TMPFILE
        monkeypatch.delattr(os, "O_TMPFILE", raising=False)
    path = tmp_path / "keep.pkl"
    pickler.save({"old": np.arange(10)}, path)
    before = path.read_bytes()
    real_write = os.writev
    calls = []

    def failing_writev(fd, chunks):
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(28, "No space left on device (injected)")
        return real_write(fd, chunks[:2])     # a short write, then a failure

    monkeypatch.setattr(os, "writev", failing_writev)
    with pytest.raises(OSError, match="injected"):
        pickler.save([np.ones(100000), np.ones(200000)], path)
    monkeypatch.undo()
    assert len(calls) == 2
    assert path.read_bytes() == before
    only_file_in(tmp_path, "keep.pkl")
    pickler.save({"new": 1}, path)                  # and the next save works
    assert pickler.open(path) == {"new": 1}


CHILD = textwrap.dedent("""
    import os, resource, signal, sys
    sys.path.insert(0, {root!r})
    import numpy as np
    import pickler
    if {crash}:
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)   # die at the limit
    resource.setrlimit(resource.RLIMIT_FSIZE, (4 << 20, resource.RLIM_INFINITY))
    try:
        pickler.save([np.ones(1 << 20), np.ones(1 << 20)], {path!r})
    except OSError as e:
        print("OSError", e.errno)
        sys.exit(3)
    print("saved")
""")


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE (POSIX)")
@pytest.mark.parametrize("crash", [False, True], ids=["EFBIG", "killed-mid-write"])
def test_write_past_the_file_size_limit(tmp_path, crash):
    """A real failing write (EFBIG), and a process killed mid-write (SIGXFSZ):
    the old file stays whole and no temporary is left (O_TMPFILE)."""
    path = tmp_path / "keep.pkl"
    pickler.save({"old": np.arange(10)}, path)
    before = path.read_bytes()
    proc = subprocess.run([sys.executable, "-c", CHILD.format(
        root=PICKLER_ROOT, crash=crash, path=os.fspath(path))],
        capture_output=True, text=True, timeout=120, check=False)
    if crash:
        assert proc.returncode == -signal.SIGXFSZ, proc
    else:
        assert proc.returncode == 3 and "OSError 27" in proc.stdout, proc
    assert path.read_bytes() == before
    only_file_in(tmp_path, "keep.pkl")


def test_save_fsyncs_the_file_and_the_directory(tmp_path, monkeypatch):
    real_fsync = os.fsync
    synced = []

    def recording_fsync(fd):
        synced.append(os.path.realpath(f"/proc/self/fd/{fd}")
                      if os.path.exists("/proc/self/fd") else fd)
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    pickler.save(np.arange(10), tmp_path / "s.pkl")
    assert len(synced) == 2
    if os.path.exists("/proc/self/fd"):
        assert synced[1] == os.path.realpath(tmp_path)
    synced.clear()
    pickler.save(np.arange(10), tmp_path / "s.pkl", fsync=False)
    assert synced == []


# ------------------------------------------------------------ damaged files

def expect_damaged(path, match, mode="r", **kw):
    with pytest.raises(pickler.FileFormatError, match=match) as info:
        pickler.open(path, mmap_mode=mode, **kw)
    assert isinstance(info.value, pickle.UnpicklingError)
    assert isinstance(info.value, ValueError)
    assert os.fspath(path) in str(info.value)


@pytest.mark.parametrize("mode", ["r", None])
def test_truncated(sample, mode):
    _, path = sample
    whole = path.read_bytes()
    for size in (0, 5, 63, 64, 100, 1000, 4096, len(whole) // 2, len(whole) - 1):
        path.write_bytes(whole[:size])
        expect_damaged(path, "truncated", mode)
    path.write_bytes(whole + b"\0")
    expect_damaged(path, "appended", mode)


@pytest.mark.parametrize("mode", ["r", None])
def test_wrong_magic_and_version(sample, tmp_path, mode):
    _, path = sample
    whole = path.read_bytes()
    path.write_bytes(b"\x93NUMPY\x01\x00" + whole[8:])
    expect_damaged(path, "not a pickler file", mode)
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps(list(range(100)), 5))
    expect_damaged(plain, "plain pickle", mode)
    path.write_bytes(whole)
    rewrite(path, version=2)
    expect_damaged(path, "unsupported format version 2", mode)
    path.write_bytes(whole[:8] + struct.pack("<I", 0) + whole[12:])
    expect_damaged(path, "version 0", mode)


def test_index_and_regions_outside_the_file(sample):
    _, path = sample
    whole = path.read_bytes()
    size = len(whole)
    cases = [
        ({"nbuffers": (1 << 32) - 1}, "index of .* entries at offset 64 lies outside"),
        ({"nbuffers": size // 24}, "lies outside"),
        ({"index_offset": size - 10}, "lies outside"),
        ({"index_offset": 3}, "lies outside"),
        ({"stream_offset": size - 3}, "pickle stream .* lies outside"),
        ({"stream_length": 1 << 63}, "pickle stream .* lies outside"),
        ({"stream_offset": 0}, "pickle stream .* lies outside"),
        ({"flags": 6}, "unknown header flags 0x6"),
    ]
    for fields, match in cases:
        path.write_bytes(whole)
        rewrite(path, **fields)
        expect_damaged(path, match)
    path.write_bytes(whole)
    entries = rewrite(path)
    for i, bad, match in [
        (0, ((size // 64 + 1) * 64, 8, 0, 0), "buffer 0 .* extends past the end"),
        (1, (entries[1][0], size, 0, 0), "buffer 1 .* extends past the end"),
        (2, ((1 << 64) - 64, 64, 0, 0), "buffer 2 .* extends past the end"),
        (0, (entries[0][0] + 8, entries[0][1], 0, 0), "buffer 0: offset .* misaligned"),
        (2, (entries[1][0] + 64, entries[2][1], 0, 0), "buffer . .* overlaps buffer ."),
        (0, (entries[1][0], entries[0][1], 0, 0), "overlaps"),
        (0, (0, 64, 0, 0), "buffer 0 .* overlaps the header|the header .*overlaps"),
        (1, (64, 64, 0, 0), "overlaps"),
        (0, (entries[0][0], entries[0][1], 0, 2), "buffer 0: unknown flags 0x2"),
    ]:
        path.write_bytes(whole)
        changed = list(entries)
        changed[i] = bad
        rewrite(path, entries=changed)
        expect_damaged(path, match)


def test_buffers_in_any_order_are_valid(tmp_path):
    """Readers rely on the index, not on the order of the regions."""
    path = tmp_path / "order.pkl"
    a, b = np.arange(1000.0), -np.arange(1000.0)
    pickler.save([a, b], path)
    (oa, na, ca, fa), (ob, nb, cb, fb) = rewrite(path)
    rewrite(path, entries=[(ob, nb, cb, fb), (oa, na, ca, fa)])
    back = pickler.open(path)
    assert np.array_equal(back[0], b) and np.array_equal(back[1], a)


def test_checksums_catch_damage(sample):
    obj, path = sample
    whole = path.read_bytes()
    _, _, entries = read_per_the_doc(path)
    (stream_offset,) = struct.unpack_from("<Q", whole, 32)
    for pos, match in [(20, "header checksum"),
                       (58, "header checksum"),
                       (64 + 5, "index checksum"),
                       (stream_offset + 10, "pickle stream checksum")]:
        damaged = bytearray(whole)
        damaged[pos] ^= 0x10
        path.write_bytes(bytes(damaged))
        expect_damaged(path, match)
        expect_damaged(path, match, mode=None)
    # a flipped bit in array data: found when asked (verify=True) ...
    damaged = bytearray(whole)
    damaged[entries[1][0] + 1000] ^= 1
    path.write_bytes(bytes(damaged))
    expect_damaged(path, "buffer 1 .*checksum mismatch", verify=True)
    expect_damaged(path, "buffer 1 .*checksum mismatch", mode=None, verify=True)
    # ... and not read otherwise (opening does not touch the data)
    back = pickler.open(path)
    assert not np.array_equal(back["big"], obj["big"])
    # verify=True on a file saved without checksums is refused, not skipped
    pickler.save(obj, path)
    expect_damaged(path, "saved without buffer checksums", verify=True)


def test_stream_wanting_more_buffers_than_the_index_has(sample):
    _, path = sample
    entries = rewrite(path)
    rewrite(path, nbuffers=2, entries=entries[:2])
    with pytest.raises(pickle.UnpicklingError):
        pickler.open(path)


def test_random_header_and_index_damage_never_escapes(sample):
    """Random values in every header field and index entry, with correct
    checksums: open() loads or raises UnpicklingError (FileFormatError
    included), never anything else, never a crash."""
    _, path = sample
    whole = path.read_bytes()
    entries = rewrite(path)
    rng = random.Random(1234)
    size = len(whole)
    fields = ["nbuffers", "index_offset", "stream_offset", "stream_length", "file_size"]

    def value():
        return rng.choice([0, 1, 24, 63, 64, 4096, size - 1, size, size + 1,
                           rng.randrange(size + 100), (1 << 64) - 1, (1 << 63) + rng.randrange(99)])
    outcomes = {}
    for _ in range(400):
        path.write_bytes(whole)
        kw = {}
        if rng.random() < 0.5:
            kw[rng.choice(fields)] = value()
        changed = [tuple(value() if rng.random() < 0.2 else x for x in e[:2]) + e[2:]
                   for e in entries]
        try:
            rewrite(path, entries=changed, **kw)
        except (struct.error, ValueError):
            continue                      # not representable in the format
        try:
            pickler.open(path)
            outcome = "loaded"
        except pickle.UnpicklingError as e:
            outcome = type(e).__name__
        except (ValueError, TypeError, EOFError) as e:
            # what numpy's reconstruction raises for a buffer of the wrong size
            outcome = "numpy:" + type(e).__name__
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert outcomes.get("FileFormatError", 0) > 100, outcomes


# ------------------------------------------------------------ allow=

CALLS = []


def record(what):
    CALLS.append(what)


class Recorded:
    """Unpickles by calling record(): a global no allowlist permits."""

    def __reduce__(self):
        return (record, ("ran",))


# The safe loader lands from issue 16 (pickler.SafeUnpickler and the
# allowlists in pickler.safe); until then open(allow=...) must refuse.
@pytest.mark.skipif(not hasattr(pickler, "SafeUnpickler"),
                    reason="pickler.SafeUnpickler: the safe loader lands from issue 16")
def test_allow_loads_through_the_safe_loader(tmp_path):
    path = tmp_path / "safe.pkl"
    data = {"x": np.arange(1000.0), "meta": [1, "a"]}
    pickler.save(data, path)
    back = pickler.open(path, allow=pickler.safe.numpy)
    assert_same(data, back)
    pickler.save([np.arange(3), Recorded()], path)
    CALLS.clear()
    with pytest.raises(pickle.UnpicklingError):
        pickler.open(path, allow=pickler.safe.numpy)
    assert CALLS == []
    assert pickler.open(path)[1] is None and CALLS == ["ran"]


@pytest.mark.skipif(hasattr(pickler, "SafeUnpickler"),
                    reason="pickler.SafeUnpickler exists: the test above runs instead")
def test_allow_without_the_safe_loader_refuses(sample):
    _, path = sample
    with pytest.raises(NotImplementedError, match="SafeUnpickler"):
        pickler.open(path, allow=())
    CALLS.clear()
    pickler.save(Recorded(), path)
    with pytest.raises(NotImplementedError):
        pickler.open(path, allow=["numpy.ndarray"])
    assert CALLS == []


# ------------------------------------------------------------ the example

def test_example_runs():
    """examples/file_format.py checks its own round trip and exits non-zero
    on a mismatch (run here rather than in test_examples.py's list)."""
    script = os.path.join(os.path.dirname(HERE), "examples", "file_format.py")
    env = dict(os.environ, PYTHONPATH=PICKLER_ROOT)
    proc = subprocess.run([sys.executable, script], capture_output=True, text=True,
                          timeout=300, env=env, cwd=os.path.dirname(script), check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "contents equal" in proc.stdout and len(proc.stdout.splitlines()) <= 4
