# Opcodes of the unpickler that push one atom (part of _unpickler.pyx):
# None and the booleans, integers, floats, str, bytes and bytearray, and
# Python 2 strings (STRING, BINSTRING, SHORT_BINSTRING).
#
# Each handler takes its argument from the input functions (_load_input.pxi)
# and pushes one new object; none calls user code.  The hot ones are
# `cdef inline` so the C compiler inlines them into the dispatch loop.  The
# opcodes of one kind that differ only in the width of their size field
# (BINUNICODE and BINUNICODE8, ...) share one out-of-line `_load_sized_*`
# body: a larger dispatch loop gets less of the rest inlined.


cdef inline int load_none(Unpickler u) except -1:
    return _push(u, None)


cdef inline int load_true(Unpickler u) except -1:
    return _push(u, True)


cdef inline int load_false(Unpickler u) except -1:
    return _push(u, False)


cdef int _size_overflow(str opname) except -1:
    raise OverflowError("%s exceeds system's maximum size of %d bytes"
                        % (opname, PY_SSIZE_T_MAX))


# ---------------------------------------------------------------------------
# Integers

cdef int load_int(Unpickler u) except -1:
    cdef Py_ssize_t n
    cdef char *s = _readline_z(u, &n)
    cdef char *end
    cdef long x
    cdef PyObject *v
    PKL_errno_reset()
    x = strtol(s, &end, 0)
    if PKL_errno() or (end[0] != 10 and end[0] != 0):
        try:
            v = R_Long_FromString(s, NULL, 0)
        except Exception:
            raise ValueError("could not convert string to int")
        return _push_steal(u, v)
    if n == 3 and (x == 0 or x == 1):
        return _push(u, x == 1)     # protocol 0's True and False: I01, I00
    return _push_steal(u, R_Long_FromLong(x))


cdef inline int load_binint(Unpickler u) except -1:
    cdef const char *s = _read(u, 4)
    return _push_steal(u, R_Long_FromLong(get_le_signed32(s)))


cdef inline int load_binint1(Unpickler u) except -1:
    cdef const char *s = _read(u, 1)
    return _push_steal(u, R_Long_FromLong(<unsigned char>s[0]))


cdef inline int load_binint2(Unpickler u) except -1:
    cdef const char *s = _read(u, 2)
    return _push_steal(u, R_Long_FromLong(<long>get_le(s, 2)))


cdef int load_long(Unpickler u) except -1:
    cdef Py_ssize_t n
    cdef char *s = _readline_z(u, &n)
    if s[n - 2] == 76:  # 'L'
        s[n - 2] = 0
    return _push_steal(u, R_Long_FromString(s, NULL, 0))


cdef int _load_long_bytes(Unpickler u, long n) except -1:
    """LONG1 and LONG4 after the byte count: the integer's n bytes."""
    cdef const char *s
    if n < 0:
        raise UnpicklingError("LONG pickle has negative byte count")
    if n == 0:
        return _push_steal(u, R_Long_FromLong(0))
    s = _read(u, n)
    return _push_steal(u, PKL_LongFromLE(s, n))


cdef int load_long1(Unpickler u) except -1:
    cdef const char *s = _read(u, 1)
    return _load_long_bytes(u, <unsigned char>s[0])


cdef int load_long4(Unpickler u) except -1:
    cdef const char *s = _read(u, 4)
    return _load_long_bytes(u, get_le_signed32(s))


# ---------------------------------------------------------------------------
# Floats

cdef int load_float(Unpickler u) except -1:
    cdef Py_ssize_t n
    cdef char *s = _readline_z(u, &n)
    cdef char *end
    cdef double d = PyOS_string_to_double(s, &end, PyExc_OverflowError)
    if end[0] != 10 and end[0] != 0:
        raise ValueError("could not convert string to float")
    return _push_steal(u, R_Float_FromDouble(d))


cdef int load_binfloat(Unpickler u) except -1:
    cdef const char *s = _read(u, 8)
    cdef int err = 0
    cdef double d = PKL_BinFloat(s, &err)
    if err:
        return -1
    return _push_steal(u, R_Float_FromDouble(d))


