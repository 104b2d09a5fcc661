# The save path's entry and its atoms: save() (the dispatch on exact type,
# in the C pickler's order), the memo (memoize, memo_get) and the savers of
# objects that hold no others (bool, int, float, bytes, bytearray,
# PickleBuffer, str).  Included by _pickler.pyx.  Nothing here calls user
# code but through _pickler_surface.pxi's call helpers; a saver never keeps
# a borrowed pointer to the memo across a save() (a hook may replace it).


cdef extern from "_pickler.h":
    # 1 and |v| < 2**30 read from the int itself, or 0 for a larger int.
    bint compact_long_value "pickler_compact_long" (PyObject *o, long *v) noexcept


# save_nonatomic() called through a pointer that does not check the result,
# so that save() can leave the recursion guard before it passes the error on
# (-1 with the exception set) without a try/finally.
ctypedef int (*save_nonatomic_t)(Pickler, object, type) noexcept
cdef save_nonatomic_t save_nonatomic_nx = <save_nonatomic_t>save_nonatomic


cdef int save(Pickler self, object obj, int flags) except -1:
    """Pickle one object: the entry point of every save.

    `flags`: NO_PERSISTENT_ID (do not call persistent_id: `obj` is one),
    NO_SAVE_HOOK (called by Pickler.save(), i.e. from an overriding
    save()'s super().save(), so that override is not called again).
    """
    # Borrowed references only (self.framer, the type pointer): this runs
    # for every object, and a local object variable costs a reference
    # count increment and decrement each.
    cdef PyTypeObject *t
    cdef Py_ssize_t idx
    cdef PyObject *framer_ = <PyObject *>self.framer   # borrowed: fixed while running
    cdef PyObject *memo_      # borrowed, read where used (a hook may replace self.memo)
    if self.per_object_hooks:
        if save_with_hooks(self, obj, flags):
            return 0
    else:
        opcode_boundary(<Framer>framer_)
    # Atoms: never memoized.
    if obj is None:
        return buf_write_byte(<Framer>framer_, NONE)
    if obj is True or obj is False:
        return save_bool(self, obj)
    t = Py_TYPE(obj)
    if t == <PyTypeObject *>int:
        return save_long(self, obj)
    if t == <PyTypeObject *>float:
        return save_float(self, obj)
    memo_ = <PyObject *>self.memo_table
    idx = memo_lookup(<MemoTable>memo_, <PyObject *>obj)
    if idx >= 0:
        return memo_get(self, idx)
    if t == <PyTypeObject *>str:
        return save_str(self, obj)
    if t == <PyTypeObject *>bytes:
        return save_bytes(self, obj)
    # Only objects that can contain others count against the recursion limit.
    enter_recursive_call(self.stack_floor)
    # Not try/finally: its saved exception state would make this frame,
    # which every nesting level has once or twice, larger (measured by
    # benchmarks/stack_depth.py: 16 to 32 bytes per level).
    idx = save_nonatomic_nx(self, obj, <type>t)
    Py_LeaveRecursiveCall()
    return <int>idx


cdef int save_nonatomic(Pickler self, object obj, type t) except -1:
    """The rest of save(), under the recursion guard: the built-in
    containers by exact type, then everything else (save_other)."""
    if t is dict:
        return save_dict(self, obj)
    if t is set:
        return save_set(self, obj)
    if t is frozenset:
        return save_frozenset(self, obj)
    if t is list:
        return save_list(self, obj)
    if t is tuple:
        return save_tuple(self, obj)
    if t is bytearray:
        return save_bytearray(self, obj)
    if t is _PickleBuffer:
        return save_picklebuffer(self, obj)
    return save_other(self, obj, t)


cdef inline int write_sized_opcode(Framer framer, char op1, char op2, char op4,
                                   long long val) except -1:
    """The smallest of `op1` + 1 byte, `op2` + 2 bytes, `op4` + 4 bytes
    (little-endian) that holds `val` (BININT1/BININT2/BININT, EXT1/EXT2/EXT4);
    a negative `val` takes `op4` in two's complement."""
    cdef char *p
    if 0 <= val <= 0xff:
        p = buf_reserve(framer, 2)
        p[0] = op1
        p[1] = <char>val
    elif 0 <= val <= 0xffff:
        p = buf_reserve(framer, 3)
        p[0] = op2
        put_le(p + 1, <uint64_t>val, 2)
    else:
        p = buf_reserve(framer, 5)
        p[0] = op4
        put_le(p + 1, <uint64_t>val, 4)
    return 0


