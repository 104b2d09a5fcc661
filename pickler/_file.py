"""Files of arrays that open instantly: a protocol 5 pickle plus aligned buffers.

``save(obj, path)`` pickles ``obj`` at protocol 5 with a ``buffer_callback``:
the pickle stream keeps the object graph, and every out-of-band buffer (the
data of numpy arrays, pandas blocks, ``PickleBuffer`` objects) is written
straight from the object's own memory to its own aligned place in the file.
``open(path)`` maps the file and loads the pickle with ``buffers=`` views of
the mapping, so arrays come back without their data being read.

The layout is in ``docs/file-format.md``.  This module is plain Python on
purpose: the per-object work is done by the compiled ``dumps``/``loads``, and
the bulk work by the kernel (``writev``, ``mmap``); what is left here is a
constant number of steps per buffer.
"""
import io
import itertools
import mmap
import os
import stat
import struct
import sys
import zlib
from pickle import HIGHEST_PROTOCOL, UnpicklingError

from ._pickler import dumps
from ._unpickler import loads

MAGIC = b"\x93PICKLER"
VERSION = 1

# Header: magic, version, flags, file_size, index_offset, stream_offset,
# stream_length, nbuffers, index_crc32, stream_crc32, then header_crc32: a
# CRC-32 of the 60 bytes before it (64 bytes in all).
_HEADER = struct.Struct("<8sIIQQQQIIII")
_HEADER_BODY = struct.Struct("<8sIIQQQQIII")
# Index entry: offset, length, crc32, flags (24 bytes).
_ENTRY = struct.Struct("<QQII")
HEADER_SIZE = _HEADER.size
ENTRY_SIZE = _ENTRY.size

FLAG_CHECKSUMS = 1          # header: each index entry's crc32 is valid
ENTRY_READONLY = 1          # entry: the buffer was read-only when saved
_HEADER_FLAGS = FLAG_CHECKSUMS
_ENTRY_FLAGS = ENTRY_READONLY

ALIGN = 64                  # every buffer starts on a multiple of this
PAGE_ALIGN_MIN = 1 << 16    # buffers at least this long start on a page
PAGE = max(4096, mmap.PAGESIZE, mmap.ALLOCATIONGRANULARITY)
_ZEROS = bytes(PAGE)

try:
    _IOV_MAX = min(max(os.sysconf("SC_IOV_MAX"), 16), 1024)
except (AttributeError, ValueError, OSError):
    _IOV_MAX = 16
