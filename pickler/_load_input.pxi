# Input reading of the unpickler (part of _unpickler.pyx): the only code
# that touches the read position, the window or the file.
#
# Input is a window of bytes, `_buf[0:_buflen]`, read from `_pos` on.  From
# loads() the window is one buffer over the argument (no copy).  From a
# file it is a chunk: a frame or a line read from the file, or bytes
# peek()ed ahead (`_peeked`: the file has not advanced past them yet, and
# does so by the bytes used when the window is dropped).  Large payloads
# are read from the file straight into the object being built.  The
# opcode handlers get their arguments from the functions here and never
# move `_pos` themselves.  Reads follow _pickle's order of file calls
# (read, readinto, peek, readline) exactly, since a file may count them.


cdef int _raise_truncated() except -1:
    raise UnpicklingError("pickle data was truncated")


cdef inline Py_ssize_t calc_binsize(const char *s, int n) noexcept:
    """A size field of n little-endian bytes; -1 when above PY_SSIZE_T_MAX
    (the caller reports it as the opcode's overflow)."""
    cdef uint64_t x = get_le(s, n)
    if x > <uint64_t>PY_SSIZE_T_MAX:
        return -1
    return <Py_ssize_t>x


# ---------------------------------------------------------------------------
# Setting the input up

cdef int open_memory_input(Unpickler u, object data) except -1:
    """Make a buffer over the bytes-like *data* the whole input (loads())."""
    PyObject_GetBuffer(data, &u._view, PyBUF_SIMPLE)
    u._has_view = True
    u._buf = <const char *>u._view.buf
    u._buflen = u._view.len
    u._pos = 0
    return 0


cdef int _open_file_input(Unpickler u, object read, object readline,
                          object readinto, object peek) except -1:
    """Read from a file through its bound methods (readinto and peek may be None)."""
    release_input(u)
    u._file_peek = peek
    u._file_readinto = readinto
    u._file_read = read
    u._file_readline = readline
    return 0


cdef void _release_view(Unpickler u) noexcept:
    """Release the buffer over loads()'s argument, if one is held."""
    if u._has_view:
        u._has_view = False
        PyBuffer_Release(&u._view)


cdef int release_input(Unpickler u) except -1:
    """Forget the input: the window, the buffer over loads()'s argument, the file."""
    _drop_chunk(u)
    _release_view(u)
    if u._file_read is not None:
        u._file_read = u._file_readline = u._file_readinto = u._file_peek = None
    return 0


# ---------------------------------------------------------------------------
# The window

cdef int _set_chunk(Unpickler u, object data) except -1:
    """Make *data* (bytes-like, read from the file) the current window."""
    if type(data) is not bytes:
        data = bytes(memoryview(data))
    u._chunk = data
    u._buf = R_Bytes_AS_STRING(<PyObject *>data)
    u._buflen = len(<bytes>data)
    u._pos = 0
    u._peeked = False
    return 0


cdef int _drop_chunk(Unpickler u) except -1:
    u._chunk = None
    u._buf = NULL
    u._buflen = 0
    u._pos = 0
    u._peeked = False
    return 0


cdef int _skip_consumed(Unpickler u) except -1:
    """If the window came from peek(), advance the file past the bytes used
    and forget the window (its unused bytes are still in the file)."""
    cdef Py_ssize_t n
    if u._peeked:
        n = u._pos
        _drop_chunk(u)
        if n > 0:
            u._file_read(n)
    return 0


cdef int _leave_window(Unpickler u) except -1:
    """Forget the window, first advancing the file past what was used of
    a peeked one."""
    if u._peeked:
        return _skip_consumed(u)
    return _drop_chunk(u)


cdef bint _try_peek(Unpickler u, Py_ssize_t n) except -1:
    """Use peek() to get at least n bytes without advancing the file."""
    try:
        data = u._file_peek(PREFETCH)
    except NotImplementedError:
        u._file_peek = None
        return False
    if data is None or len(data) < n:
        return False
    _set_chunk(u, data)
    u._peeked = True
    return True