cdef inline int write_binint(Framer framer, long val) except -1:
    """BININT1, BININT2 or BININT for -2**31 <= val < 2**31."""
    return write_sized_opcode(framer, <char>BININT1, <char>BININT2, <char>BININT, val)


cdef int write_decimal_line(Framer framer, char op, Py_ssize_t value) except -1:
    """`op` followed by `value` in decimal and a newline (protocol 0 style)."""
    cdef bytes line = ("%d\n" % value).encode("ascii")
    buf_write_byte(framer, op)
    buf_write(framer, PyBytes_AS_STRING(line), PyBytes_GET_SIZE(line))
    return 0


cdef inline int write_long1_from_long(Framer framer, long val) except -1:
    """LONG1 for an int that fits a C long (but not 32 bits): its two's
    complement, little-endian, in as few bytes as keep the sign."""
    cdef uint64_t u = <uint64_t>val
    cdef int nbytes = 8
    cdef char *p
    # Drop high bytes that only repeat the sign, as long as the byte below
    # still carries the sign bit.
    if val < 0:
        while nbytes > 1 and ((u >> (8 * (nbytes - 1))) & 0xff) == 0xff \
                and ((u >> (8 * (nbytes - 2))) & 0x80) != 0:
            nbytes -= 1
    else:
        while nbytes > 1 and ((u >> (8 * (nbytes - 1))) & 0xff) == 0 \
                and ((u >> (8 * (nbytes - 2))) & 0x80) == 0:
            nbytes -= 1
    p = buf_reserve(framer, 2 + nbytes)
    p[0] = <char>LONG1
    p[1] = <char>nbytes
    put_le(p + 2, u, nbytes)
    return 0


cdef int memoize(Pickler self, object obj) except -1:
    """Give `obj` the next memo index and write the opcode that stores it
    (MEMOIZE, BINPUT/LONG_BINPUT or PUT; _pickle.c's memo_put).  The save
    path calls it through memoize_or_override()."""
    cdef PyObject *framer_ = <PyObject *>self.framer   # borrowed: fixed while running
    cdef PyObject *memo_      # borrowed, read where used (a hook may replace self.memo)
    cdef Py_ssize_t idx
    cdef char *p
    if self.fast:
        return 0
    idx = self.memo_table.used
    memo_ = <PyObject *>self.memo_table
    memo_set(<MemoTable>memo_, <PyObject *>obj, idx)
    if self.proto >= 4:
        return buf_write_byte(<Framer>framer_, MEMOIZE)
    if not self.bin:
        return write_decimal_line(<Framer>framer_, PUT, idx)
    if idx < 256:
        p = buf_reserve(<Framer>framer_, 2)
        p[0] = <char>BINPUT
        p[1] = <char>idx
    elif idx <= 0xffffffff:
        p = buf_reserve(<Framer>framer_, 5)
        p[0] = <char>LONG_BINPUT
        put_le(p + 1, <uint64_t>idx, 4)
    else:
        raise _PicklingError("memo id too large for LONG_BINPUT")
    return 0


cdef int memo_get(Pickler self, Py_ssize_t idx) except -1:
    """The opcode that fetches memo index `idx`: BINGET/LONG_BINGET or GET
    (the same encoding as memoize()'s PUTs)."""
    cdef PyObject *framer_ = <PyObject *>self.framer   # borrowed: fixed while running
    cdef char *p
    if not self.bin:
        return write_decimal_line(<Framer>framer_, GET, idx)
    if idx < 256:
        p = buf_reserve(<Framer>framer_, 2)
        p[0] = <char>BINGET
        p[1] = <char>idx
    elif idx <= 0xffffffff:
        p = buf_reserve(<Framer>framer_, 5)
        p[0] = <char>LONG_BINGET
        put_le(p + 1, <uint64_t>idx, 4)
    else:
        raise _PicklingError("memo id too large for LONG_BINGET")
    return 0


cdef int save_bool(Pickler self, object obj) except -1:
    if self.proto >= 2:
        return buf_write_byte(self.framer, <char>(NEWTRUE if obj is True else NEWFALSE))
    if obj is True:
        return buf_write(self.framer, b"I01\n", 4)
    return buf_write(self.framer, b"I00\n", 4)