_MODES = {"r": mmap.ACCESS_READ, "c": mmap.ACCESS_COPY, "r+": mmap.ACCESS_WRITE, None: None}
_O_BINARY = getattr(os, "O_BINARY", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_MMAP_KW = {"trackfd": False} if sys.version_info >= (3, 13) else {}


class FileFormatError(UnpicklingError, ValueError):
    """A file that is not a well-formed pickler file.

    A subclass of both ``pickle.UnpicklingError`` (what ``pickle.load``
    raises for a damaged pickle) and ``ValueError`` (what ``numpy.load``
    raises for a damaged ``.npy``), so either ``except`` clause catches it.
    The message names the problem and the offsets involved.
    """


def _round_up(n, align):
    return (n + align - 1) // align * align


def _layout(stream_length, lengths):
    """(index_offset, stream_offset, [buffer offsets], file_size)."""
    index_offset = HEADER_SIZE
    stream_offset = index_offset + ENTRY_SIZE * len(lengths)
    pos = stream_offset + stream_length
    offsets = []
    for n in lengths:
        pos = _round_up(pos, PAGE if n >= PAGE_ALIGN_MIN else ALIGN)
        offsets.append(pos)
        pos += n
    return index_offset, stream_offset, offsets, pos


# ---------------------------------------------------------------- writing

def _writev_all(fd, chunks):
    """Write every buffer of `chunks` in order, looping over short writes."""
    writev = getattr(os, "writev", None)
    chunks = [c for c in chunks if len(c)]
    i = 0
    while i < len(chunks):
        if writev is None:
            n = os.write(fd, chunks[i])
        else:
            n = writev(fd, chunks[i:i + _IOV_MAX])
        if n <= 0:
            raise OSError("write() wrote nothing")
        while n:
            c = chunks[i]
            if n >= len(c):
                n -= len(c)
                i += 1
            else:
                chunks[i] = c[n:]
                n = 0


def _fsync_dir(dirname):
    try:
        fd = os.open(dirname, os.O_RDONLY | _O_CLOEXEC)
    except OSError:                      # e.g. Windows: directories cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass                             # some filesystems refuse fsync on directories
    finally:
        os.close(fd)


def _temp_name(dirname, base):
    return os.path.join(dirname, f".{base}.{os.urandom(6).hex()}.tmp")


class _Target:
    """The file being written: an unnamed O_TMPFILE inode where the OS has
    them (a crash at any point leaves nothing behind), else a hidden
    temporary name in the same directory, removed on failure."""

    def __init__(self, path):
        path = os.fspath(path)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        self.path = os.path.abspath(path)
        self.dirname, base = os.path.split(self.path)
        if not base:
            raise IsADirectoryError(f"save() needs a file name, got {path!r}")
        self.base = base
        self.temp = None
        self.fd = -1
        o_tmpfile = getattr(os, "O_TMPFILE", 0)
        if o_tmpfile and os.link in os.supports_dir_fd and os.path.isdir("/proc/self/fd"):
            try:
                self.fd = os.open(self.dirname, o_tmpfile | os.O_WRONLY | _O_CLOEXEC, 0o666)
            except (OSError, ValueError):
                self.fd = -1     # filesystem without O_TMPFILE: a named temporary
        if self.fd < 0:
            self.temp = _temp_name(self.dirname, base)
            self.fd = os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                              | _O_BINARY | _O_CLOEXEC, 0o666)

    def commit(self, fsync):
        if fsync:
            os.fsync(self.fd)
        if self.temp is None:
            # Give the unnamed inode a temporary name, then rename it over the
            # target (link() cannot replace an existing name).
            # os.link() follows the /proc symlink to the inode only through
            # linkat(AT_SYMLINK_FOLLOW), which it calls when given a dir_fd.
            temp = _temp_name(self.dirname, self.base)
            dir_fd = os.open(self.dirname, os.O_RDONLY | _O_CLOEXEC)
            try:
                os.link(f"/proc/self/fd/{self.fd}", os.path.basename(temp),
                        dst_dir_fd=dir_fd, follow_symlinks=True)
            finally:
                os.close(dir_fd)
            self.temp = temp
        os.close(self.fd)
        self.fd = -1
        os.replace(self.temp, self.path)
        self.temp = None
        if fsync:
            _fsync_dir(self.dirname)

    def discard(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.temp is not None:
            try:
                os.unlink(self.temp)
            except FileNotFoundError:
                pass
            self.temp = None


def save(obj, path, *, protocol=5, checksum=False, fsync=True):
    """Write `obj` to `path` as a pickle stream plus aligned out-of-band buffers.

    The object is pickled with protocol 5 and a ``buffer_callback``; each
    out-of-band buffer is written from the object's own memory (no copy) at
    an offset that is a multiple of 64 bytes, and of the page size for
    buffers of 64 KiB or more.  ``checksum=True`` stores a CRC-32 of every
    buffer (``open(path, verify=True)`` checks them); the header, index and
    pickle stream always have one.  The file appears complete under its
    name or not at all: it is written to an unnamed (or hidden temporary)
    file in the same directory, ``fsync``-ed (unless ``fsync=False``),
    renamed over `path`, and the directory is ``fsync``-ed.
    """
    if protocol is None or protocol < 0:
        protocol = HIGHEST_PROTOCOL
    if protocol < 5:
        raise ValueError("the file format stores out-of-band buffers, which need "
                         f"protocol 5 or higher; got protocol {protocol}")
    pickle_buffers = []
    stream = dumps(obj, protocol, buffer_callback=pickle_buffers.append)
    views = []
    try:
        for pb in pickle_buffers:
            views.append(pb.raw())
        lengths = [v.nbytes for v in views]
        index_offset, stream_offset, offsets, file_size = _layout(len(stream), lengths)
        entries = bytearray()
        for view, offset, length in zip(views, offsets, lengths):
            crc = zlib.crc32(view) if checksum else 0
            entries += _ENTRY.pack(offset, length, crc,
                                   ENTRY_READONLY if view.readonly else 0)
        flags = FLAG_CHECKSUMS if checksum else 0
        body = _HEADER_BODY.pack(MAGIC, VERSION, flags, file_size, index_offset,
                                 stream_offset, len(stream), len(views),
                                 zlib.crc32(entries), zlib.crc32(stream))
        head = body + struct.pack("<I", zlib.crc32(body))
        chunks = [head, entries, stream]
        pos = stream_offset + len(stream)
        zeros = memoryview(_ZEROS)
        for view, offset in zip(views, offsets):
            if offset > pos:
                chunks.append(zeros[:offset - pos])
            chunks.append(view)
            pos = offset + view.nbytes
        target = _Target(path)
        try:
            _writev_all(target.fd, chunks)
            target.commit(fsync)
        except BaseException:
            target.discard()
            raise
    finally:
        for view in views:
            view.release()


# ---------------------------------------------------------------- reading

def _damaged(path, message):
    return FileFormatError(f"{os.fspath(path)}: {message}")


def _check_header(path, view, size):
    """Validate the header and index; return (header fields, entries)."""
    if size < HEADER_SIZE or bytes(view[:len(MAGIC)]) != MAGIC:
        head = bytes(view[:len(MAGIC)])
        if MAGIC.startswith(head) and size < HEADER_SIZE:
            raise _damaged(path, f"truncated: {size} bytes, shorter than the "
                           f"{HEADER_SIZE}-byte header")
        hint = ""
        if head[:1] == b"\x80":
            hint = " (it starts like a plain pickle: use pickler.load)"
        raise _damaged(path, f"not a pickler file: the magic number is {head!r}, "
                       f"expected {MAGIC!r}{hint}")
    (_, version, flags, file_size, index_offset, stream_offset, stream_length,
     nbuffers, index_crc, stream_crc, header_crc) = _HEADER.unpack_from(view)
    if version != VERSION:
        raise _damaged(path, f"unsupported format version {version} (this pickler "
                       f"reads version {VERSION})")
    if zlib.crc32(bytes(view[:_HEADER_BODY.size])) != header_crc:
        raise _damaged(path, "header checksum mismatch (the file is damaged)")
    if file_size != size:
        if size < file_size:
            raise _damaged(path, f"truncated: the header records {file_size} bytes, "
                           f"the file has {size}")
        raise _damaged(path, f"the file has {size} bytes, the header records {file_size} "
                       "(data appended after the end)")
    if flags & ~_HEADER_FLAGS:
        raise _damaged(path, f"unknown header flags {flags & ~_HEADER_FLAGS:#x}")
    if index_offset < HEADER_SIZE or index_offset + nbuffers * ENTRY_SIZE > size:
        raise _damaged(path, f"index of {nbuffers} entries at offset {index_offset} lies "
                       f"outside the file ({size} bytes)")
    index = bytes(view[index_offset:index_offset + nbuffers * ENTRY_SIZE])
    if zlib.crc32(index) != index_crc:
        raise _damaged(path, "index checksum mismatch (the file is damaged)")
    entries = list(_ENTRY.iter_unpack(index))
    return (flags, nbuffers, index_offset, stream_offset, stream_length, stream_crc), entries


def _check_regions(path, size, index_offset, nbuffers, stream_offset, stream_length, entries):
    """Every region inside the file, buffers aligned, no two regions overlapping."""
    if stream_offset < HEADER_SIZE or stream_offset + stream_length > size:
        raise _damaged(path, f"pickle stream (offset {stream_offset}, length {stream_length}) "
                       f"lies outside the file ({size} bytes)")
    # Fast path, the layout save() writes: index and stream apart, then the
    # buffers in index order, each after the previous one (one pass, no sort).
    index_end = index_offset + nbuffers * ENTRY_SIZE
    stream_end = stream_offset + stream_length
    if not (nbuffers and stream_length and index_offset < stream_end
            and stream_offset < index_end):
        pos = max(HEADER_SIZE, index_end if nbuffers else 0,
                  stream_end if stream_length else 0)
        for offset, length, _, eflags in entries:
            if eflags & ~_ENTRY_FLAGS or offset % ALIGN or offset + length > size:
                break
            if length:
                if offset < pos:
                    break
                pos = offset + length
        else:
            return
    # Anything else: check every region and name the first problem.
    regions = [(0, HEADER_SIZE, "the header"),
               (index_offset, index_offset + nbuffers * ENTRY_SIZE, "the index"),
               (stream_offset, stream_offset + stream_length, "the pickle stream")]
    for i, (offset, length, _, eflags) in enumerate(entries):
        if eflags & ~_ENTRY_FLAGS:
            raise _damaged(path, f"buffer {i}: unknown flags {eflags & ~_ENTRY_FLAGS:#x}")
        if offset % ALIGN:
            raise _damaged(path, f"buffer {i}: offset {offset} is misaligned (not a "
                           f"multiple of {ALIGN})")
        if offset + length > size:
            raise _damaged(path, f"buffer {i} (offset {offset}, length {length}) extends "
                           f"past the end of the file ({size} bytes)")
        regions.append((offset, offset + length, f"buffer {i}"))
    regions = sorted(r for r in regions if r[1] > r[0])
    for (s0, e0, n0), (s1, e1, n1) in itertools.pairwise(regions):
        if s1 < e0:
            raise _damaged(path, f"{n1} (bytes {s1}-{e1}) overlaps {n0} (bytes {s0}-{e0})")


def _read_into_memory(fd, size, path):
    """The whole file in fresh private memory (anonymous pages, not the file's)."""
    if hasattr(mmap, "MAP_PRIVATE"):
        # (Huge pages, madvise(MADV_HUGEPAGE), were measured and not kept: on
        # the development VM a 512 MiB read took 0.11-0.19 s or 1.9-2.7 s
        # depending on whether the kernel had huge pages at hand, median
        # worse than 4 KiB pages at 0.55-1.5 s; docs/file-format.md.)
        memory = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE)
    else:
        memory = bytearray(size)
    view = memoryview(memory)
    with io.FileIO(fd, "rb", closefd=False) as f:
        got = 0
        while got < size:
            n = f.readinto(view[got:])
            if not n:
                raise _damaged(path, f"truncated while reading: {got} of {size} bytes")
            got += n
    return memory