# ---------------------------------------------------------------------------
# Reading n bytes

cdef const char *_read_slow(Unpickler u, Py_ssize_t n) except NULL:
    """Slow path of _read(): the window holds fewer than n bytes."""
    if u._file_read is None:
        if u._pos > PY_SSIZE_T_MAX - n:
            raise UnpicklingError("read would overflow (invalid bytecode)")
        _raise_truncated()
    if u._file_peek is not None and n < PREFETCH and (u._peeked or u._pos == u._buflen):
        _skip_consumed(u)
        if _try_peek(u, n):
            u._pos = n
            return u._buf
    return _read_file_window(u, n)


cdef const char *_read_file_window(Unpickler u, Py_ssize_t n) except NULL:
    """Read n bytes from the file as the new window (what is left of the old
    one is dropped) and consume them.  As _pickle's _Unpickler_ReadFromFile:
    one read(n), whose result may be any bytes-like object and becomes the
    window whole (bytes past n, from a file that returns more, are the
    next input).  More than MIN_READ_CHUNK at once (a string over 1 MiB,
    or a corrupt length field: real frames are ~64 KiB) is read in growing
    chunks instead of one read(n), so the memory spent stays proportional
    to the bytes the file really has."""
    cdef Py_ssize_t cap
    _leave_window(u)
    if n <= MIN_READ_CHUNK:
        _set_chunk(u, u._file_read(n))
        if u._buflen < n:
            _raise_truncated()
    else:
        cap = _first_chunk_size(u, n)
        _set_chunk(u, _steal(_fill_from_file(u, R_Bytes_FromStringAndSize(NULL, cap),
                                             cap, n, _read_raw_into)))
    u._pos = n
    return u._buf


ctypedef const char *(*_read_slow_t)(Unpickler, Py_ssize_t) noexcept
cdef _read_slow_t _read_slow_nx = <_read_slow_t>_read_slow


cdef inline const char *_read(Unpickler u, Py_ssize_t n) except NULL:
    """Pointer to the next n input bytes (valid until the next read)."""
    cdef const char *p
    if n <= u._buflen - u._pos:
        p = u._buf + u._pos
        u._pos += n
        return p
    return _read_slow_nx(u, n)


cdef int _prefetch_slow(Unpickler u, Py_ssize_t n) except -1:
    """Slow path of _prefetch(): read the n bytes as an ordinary read
    (peek() when they are few, else one read()), then step back to their
    start, as _pickle does for a frame."""
    _read_slow(u, n)
    u._pos -= n
    return 0


cdef inline int _prefetch(Unpickler u, Py_ssize_t n) except -1:
    """Have the next n bytes in the window without consuming them (FRAME)."""
    if n <= u._buflen - u._pos:
        return 0
    return _prefetch_slow(u, n)


cdef int _read_opcode_slow(Unpickler u) except -1:
    """Slow path of _read_opcode(): the window is used up."""
    cdef const char *s
    if u._file_read is None:
        raise EOFError("Ran out of input")
    try:
        s = _read_slow(u, 1)
    except UnpicklingError:
        raise EOFError("Ran out of input")
    return <unsigned char>s[0]


cdef inline int _read_opcode(Unpickler u) except -1:
    """The next opcode byte; EOFError at the end of the input."""
    cdef int op
    if u._pos < u._buflen:
        op = <unsigned char>u._buf[u._pos]
        u._pos += 1
        return op
    return _read_opcode_slow(u)


# ---------------------------------------------------------------------------
# Lines (protocol 0 arguments)