cdef int save_long(Pickler self, object obj) except -1:
    cdef PyObject *framer_ = <PyObject *>self.framer   # borrowed: fixed while running
    cdef int overflow = 0
    cdef long val
    cdef char *p
    cdef Py_ssize_t nbytes
    if self.bin and compact_long_value(<PyObject *>obj, &val):
        # |val| < 2**30: read from the object, no call.
        return write_binint(<Framer>framer_, val)
    val = PyLong_AsLongAndOverflow(obj, &overflow)
    if not overflow and -0x80000000 <= val <= 0x7fffffff:
        if self.bin:
            return write_binint(<Framer>framer_, val)
        return write_decimal_line(<Framer>framer_, INT, val)
    if self.proto >= 2:
        if not overflow:
            return write_long1_from_long(<Framer>framer_, val)
        if obj == 0:
            return buf_write(<Framer>framer_, b"\x8a\x00", 2)
        # Two's complement, little-endian, with the extra sign byte that
        # bit_length() + 1 implies trimmed for -(2**(8*k - 1)).
        nbytes = ((<object>obj).bit_length() >> 3) + 1
        if nbytes > 0x7fffffff:
            raise OverflowError("int too large to pickle")
        data = (<object>obj).to_bytes(nbytes, "little", signed=True)
        if (obj < 0 and nbytes > 1 and (<bytes>data)[nbytes - 1] == 0xff
                and ((<bytes>data)[nbytes - 2] & 0x80) != 0):
            nbytes -= 1
        if nbytes < 256:
            p = buf_reserve(<Framer>framer_, 2)
            p[0] = <char>LONG1
            p[1] = <char>nbytes
        else:
            p = buf_reserve(<Framer>framer_, 5)
            p[0] = <char>LONG4
            put_le(p + 1, <uint64_t>nbytes, 4)
        return buf_write(<Framer>framer_, PyBytes_AS_STRING(data), nbytes)
    # Protocols 0 and 1: decimal repr with Python 2's trailing L.
    text = repr(obj).encode("ascii")
    buf_write_byte(<Framer>framer_, LONG)
    buf_write(<Framer>framer_, PyBytes_AS_STRING(text), PyBytes_GET_SIZE(text))
    return buf_write(<Framer>framer_, b"L\n", 2)


cdef int save_float(Pickler self, object obj) except -1:
    cdef PyObject *framer_ = <PyObject *>self.framer   # borrowed: fixed while running
    cdef double x = PyFloat_AS_DOUBLE(obj)
    cdef unsigned long long bits
    cdef char *p
    cdef char *text
    cdef int i
    if self.bin:
        # BINFLOAT: the IEEE 754 double, big-endian.
        memcpy(&bits, &x, 8)
        p = buf_reserve(<Framer>framer_, 9)
        p[0] = <char>BINFLOAT
        for i in range(8):
            p[1 + i] = <char>((bits >> (56 - 8 * i)) & 0xff)
        return 0
    text = PyOS_double_to_string(x, b'r', 0, Py_DTSF_ADD_DOT_0, NULL)
    try:
        buf_write_byte(<Framer>framer_, FLOAT)
        buf_write(<Framer>framer_, text, <Py_ssize_t>strlen(text))
        buf_write_byte(<Framer>framer_, NEWLINE)
    finally:
        PyMem_Free(text)
    return 0


cdef int save_bytes(Pickler self, object obj) except -1:
    if self.proto < 3:
        # No bytes opcode before protocol 3: reduce to something that
        # unpickles to bytes on Python 3 and to str on Python 2.
        if PyBytes_GET_SIZE(obj) == 0:
            return save_reduce_or_override(self, (bytes, ()), obj)
        text = (<bytes>obj).decode("latin1")
        return save_reduce_or_override(self, (_codecs_encode, (text, "latin1")), obj)
    return save_bytes_data(self, obj, PyBytes_AS_STRING(obj), PyBytes_GET_SIZE(obj))


cdef int save_bytes_data(Pickler self, object obj, const char *data, Py_ssize_t size) except -1:
    cdef char header[9]
    cdef Py_ssize_t header_size
    if size <= 0xff:
        header[0] = <char>SHORT_BINBYTES
        header[1] = <char>size
        header_size = 2
    elif <unsigned long long>size <= 0xffffffff:
        header[0] = <char>BINBYTES
        put_le(header + 1, <uint64_t>size, 4)
        header_size = 5
    elif self.proto >= 4:
        header[0] = <char>BINBYTES8
        put_le(header + 1, <uint64_t>size, 8)
        header_size = 9
    else:
        raise OverflowError("serializing a bytes object larger than 4 GiB "
                            "requires pickle protocol 4 or higher")
    write_payload(self.framer, header, header_size, data, size, obj)
    return memoize_or_override(self, obj)