def _safe_unpickler():
    import pickler
    cls = getattr(pickler, "SafeUnpickler", None)
    if cls is None:
        raise NotImplementedError(
            "open(path, allow=...) loads through pickler.SafeUnpickler, the allowlist "
            "loader, which this build of pickler does not have yet")
    return cls


def open(path, *, mmap_mode="r", allow=None, verify=False):
    """Load the object saved by :func:`save` at `path`.

    `mmap_mode` follows ``numpy.load``: ``"r"`` maps the file read-only (the
    arrays are read-only views of the page cache), ``"c"`` copy-on-write
    (writable arrays; writes stay in this process), ``"r+"`` shared (writes
    to the arrays reach the file), ``None`` reads the whole file into memory.
    The mapping lives as long as any object loaded from it.

    `allow`: load through ``pickler.SafeUnpickler(..., allow=allow)`` (only
    the globals it allows can be loaded); ``None`` loads with the ordinary,
    trusting unpickler.  `verify=True` checks every buffer's CRC-32 (reading
    all of the data); the header, index and pickle stream are always checked.

    Raises :class:`FileFormatError` for a file that is not a well-formed
    pickler file, naming the problem.
    """
    if mmap_mode not in _MODES:
        raise ValueError(f"mmap_mode must be 'r', 'c', 'r+' or None, not {mmap_mode!r}")
    loader = _safe_unpickler() if allow is not None else None
    fd = os.open(path, (os.O_RDWR if mmap_mode == "r+" else os.O_RDONLY)
                 | _O_BINARY | _O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _damaged(path, "not a regular file")
        size = st.st_size
        if size < HEADER_SIZE:
            memory = os.pread(fd, size, 0) if hasattr(os, "pread") else os.read(fd, size)
        elif mmap_mode is None:
            memory = _read_into_memory(fd, size, path)
        else:
            memory = mmap.mmap(fd, size, access=_MODES[mmap_mode], **_MMAP_KW)
    finally:
        os.close(fd)
    views = []
    try:
        return _load(path, memory, views, loader, allow, verify)
    except BaseException:
        # Drop this call's hold on the mapping: a traceback kept by the caller
        # must not keep the file mapped (objects that loaded still hold it).
        for v in views:
            try:
                v.release()
            except BufferError:
                pass
        if isinstance(memory, mmap.mmap):
            try:
                memory.close()
            except BufferError:
                pass
        raise


def _load(path, memory, views, loader, allow, verify):
    view = memoryview(memory)
    views.append(view)
    size = len(view)
    (flags, nbuffers, index_offset, stream_offset, stream_length,
     stream_crc), entries = _check_header(path, view, size)
    _check_regions(path, size, index_offset, nbuffers, stream_offset, stream_length, entries)
    stream = view[stream_offset:stream_offset + stream_length]
    views.append(stream)
    if zlib.crc32(stream) != stream_crc:
        raise _damaged(path, "pickle stream checksum mismatch (the file is damaged)")
    buffers = [view[offset:offset + length] for offset, length, _, _ in entries]
    views.extend(buffers)
    if verify:
        if not flags & FLAG_CHECKSUMS:
            raise _damaged(path, "verify=True, but the file was saved without buffer "
                           "checksums (save(..., checksum=True))")
        for i, (buf, (offset, length, crc, _)) in enumerate(zip(buffers, entries)):
            if zlib.crc32(buf) != crc:
                raise _damaged(path, f"buffer {i} (offset {offset}, length {length}): "
                               "checksum mismatch")
    if loader is None:
        return loads(stream, buffers=buffers)
    return loader(io.BytesIO(stream), allow=allow, buffers=buffers).load()