# ---------------------------------------------------------------------------
# str

cdef int load_unicode(Unpickler u) except -1:
    cdef const char *s
    cdef Py_ssize_t n = _readline(u, &s)
    return _push_steal(u, R_Unicode_DecodeRawUnicodeEscape(s, n - 1, NULL))


cdef int _load_sized_binunicode(Unpickler u, int nbytes) except -1:
    """BINUNICODE and BINUNICODE8: an nbytes size, then that much UTF-8."""
    cdef const char *s = _read(u, nbytes)
    cdef Py_ssize_t size = calc_binsize(s, nbytes)
    if size < 0:
        _size_overflow("BINUNICODE")
    s = _read(u, size)
    return _push_steal(u, PKL_DecodeStr(s, size))


cdef int load_binunicode(Unpickler u) except -1:
    return _load_sized_binunicode(u, 4)


cdef int load_binunicode8(Unpickler u) except -1:
    return _load_sized_binunicode(u, 8)


cdef inline int load_short_binunicode(Unpickler u) except -1:
    cdef const char *s = _read(u, 1)
    cdef Py_ssize_t n = <unsigned char>s[0]
    s = _read(u, n)
    return _push_steal(u, PKL_DecodeStr(s, n))


# ---------------------------------------------------------------------------
# bytes and bytearray

cdef int _load_sized_binbytes(Unpickler u, int nbytes) except -1:
    """SHORT_BINBYTES, BINBYTES and BINBYTES8: an nbytes size, then the data."""
    cdef const char *s = _read(u, nbytes)
    cdef Py_ssize_t size = calc_binsize(s, nbytes)
    if size < 0:
        _size_overflow("BINBYTES")
    return _push_steal(u, _read_bytes(u, size))


cdef int load_short_binbytes(Unpickler u) except -1:
    return _load_sized_binbytes(u, 1)


cdef int load_binbytes(Unpickler u) except -1:
    return _load_sized_binbytes(u, 4)


cdef int load_binbytes8(Unpickler u) except -1:
    return _load_sized_binbytes(u, 8)


cdef int load_bytearray8(Unpickler u) except -1:
    cdef const char *s = _read(u, 8)
    cdef Py_ssize_t size = calc_binsize(s, 8)
    if size < 0:
        _size_overflow("BYTEARRAY8")
    return _push_steal(u, _read_bytearray(u, size))


# ---------------------------------------------------------------------------
# Python 2 str: bytes decoded with the Unpickler's encoding and errors
# (kept as bytes with encoding="bytes")

cdef int load_string(Unpickler u) except -1:
    cdef const char *s
    cdef Py_ssize_t n = _readline(u, &s) - 1
    cdef PyObject *b
    if n >= 2 and s[0] == s[n - 1] and (s[0] == 39 or s[0] == 34):
        b = R_Bytes_DecodeEscape(s + 1, n - 2, NULL, 0, NULL)
    else:
        raise UnpicklingError("the STRING opcode argument must be quoted")
    if u._enc_bytes:
        return _push_steal(u, b)
    bo = _steal(b)
    return _push_steal(u, R_Unicode_FromEncodedObject(<PyObject *>bo, u._encoding_b,
                                                      u._errors_b))


cdef int _load_sized_binstring(Unpickler u, int nbytes) except -1:
    """BINSTRING and SHORT_BINSTRING: an nbytes size, then the bytes."""
    cdef const char *s = _read(u, nbytes)
    cdef Py_ssize_t size = calc_binsize(s, nbytes)
    if size < 0:
        raise UnpicklingError("BINSTRING exceeds system's maximum size of %d bytes"
                              % PY_SSIZE_T_MAX)
    s = _read(u, size)
    if u._enc_bytes:
        return _push_steal(u, R_Bytes_FromStringAndSize(s, size))
    return _push_steal(u, R_Unicode_Decode(s, size, u._encoding_b, u._errors_b))


cdef int load_binstring(Unpickler u) except -1:
    return _load_sized_binstring(u, 4)


cdef int load_short_binstring(Unpickler u) except -1:
    return _load_sized_binstring(u, 1)