cdef int save_bytearray(Pickler self, object obj) except -1:
    if self.proto < 5:
        if PyByteArray_GET_SIZE(obj) == 0:
            return save_reduce_or_override(self, (bytearray, ()), obj)
        return save_reduce_or_override(self, (bytearray, (bytes(obj),)), obj)
    return save_bytearray_data(self, obj, PyByteArray_AS_STRING(obj),
                               PyByteArray_GET_SIZE(obj))


cdef int save_bytearray_data(Pickler self, object obj, const char *data, Py_ssize_t size) except -1:
    cdef char header[9]
    header[0] = <char>BYTEARRAY8
    put_le(header + 1, <uint64_t>size, 8)
    write_payload(self.framer, header, 9, data, size, obj)
    return memoize_or_override(self, obj)


cdef int save_picklebuffer(Pickler self, object obj) except -1:
    cdef const Py_buffer *view
    cdef bint in_band = True
    if self.proto < 5:
        raise _PicklingError(PICKLEBUFFER_PROTO_MSG)
    view = PyPickleBuffer_GetBuffer(obj)
    if view.suboffsets != NULL or not PyBuffer_IsContiguous(view, b'A'):
        raise _PicklingError("PickleBuffer can not be pickled when "
                             "pointing to a non-contiguous buffer")
    if self.buffer_callback is not None:
        in_band = bool(call_user1(self, self.buffer_callback, obj))
        # The callback (or the truth test of its result) may have
        # released the PickleBuffer: fetch the view again, which raises
        # ValueError for a released one.  From here on no Python code
        # runs before the data is copied (or the object itself is passed
        # to file.write()).
        view = PyPickleBuffer_GetBuffer(obj)
    if in_band:
        if view.readonly:
            return save_bytes_data(self, obj, <const char *>view.buf, view.len)
        return save_bytearray_data(self, obj, <const char *>view.buf, view.len)
    buf_write_byte(self.framer, NEXT_BUFFER)
    if view.readonly:
        buf_write_byte(self.framer, READONLY_BUFFER)
    return 0


cdef object raw_unicode_escape(str obj):
    """Protocol 0 text of a str: raw-unicode-escape, with backslash, NUL,
    newline, carriage return and \\x1a also escaped as \\uXXXX (so that the
    UNICODE opcode's line stays one line)."""
    cdef str s = obj
    if ("\\" in s or "\0" in s or "\n" in s or "\r" in s or "\x1a" in s):
        # Backslash first: the escapes inserted next contain backslashes.
        s = (s.replace("\\", "\\u005c").replace("\0", "\\u0000")
              .replace("\n", "\\u000a").replace("\r", "\\u000d")
              .replace("\x1a", "\\u001a"))
    return s.encode("raw_unicode_escape")


cdef int save_str(Pickler self, object obj) except -1:
    cdef char header[9]
    cdef Py_ssize_t header_size
    cdef const char *data
    cdef Py_ssize_t size
    cdef object encoded = None
    if self.bin:
        data = PyUnicode_AsUTF8AndSize_noexc(obj, &size)
        if data == NULL:
            # Lone surrogates: written as their surrogatepass encoding.
            PyErr_Clear()
            encoded = (<str>obj).encode("utf-8", "surrogatepass")
            data = PyBytes_AS_STRING(encoded)
            size = PyBytes_GET_SIZE(encoded)
        if size <= 0xff and self.proto >= 4:
            header[0] = <char>SHORT_BINUNICODE
            header[1] = <char>size
            header_size = 2
        elif <unsigned long long>size <= 0xffffffff:
            header[0] = <char>BINUNICODE
            put_le(header + 1, <uint64_t>size, 4)
            header_size = 5
        elif self.proto >= 4:
            header[0] = <char>BINUNICODE8
            put_le(header + 1, <uint64_t>size, 8)
            header_size = 9
        else:
            raise OverflowError("serializing a string larger than 4 GiB "
                                "requires pickle protocol 4 or higher")
        write_payload(self.framer, header, header_size, data, size, encoded)
    else:
        encoded = raw_unicode_escape(obj)
        buf_write_byte(self.framer, UNICODE)
        buf_write(self.framer, PyBytes_AS_STRING(encoded), PyBytes_GET_SIZE(encoded))
        buf_write_byte(self.framer, NEWLINE)
    return memoize_or_override(self, obj)