cdef Py_ssize_t _readline(Unpickler u, const char **out) except -1:
    """Read through the next newline; return its length (newline included)."""
    cdef const char *start = u._buf + u._pos
    cdef const char *nl = NULL
    cdef Py_ssize_t n
    if u._buflen > u._pos:
        nl = <const char *>memchr(start, 10, u._buflen - u._pos)
    if nl != NULL:
        n = nl - start + 1
        u._pos += n
        out[0] = start
        return n
    if u._file_read is None:
        _raise_truncated()
    # Bytes left in a window already consumed from the file (the end of a
    # frame) are dropped, as _pickle does: the line is read afresh.
    _leave_window(u)
    line = u._file_readline()
    if type(line) is not bytes:
        line = bytes(memoryview(line))
    n = len(<bytes>line)
    if n == 0 or (<bytes>line)[n - 1] != 10:
        _raise_truncated()
    _set_chunk(u, line)
    u._pos = n
    out[0] = u._buf
    return n


cdef char *_readline_z(Unpickler u, Py_ssize_t *length) except NULL:
    """Read a line into the NUL-terminated scratch buffer (length >= 2)."""
    cdef const char *s
    cdef Py_ssize_t n = _readline(u, &s)
    cdef char *p
    if n < 2:
        _raise_truncated()
    if n + 1 > u._line_cap:
        p = <char *>PyMem_Realloc(u._line, n + 1)
        if p == NULL:
            raise MemoryError()
        u._line = p
        u._line_cap = n + 1
    memcpy(u._line, s, n)
    u._line[n] = 0
    length[0] = n
    return u._line


# ---------------------------------------------------------------------------
# Payloads: the data of BINBYTES and BYTEARRAY8, read into a new object

cdef int _copy_read_result(char *dest, bytes data, Py_ssize_t n) except -1:
    """Copy the n bytes a read() returned (fewer: truncated)."""
    if len(data) < n:
        _raise_truncated()
    memcpy(dest, R_Bytes_AS_STRING(<PyObject *>data), n)
    return 0


cdef int _read_payload_into(Unpickler u, char *dest, Py_ssize_t n) except -1:
    """Read exactly n bytes of a payload from the file into dest (the window
    is empty), as _pickle's _Unpickler_ReadInto does: with readinto() when
    the file has one, else read(), which must return bytes."""
    cdef Py_ssize_t got
    cdef object view
    if u._file_readinto is not None:
        view = PyMemoryView_FromMemory(dest, n, PyBUF_WRITE)
        try:
            r = u._file_readinto(view)
        finally:
            try:
                view.release()
            except BufferError:
                pass
        got = r
        if got < 0:
            raise ValueError("readinto() returned negative size")
        if got < n:
            _raise_truncated()
        return 0
    data = u._file_read(n)
    if not isinstance(data, bytes):
        raise ValueError("read() returned non-bytes object (%r)" % type(data))
    return _copy_read_result(dest, data, n)


cdef int _read_raw_into(Unpickler u, char *dest, Py_ssize_t n) except -1:
    """Read exactly n bytes (not a payload: only a huge window comes here,
    see _read_file_window) from the file into dest, as
    _Unpickler_ReadFromFile does: read(), taking any bytes-like result;
    readinto() is never called for it."""
    data = u._file_read(n)
    if not isinstance(data, bytes):
        data = bytes(memoryview(data))
    return _copy_read_result(dest, data, n)


ctypedef int (*_fill_t)(Unpickler, char *, Py_ssize_t) except -1


cdef Py_ssize_t _first_chunk_size(Unpickler u, Py_ssize_t n) except -1:
    """Size of the object a read of n bytes, more than the window holds,
    starts with: the window's bytes, at least 1 MiB, at most n."""
    cdef Py_ssize_t avail = u._buflen - u._pos
    if u._file_read is None:
        _raise_truncated()
    if n > MIN_READ_CHUNK:
        return MIN_READ_CHUNK if avail < MIN_READ_CHUNK else avail
    return n


cdef PyObject *_fill_from_file(Unpickler u, PyObject *obj, Py_ssize_t cap,
                               Py_ssize_t n, _fill_t fill) except NULL:
    """Fill *obj*, a new bytes or bytearray of cap bytes (its reference is
    taken over), with the next n bytes: first the rest of the window, then
    from the file with *fill* in chunks that double, so a corrupt size field
    costs at most about twice the bytes that really arrive.  Returns obj
    (a new reference; resized, it may have moved)."""
    cdef Py_ssize_t avail = u._buflen - u._pos
    cdef Py_ssize_t done = 0
    cdef Py_ssize_t step
    try:
        if avail > 0:
            memcpy(bytes_like_data(obj), u._buf + u._pos, avail)
            done = avail
            u._pos += avail
        # The window is used up: a peeked one is now read from the file
        # (_pickle's order: the buffered bytes, then the rest).
        _leave_window(u)
        while True:
            if done < cap:
                fill(u, bytes_like_data(obj) + done, cap - done)
                done = cap
            if done == n:
                break
            step = cap if cap < n - cap else n - cap
            cap += step
            bytes_like_resize(&obj, cap)
    except BaseException:
        P_XDECREF(obj)
        raise
    return obj


cdef int _read_empty_payload(Unpickler u) except -1:
    """An empty bytes or bytearray payload with the window used up, read
    as _pickle's _Unpickler_ReadInto does: from memory input it is
    "truncated" (_pickle's quirk), from a file it is asked of the file
    (read(0), or readinto() of an empty buffer), and bytes a file returns
    beyond the 0 asked for are dropped, as _pickle drops them."""
    cdef char empty = 0
    if u._file_read is None:
        _raise_truncated()
    _leave_window(u)
    return _read_payload_into(u, &empty, 0)


cdef PyObject *_read_bytes(Unpickler u, Py_ssize_t n) except NULL:
    """BINBYTES' payload: a new bytes of the next n bytes (new reference).
    When the window holds fewer, its bytes are used first, then the file's
    (_fill_from_file)."""
    cdef const char *s
    cdef PyObject *b
    cdef Py_ssize_t cap
    if n == 0 and u._pos == u._buflen:
        _read_empty_payload(u)
    if n <= u._buflen - u._pos:
        s = u._buf + u._pos
        u._pos += n
        if n == 1:
            # A new object, as _pickle gives (it reads into a new bytes), not
            # the interpreter's shared one-byte instance that
            # PyBytes_FromStringAndSize(s, 1) would return.
            b = R_Bytes_FromStringAndSize(NULL, 1)
            R_Bytes_AS_STRING(b)[0] = s[0]
            return b
        return R_Bytes_FromStringAndSize(s, n)
    cap = _first_chunk_size(u, n)
    return _fill_from_file(u, R_Bytes_FromStringAndSize(NULL, cap), cap, n,
                           _read_payload_into)


cdef PyObject *_read_bytearray(Unpickler u, Py_ssize_t n) except NULL:
    """BYTEARRAY8's payload: a new bytearray of the next n bytes (new
    reference), read as _read_bytes reads.  From the window, a large one
    (an array's data) is copied with copy_to_fresh (huge pages, page by
    page), as dumps() copies a large payload into its result."""
    cdef PyObject *obj
    cdef Py_ssize_t cap
    if n == 0 and u._pos == u._buflen:
        _read_empty_payload(u)
    if n <= u._buflen - u._pos:
        if n >= HUGE_PAGE_PAYLOAD:
            obj = R_ByteArray_FromStringAndSize(NULL, n)
            copy_to_fresh(R_ByteArray_AS_STRING(obj), u._buf + u._pos, <size_t>n)
        else:
            obj = R_ByteArray_FromStringAndSize(u._buf + u._pos, n)
        u._pos += n
        return obj
    cap = _first_chunk_size(u, n)
    return _fill_from_file(u, R_ByteArray_FromStringAndSize(NULL, cap), cap, n,
                           _read_payload_into)
