# cython: language_level=3, binding=True, embedsignature=True, auto_pickle=False
# cython: boundscheck=False, wraparound=False, cdivision=True
"""Compiled unpickler: ``Unpickler``, ``load`` and ``loads``.

A drop-in for the standard library's C unpickler (``_pickle``).  Every
opcode of protocols 0 to 5 is handled by a C-level function working on a
typed stack (``PyObject **``), a separate marks array and an array memo.
Input comes either from one buffer over the ``loads`` argument (no copy) or
from a file, read in frames, peeked chunks, or straight into the objects
being built.  Sizes read from the stream never make the loader allocate more
than about twice the data actually received (see docs/unpickler.md).
"""

cimport cython
from cpython.ref cimport PyObject
from cpython.object cimport PyTypeObject
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from cpython.mem cimport PyMem_Malloc, PyMem_Realloc, PyMem_Free
from cpython.memoryview cimport PyMemoryView_GET_BUFFER
from ._imports cimport import_module
from ._buffer cimport HUGE_PAGE_PAYLOAD, copy_to_fresh
from libc.string cimport memcpy, memchr, memset, strcmp
from libc.stdlib cimport strtol

import sys
import pickle as _pickle_mod
import copyreg as _copyreg
import _compat_pickle

cdef extern from "Python.h":
    # Reference counting on raw pointers (the typed stack and memo).
    void P_INCREF "Py_INCREF"(PyObject *)
    void P_DECREF "Py_DECREF"(PyObject *)
    void P_XDECREF "Py_XDECREF"(PyObject *)
    PyTypeObject *P_TYPE "Py_TYPE"(PyObject *)
    const Py_ssize_t PY_SSIZE_T_MAX

    # Constructors returning new references as raw pointers, so that the
    # result can be moved onto the stack without an extra incref/decref.
    PyObject *R_Long_FromLong "PyLong_FromLong"(long) except NULL
    PyObject *R_Long_FromSsize_t "PyLong_FromSsize_t"(Py_ssize_t) except NULL
    PyObject *R_Long_FromString "PyLong_FromString"(const char *, char **, int) except NULL
    PyObject *R_Float_FromDouble "PyFloat_FromDouble"(double) except NULL
    PyObject *R_Unicode_DecodeUTF8 "PyUnicode_DecodeUTF8"(const char *, Py_ssize_t, const char *) except NULL
    PyObject *R_Unicode_Decode "PyUnicode_Decode"(const char *, Py_ssize_t, const char *, const char *) except NULL
    PyObject *R_Unicode_DecodeASCII "PyUnicode_DecodeASCII"(const char *, Py_ssize_t, const char *) except NULL
    PyObject *R_Unicode_DecodeRawUnicodeEscape "PyUnicode_DecodeRawUnicodeEscape"(const char *, Py_ssize_t, const char *) except NULL
    PyObject *R_Unicode_FromEncodedObject "PyUnicode_FromEncodedObject"(PyObject *, const char *, const char *) except NULL
    PyObject *R_Bytes_FromStringAndSize "PyBytes_FromStringAndSize"(const char *, Py_ssize_t) except NULL
    PyObject *R_Bytes_DecodeEscape "PyBytes_DecodeEscape"(const char *, Py_ssize_t, const char *, Py_ssize_t, const char *) except NULL
    PyObject *R_ByteArray_FromStringAndSize "PyByteArray_FromStringAndSize"(const char *, Py_ssize_t) except NULL
    PyObject *R_List_New "PyList_New"(Py_ssize_t) except NULL
    PyObject *R_Tuple_New "PyTuple_New"(Py_ssize_t) except NULL
    PyObject *R_Dict_New "PyDict_New"() except NULL
    PyObject *R_Set_New "PySet_New"(PyObject *) except NULL
    PyObject *R_FrozenSet_New "PyFrozenSet_New"(PyObject *) except NULL
    PyObject *R_Iter_Next "PyIter_Next"(PyObject *)
    PyObject *R_MemoryView_FromObject "PyMemoryView_FromObject"(PyObject *) except NULL
    PyObject *R_Object_Call "PyObject_Call"(PyObject *, PyObject *, PyObject *) except NULL
    void R_List_SET_ITEM "PyList_SET_ITEM"(PyObject *, Py_ssize_t, PyObject *)
    void R_Tuple_SET_ITEM "PyTuple_SET_ITEM"(PyObject *, Py_ssize_t, PyObject *)
    Py_ssize_t R_List_GET_SIZE "PyList_GET_SIZE"(PyObject *)
    Py_ssize_t R_Tuple_GET_SIZE "PyTuple_GET_SIZE"(PyObject *)
    PyObject *R_Tuple_GET_ITEM "PyTuple_GET_ITEM"(PyObject *, Py_ssize_t)
    int R_List_SetSlice "PyList_SetSlice"(PyObject *, Py_ssize_t, Py_ssize_t, PyObject *) except -1
    int R_Dict_SetItem "PyDict_SetItem"(PyObject *, PyObject *, PyObject *) except -1
    int R_Object_SetItem "PyObject_SetItem"(PyObject *, PyObject *, PyObject *) except -1
    # The same two without Cython's error check, for loops that must drop a
    # reference before propagating the error.
    int N_Dict_SetItem "PyDict_SetItem"(PyObject *, PyObject *, PyObject *) noexcept
    int N_Object_SetItem "PyObject_SetItem"(PyObject *, PyObject *, PyObject *) noexcept
    int R_Set_Add "PySet_Add"(PyObject *, PyObject *) except -1
    int R_Dict_Next "PyDict_Next"(PyObject *, Py_ssize_t *, PyObject **, PyObject **)
    void R_Unicode_InternInPlace "PyUnicode_InternInPlace"(PyObject **)
    bint R_Unicode_CHECK_INTERNED "PyUnicode_CHECK_INTERNED"(PyObject *)
    int N_Object_SetAttr "PyObject_SetAttr"(PyObject *, PyObject *, PyObject *) noexcept
    char *R_Bytes_AS_STRING "PyBytes_AS_STRING"(PyObject *)
    char *R_ByteArray_AS_STRING "PyByteArray_AS_STRING"(PyObject *)
    int R_ByteArray_Resize "PyByteArray_Resize"(PyObject *, Py_ssize_t) except -1
    int _PyBytes_Resize(PyObject **, Py_ssize_t) except -1

    bint P_List_CheckExact "PyList_CheckExact"(PyObject *)
    bint P_Dict_CheckExact "PyDict_CheckExact"(PyObject *)
    bint P_Dict_Check "PyDict_Check"(PyObject *)
    bint P_Set_Check "PySet_Check"(PyObject *)
    bint P_Tuple_Check "PyTuple_Check"(PyObject *)
    bint P_Type_Check "PyType_Check"(PyObject *)
    bint P_Unicode_CheckExact "PyUnicode_CheckExact"(PyObject *)
    bint P_Method_Check "PyMethod_Check"(PyObject *)
    PyObject *P_Method_GET_FUNCTION "PyMethod_GET_FUNCTION"(PyObject *)
    PyObject *P_Method_GET_SELF "PyMethod_GET_SELF"(PyObject *)

    object PyMemoryView_FromMemory(char *, Py_ssize_t, int)
    int PyBUF_WRITE
    int PySys_Audit(const char *, const char *, ...) except -1
    double PyOS_string_to_double(const char *, char **, PyObject *) except? -1.0
    PyObject *PyExc_OverflowError
    PyObject *PyErr_Occurred()

cdef extern from *:
    """
    /* Version shims for the few C-API names that moved between 3.10 and 3.13. */
    #if PY_VERSION_HEX >= 0x030D0000
    #define PKL_LookupAttr(o, n, r) PyObject_GetOptionalAttr((o), (n), (r))
    #else
    #define PKL_LookupAttr(o, n, r) _PyObject_LookupAttr((o), (n), (r))
    #endif
    #if PY_VERSION_HEX >= 0x030B0000
    #define PKL_Unpack8BE(p) PyFloat_Unpack8((p), 0)
    #else
    #define PKL_Unpack8BE(p) _PyFloat_Unpack8((const unsigned char *)(p), 0)
    #endif
    /* BINFLOAT's big-endian IEEE double.  On a little-endian machine with
       IEEE doubles (what CPython's own unpacking checks for, and then does
       the same byte reversal) swap the bytes in a register; elsewhere ask
       CPython. */
    #include <float.h>
    #include <stdint.h>
    #if defined(__GNUC__) && PY_LITTLE_ENDIAN && DBL_MANT_DIG == 53 && DBL_MAX_EXP == 1024
    static inline double PKL_BinFloat(const char *p, int *err) {
        uint64_t x;
        double d;
        (void)err;
        memcpy(&x, p, 8);
        x = __builtin_bswap64(x);
        memcpy(&d, &x, 8);
        return d;
    }
    #else
    static inline double PKL_BinFloat(const char *p, int *err) {
        double d = PKL_Unpack8BE(p);
        *err = (d == -1.0 && PyErr_Occurred());
        return d;
    }
    #endif
    #include <errno.h>
    #define PKL_errno_reset() (errno = 0)
    #define PKL_errno() (errno)
    #define PKL_LongFromLE(p, n) _PyLong_FromByteArray((const unsigned char *)(p), (size_t)(n), 1, 1)

    /* A str from n UTF-8 bytes (surrogates allowed, as pickle writes them).
       Short ASCII text, most keys and values, is copied into a new compact
       ASCII string directly; anything else goes through the decoder.  The
       empty and one-character strings go through the decoder too: it
       returns the interpreter's shared instances of those, as it does for
       _pickle (loads(dumps('A')) is 'A'). */
    static PyObject *PKL_DecodeStr(const char *s, Py_ssize_t n) {
        if (n > 1 && n <= 64) {
            unsigned char high = 0;
            Py_ssize_t i;
            PyObject *u;
            for (i = 0; i < n; i++) {
                high |= (unsigned char)s[i];
            }
            if (!(high & 0x80)) {
                u = PyUnicode_New(n, 127);
                if (u != NULL) {
                    memcpy(PyUnicode_1BYTE_DATA(u), s, (size_t)n);
                }
                return u;
            }
        }
        return PyUnicode_DecodeUTF8(s, n, "surrogatepass");
    }
    """
    int PKL_LookupAttr(PyObject *, PyObject *, PyObject **) except -1
    double PKL_Unpack8BE(const char *) except? -1.0
    double PKL_BinFloat(const char *, int *err) noexcept
    PyObject *PKL_LongFromLE(const char *, Py_ssize_t) except NULL
    void PKL_errno_reset()
    PyObject *PKL_DecodeStr(const char *, Py_ssize_t) except NULL
    int PKL_errno()


# ---------------------------------------------------------------------------
# Module-level caches of Python objects used while loading.

cdef object UnpicklingError = _pickle_mod.UnpicklingError
cdef dict _NAME_MAPPING = _compat_pickle.NAME_MAPPING
cdef dict _IMPORT_MAPPING = _compat_pickle.IMPORT_MAPPING
cdef dict _extension_cache = _copyreg._extension_cache
cdef dict _inverted_registry = _copyreg._inverted_registry
cdef bint _PY313 = sys.version_info >= (3, 13)
cdef bint _PY310 = sys.version_info < (3, 11)
cdef object _NotImplementedError = NotImplementedError
cdef str _S_SETSTATE = "__setstate__"
cdef str _S_DICT = "__dict__"
cdef str _S_EXTEND = "extend"
cdef str _S_APPEND = "append"
cdef str _S_ADD = "add"
cdef str _S_GETINITARGS = "__getinitargs__"
cdef str _S_PERSISTENT_LOAD = "persistent_load"
cdef bytes _ASCII_B = b"ASCII"      # default encoding, as _configure stores it
cdef bytes _STRICT_B = b"strict"    # default error handler

# Initial and growth sizes.
cdef enum:
    PREFETCH = 8192 * 16          # bytes asked from peek() for small reads
    MIN_READ_CHUNK = 1 << 20      # first chunk when reading a big payload from a file
    MEMO_INITIAL = 32             # initial slots of the memo array
    STACK_INITIAL = 16            # initial slots of the stack
    MEMO_KEEP = 4096              # a recycled loads() Unpickler shrinks a larger memo array
    STACK_KEEP = 1024             # ... and a larger stack or mark array
    LINE_KEEP = 4096              # ... and a larger line buffer (protocol 0 lines)
    HIGHEST_PROTOCOL = 5

# Opcodes (see pickletools for their documentation).
cdef enum:
    OP_MARK = 0x28              # '('
    OP_STOP = 0x2e              # '.'
    OP_POP = 0x30               # '0'
    OP_POP_MARK = 0x31          # '1'
    OP_DUP = 0x32               # '2'
    OP_FLOAT = 0x46             # 'F'
    OP_INT = 0x49               # 'I'
    OP_BININT = 0x4a            # 'J'
    OP_BININT1 = 0x4b           # 'K'
    OP_LONG = 0x4c              # 'L'
    OP_BININT2 = 0x4d           # 'M'
    OP_NONE = 0x4e              # 'N'
    OP_PERSID = 0x50            # 'P'
    OP_BINPERSID = 0x51         # 'Q'
    OP_REDUCE = 0x52            # 'R'
    OP_STRING = 0x53            # 'S'
    OP_BINSTRING = 0x54         # 'T'
    OP_SHORT_BINSTRING = 0x55   # 'U'
    OP_UNICODE = 0x56           # 'V'
    OP_BINUNICODE = 0x58        # 'X'
    OP_APPEND = 0x61            # 'a'
    OP_BUILD = 0x62             # 'b'
    OP_GLOBAL = 0x63            # 'c'
    OP_DICT = 0x64              # 'd'
    OP_EMPTY_DICT = 0x7d        # '}'
    OP_APPENDS = 0x65           # 'e'
    OP_GET = 0x67               # 'g'
    OP_BINGET = 0x68            # 'h'
    OP_INST = 0x69              # 'i'
    OP_LONG_BINGET = 0x6a       # 'j'
    OP_LIST = 0x6c              # 'l'
    OP_EMPTY_LIST = 0x5d        # ']'
    OP_OBJ = 0x6f               # 'o'
    OP_PUT = 0x70               # 'p'
    OP_BINPUT = 0x71            # 'q'
    OP_LONG_BINPUT = 0x72       # 'r'
    OP_SETITEM = 0x73           # 's'
    OP_TUPLE = 0x74             # 't'
    OP_EMPTY_TUPLE = 0x29       # ')'
    OP_SETITEMS = 0x75          # 'u'
    OP_BINFLOAT = 0x47          # 'G'
    OP_TRUE_FALSE_UNUSED = 0x00
    OP_PROTO = 0x80
    OP_NEWOBJ = 0x81
    OP_EXT1 = 0x82
    OP_EXT2 = 0x83
    OP_EXT4 = 0x84
    OP_TUPLE1 = 0x85
    OP_TUPLE2 = 0x86
    OP_TUPLE3 = 0x87
    OP_NEWTRUE = 0x88
    OP_NEWFALSE = 0x89
    OP_LONG1 = 0x8a
    OP_LONG4 = 0x8b
    OP_BINBYTES = 0x42          # 'B'
    OP_SHORT_BINBYTES = 0x43    # 'C'
    OP_SHORT_BINUNICODE = 0x8c
    OP_BINUNICODE8 = 0x8d
    OP_BINBYTES8 = 0x8e
    OP_EMPTY_SET = 0x8f
    OP_ADDITEMS = 0x90
    OP_FROZENSET = 0x91
    OP_NEWOBJ_EX = 0x92
    OP_STACK_GLOBAL = 0x93
    OP_MEMOIZE = 0x94
    OP_FRAME = 0x95
    OP_BYTEARRAY8 = 0x96
    OP_NEXT_BUFFER = 0x97
    OP_READONLY_BUFFER = 0x98


# ---------------------------------------------------------------------------
# Small helpers

cdef inline str _tpname(object o):
    """Name of the type of *o* as C's tp_name (at most 200 characters)."""
    return (<bytes>P_TYPE(<PyObject *>o).tp_name).decode("utf-8", "replace")[:200]


cdef inline Py_ssize_t _binsize(const char *s, int n) noexcept:
    """Little-endian unsigned size of n bytes; -1 when above PY_SSIZE_T_MAX."""
    cdef const unsigned char *u = <const unsigned char *>s
    cdef unsigned long long x = 0
    cdef int i
    for i in range(n):
        x |= (<unsigned long long>u[i]) << (8 * i)
    if x > <unsigned long long>PY_SSIZE_T_MAX:
        return -1
    return <Py_ssize_t>x


cdef inline long _binint(const char *s, int n) noexcept:
    """Little-endian integer of n bytes; unsigned for 1 and 2, signed for 4."""
    cdef const unsigned char *u = <const unsigned char *>s
    if n == 1:
        return u[0]
    if n == 2:
        return u[0] | (<long>u[1] << 8)
    return <long>(<int>(<unsigned int>u[0] | (<unsigned int>u[1] << 8) |
                        (<unsigned int>u[2] << 16) | (<unsigned int>u[3] << 24)))


cdef int _raise_truncated() except -1:
    raise UnpicklingError("pickle data was truncated")


# ---------------------------------------------------------------------------
# Stack

cdef int _grow_stack(Unpickler u, PyObject *pending) except -1:
    """Enlarge the stack; on failure drop *pending* (a reference being pushed)."""
    cdef Py_ssize_t cap = u._stack_cap
    cdef Py_ssize_t new_cap = cap + (cap >> 1) + STACK_INITIAL
    cdef PyObject **p
    if new_cap > PY_SSIZE_T_MAX // <Py_ssize_t>sizeof(PyObject *):
        P_XDECREF(pending)
        raise MemoryError()
    p = <PyObject **>PyMem_Realloc(u._stack, new_cap * sizeof(PyObject *))
    if p == NULL:
        P_XDECREF(pending)
        raise MemoryError()
    u._stack = p
    u._stack_cap = new_cap
    return 0


cdef int _push_slow(Unpickler u, PyObject *o) except -1:
    """Slow path of _push_steal(): the stack is full."""
    _grow_stack(u, o)
    u._stack[u._stack_len] = o
    u._stack_len += 1
    return 0


# The hot helpers (_read, _push_steal, _push_memo, _memoize) have their slow
# paths called through these pointers, typed without an exception spec: the
# slow path sets the exception and returns the error value as usual, and the
# helper passes that value on without error handling of its own.  That keeps
# each helper a few instructions long, so the C compiler inlines it in the
# dispatch loop (with the error handling it is not inlined: measured with
# callgrind, 12% of the loop's instructions on json_records loads).
ctypedef int (*_push_slow_t)(Unpickler, PyObject *) noexcept
cdef _push_slow_t _push_slow_nx = <_push_slow_t>_push_slow


cdef inline int _push_steal(Unpickler u, PyObject *o) except -1:
    """Push a new reference, which the stack takes over."""
    if u._stack_len == u._stack_cap:
        return _push_slow_nx(u, o)
    u._stack[u._stack_len] = o
    u._stack_len += 1
    return 0


cdef inline int _push(Unpickler u, object o) except -1:
    """Push *o*, adding a reference."""
    P_INCREF(<PyObject *>o)
    return _push_steal(u, <PyObject *>o)


cdef int _underflow(Unpickler u) except -1:
    if u._num_marks:
        raise UnpicklingError("unexpected MARK found")
    raise UnpicklingError("unpickling stack underflow")


ctypedef int (*_underflow_t)(Unpickler) noexcept
cdef _underflow_t _underflow_nx = <_underflow_t>_underflow


cdef inline object _pop(Unpickler u):
    """Pop the top of the stack (above the innermost mark) as an owned object."""
    cdef PyObject *p
    if u._stack_len <= u._fence:
        _underflow(u)
    u._stack_len -= 1
    p = u._stack[u._stack_len]
    o = <object>p
    P_DECREF(p)
    return o


cdef int _clear_stack_to(Unpickler u, Py_ssize_t n) except -1:
    """Drop the stack items above index *n*, keeping the state consistent
    while the decrefs run (they may call __del__ and re-enter)."""
    cdef PyObject *p
    while u._stack_len > n:
        u._stack_len -= 1
        p = u._stack[u._stack_len]
        P_DECREF(p)
    return 0


cdef Py_ssize_t _pop_mark(Unpickler u) except -1:
    cdef Py_ssize_t m
    if u._num_marks < 1:
        raise UnpicklingError("could not find MARK")
    u._num_marks -= 1
    m = u._marks[u._num_marks]
    u._fence = u._marks[u._num_marks - 1] if u._num_marks else 0
    return m


cdef PyObject *_poptuple(Unpickler u, Py_ssize_t start) except NULL:
    """Pop stack[start:] into a new tuple (new reference)."""
    cdef Py_ssize_t n, i
    cdef PyObject *t
    if start < u._fence:
        _underflow(u)
    n = u._stack_len - start
    t = R_Tuple_New(n)
    for i in range(n):
        R_Tuple_SET_ITEM(t, i, u._stack[start + i])
    u._stack_len = start
    return t


cdef extern from *:
    """
    /* Give the items of the exact list `src` to the empty exact list
       `target` by exchanging their item arrays (`src` is left empty with
       the target's old array, which its deallocation frees). */
    static void pickler_list_adopt_items(PyObject *target, PyObject *src) {
        PyListObject *t = (PyListObject *)target;
        PyListObject *s = (PyListObject *)src;
        PyObject **items = t->ob_item;
        Py_ssize_t allocated = t->allocated;
        t->ob_item = s->ob_item;
        t->allocated = s->allocated;
        Py_SET_SIZE(t, Py_SIZE(s));
        s->ob_item = items;
        s->allocated = allocated;
        Py_SET_SIZE(s, 0);
    }
    """
    void list_adopt_items "pickler_list_adopt_items" (PyObject *target, PyObject *src) noexcept


cdef PyObject *_poplist(Unpickler u, Py_ssize_t start) except NULL:
    """Pop stack[start:] into a new list (new reference)."""
    cdef Py_ssize_t n, i
    cdef PyObject *l
    n = u._stack_len - start
    l = R_List_New(n)
    for i in range(n):
        R_List_SET_ITEM(l, i, u._stack[start + i])
    u._stack_len = start
    return l


# ---------------------------------------------------------------------------
# Memo: an array for dense indices, a dict for indices far beyond the
# number of stored entries (so a huge LONG_BINPUT index costs one dict slot).

cdef int _memo_grow(Unpickler u, Py_ssize_t idx) except -1:
    cdef Py_ssize_t new_cap = u._memo_cap * 2
    cdef PyObject **p
    cdef Py_ssize_t i
    if new_cap <= idx:
        new_cap = idx + 1 + (idx >> 1)
    p = <PyObject **>PyMem_Realloc(u._memo, new_cap * sizeof(PyObject *))
    if p == NULL:
        raise MemoryError()
    memset(p + u._memo_cap, 0, (new_cap - u._memo_cap) * sizeof(PyObject *))
    u._memo = p
    u._memo_cap = new_cap
    # Move dict entries that now fit in the array.
    if u._memo_dict:
        for k in list(u._memo_dict):
            i = k
            if i < new_cap:
                v = u._memo_dict.pop(k)
                P_INCREF(<PyObject *>v)
                u._memo[i] = <PyObject *>v
                if i >= u._memo_top:
                    u._memo_top = i + 1
    return 0


cdef int _memo_put(Unpickler u, Py_ssize_t idx, PyObject *value) except -1:
    cdef PyObject *old
    if idx >= u._memo_cap:
        # Grow the array only when the index is near the number of entries
        # (at most twice it plus a constant): memory then stays
        # proportional to the input size.
        if idx <= 2 * u._memo_len + 1024:
            _memo_grow(u, idx)
        else:
            if u._memo_dict is None:
                u._memo_dict = {}
            key = idx
            if key not in u._memo_dict:
                u._memo_len += 1
            u._memo_dict[key] = <object>value
            return 0
    old = u._memo[idx]
    P_INCREF(value)
    u._memo[idx] = value
    if old != NULL:
        P_DECREF(old)
    else:
        u._memo_len += 1
        if idx >= u._memo_top:
            u._memo_top = idx + 1
    return 0


ctypedef int (*_memo_put_t)(Unpickler, Py_ssize_t, PyObject *) noexcept
cdef _memo_put_t _memo_put_nx = <_memo_put_t>_memo_put


cdef inline int _memoize(Unpickler u) except -1:
    """MEMOIZE: store the top of the stack at the next memo index."""
    cdef Py_ssize_t idx = u._memo_len
    cdef PyObject *top
    if u._stack_len <= u._fence:
        return _underflow_nx(u)
    top = u._stack[u._stack_len - 1]
    if idx < u._memo_cap and u._memo[idx] == NULL:
        P_INCREF(top)
        u._memo[idx] = top
        u._memo_len = idx + 1
        if idx >= u._memo_top:
            u._memo_top = idx + 1
        return 0
    return _memo_put_nx(u, idx, top)


cdef inline PyObject *_memo_get(Unpickler u, Py_ssize_t idx) except? NULL:
    """Borrowed memo entry, or NULL (without exception) when absent."""
    if 0 <= idx < u._memo_cap:
        return u._memo[idx]
    if u._memo_dict:
        v = u._memo_dict.get(idx)
        if v is not None or idx in u._memo_dict:
            return <PyObject *>v   # kept alive by the dict
    return NULL


cdef int _memo_missing(Py_ssize_t idx) except -1:
    raise UnpicklingError("Memo value not found at index %d" % idx)


cdef int _memo_clear(Unpickler u) except -1:
    cdef PyObject *p
    u._memo_dict = None
    # Entries are cleared from the top down, each slot emptied before its
    # decref (which may run __del__ and look at the memo).
    while u._memo_top > 0:
        u._memo_top -= 1
        p = u._memo[u._memo_top]
        if p != NULL:
            u._memo[u._memo_top] = NULL
            P_DECREF(p)
    u._memo_len = 0
    return 0


cdef dict _memo_copy(Unpickler u):
    cdef dict d = {}
    cdef Py_ssize_t i
    for i in range(u._memo_top):
        if u._memo[i] != NULL:
            d[i] = <object>u._memo[i]
    if u._memo_dict:
        d.update(u._memo_dict)
    return d


# ---------------------------------------------------------------------------
# Input

cdef int _set_chunk(Unpickler u, object data, bint peeked) except -1:
    """Make *data* (bytes-like) the current window."""
    if type(data) is not bytes:
        data = bytes(memoryview(data))
    u._chunk = data
    u._buf = R_Bytes_AS_STRING(<PyObject *>data)
    u._buflen = len(<bytes>data)
    u._pos = 0
    u._peeked = peeked
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


cdef int _read_into(Unpickler u, char *dest, Py_ssize_t n, bint payload) except -1:
    """Read exactly n bytes from the file into dest (the window is empty).

    A bytes or bytearray payload is read as _pickle's _Unpickler_ReadInto
    does: with readinto() when the file has one, else read(), which must
    return bytes.  Any other read (only a huge one comes here: see
    _read_file_window) uses read() and takes any bytes-like result, as
    _Unpickler_ReadFromFile does; readinto() is never called for it."""
    cdef Py_ssize_t got
    cdef object view
    if payload and u._file_readinto is not None:
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
        if payload:
            raise ValueError("read() returned non-bytes object (%r)" % type(data))
        data = bytes(memoryview(data))
    if len(<bytes>data) < n:
        _raise_truncated()
    memcpy(dest, R_Bytes_AS_STRING(<PyObject *>data), n)
    return 0


cdef PyObject *_new_large_copy(const char *src, Py_ssize_t n, bint as_bytearray) except NULL:
    """A new bytes (or bytearray) holding a copy of n bytes, n at least
    HUGE_PAGE_PAYLOAD (an array's data), copied with copy_to_fresh
    (_buffer.pxd: huge pages, page by page), as dumps() copies a large
    payload into its result.  A new reference."""
    cdef PyObject *obj
    cdef char *dest
    if as_bytearray:
        obj = R_ByteArray_FromStringAndSize(NULL, n)
        dest = R_ByteArray_AS_STRING(obj)
    else:
        obj = R_Bytes_FromStringAndSize(NULL, n)
        dest = R_Bytes_AS_STRING(obj)
    copy_to_fresh(dest, src, <size_t>n)
    return obj


cdef object _read_new(Unpickler u, Py_ssize_t n, bint as_bytearray, bint payload):
    """Consume n bytes and return them as a new bytes (or bytearray).

    When the window holds fewer than n bytes, its remaining bytes are used
    first.  That matters for a *payload* (the data of BINBYTES/BYTEARRAY8);
    any other read comes from _read_file_window, which has already dropped
    the window, as _pickle does when an opcode argument crosses the end of
    a frame read from a file (it reads the argument afresh from the file).
    How the file is read also follows the kind of read (_read_into).

    From a file, the object is filled in place (readinto() or read(), see
    _read_into) in chunks that start at 1 MiB and double, so a corrupt size
    field costs at most about twice the bytes that really arrive.
    """
    cdef Py_ssize_t avail = u._buflen - u._pos
    cdef Py_ssize_t cap, done, step
    cdef PyObject *obj
    cdef char *dest
    if n <= avail:
        if n >= HUGE_PAGE_PAYLOAD:
            obj = _new_large_copy(u._buf + u._pos, n, as_bytearray)
        elif as_bytearray:
            obj = R_ByteArray_FromStringAndSize(u._buf + u._pos, n)
        else:
            obj = R_Bytes_FromStringAndSize(u._buf + u._pos, n)
        u._pos += n
        return <object>_steal(obj)
    if u._file_read is None:
        _raise_truncated()
    cap = n
    if cap > MIN_READ_CHUNK and cap > avail:
        cap = MIN_READ_CHUNK if avail < MIN_READ_CHUNK else avail
    if as_bytearray:
        obj = R_ByteArray_FromStringAndSize(NULL, cap)
    else:
        obj = R_Bytes_FromStringAndSize(NULL, cap)
    try:
        done = 0
        if avail > 0:
            dest = R_ByteArray_AS_STRING(obj) if as_bytearray else R_Bytes_AS_STRING(obj)
            memcpy(dest, u._buf + u._pos, avail)
            done = avail
            u._pos += avail
        # The window is used up: a peeked one is now read from the file
        # (_pickle's order: the buffered bytes, then the rest).
        if u._peeked:
            _skip_consumed(u)
        else:
            _drop_chunk(u)
        while True:
            if done < cap:
                dest = R_ByteArray_AS_STRING(obj) if as_bytearray else R_Bytes_AS_STRING(obj)
                _read_into(u, dest + done, cap - done, payload)
                done = cap
            if done == n:
                break
            step = cap if cap < n - cap else n - cap
            cap += step
            if as_bytearray:
                R_ByteArray_Resize(obj, cap)
            else:
                _PyBytes_Resize(&obj, cap)
    except:
        P_XDECREF(obj)
        raise
    return <object>_steal(obj)


cdef inline object _steal(PyObject *p):
    """Turn a new reference into a Python object (no net refcount change)."""
    o = <object>p
    P_DECREF(p)
    return o


cdef bint _try_peek(Unpickler u, Py_ssize_t n) except -1:
    """Use peek() to get at least n bytes without advancing the file."""
    try:
        data = u._file_peek(PREFETCH)
    except NotImplementedError:
        u._file_peek = None
        return False
    if data is None or len(data) < n:
        return False
    _set_chunk(u, data, True)
    return True


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
    if u._peeked:
        _skip_consumed(u)
    else:
        _drop_chunk(u)
    if n <= MIN_READ_CHUNK:
        _set_chunk(u, u._file_read(n), False)
        if u._buflen < n:
            _raise_truncated()
    else:
        _set_chunk(u, _read_new(u, n, False, False), False)
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
    if u._peeked:
        _skip_consumed(u)
    _drop_chunk(u)
    line = u._file_readline()
    if type(line) is not bytes:
        line = bytes(memoryview(line))
    n = len(<bytes>line)
    if n == 0 or (<bytes>line)[n - 1] != 10:
        _raise_truncated()
    _set_chunk(u, line, False)
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
# Opcode handlers

cdef int _load_int(Unpickler u) except -1:
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
        return _push(u, x == 1)
    return _push_steal(u, R_Long_FromLong(x))


cdef int _load_long(Unpickler u) except -1:
    cdef Py_ssize_t n
    cdef char *s = _readline_z(u, &n)
    if s[n - 2] == 76:  # 'L'
        s[n - 2] = 0
    return _push_steal(u, R_Long_FromString(s, NULL, 0))


cdef int _load_counted_long(Unpickler u, int size) except -1:
    cdef const char *s = _read(u, size)
    cdef long n = _binint(s, size)
    if n < 0:
        raise UnpicklingError("LONG pickle has negative byte count")
    if n == 0:
        return _push_steal(u, R_Long_FromLong(0))
    s = _read(u, n)
    return _push_steal(u, PKL_LongFromLE(s, n))


cdef int _load_float(Unpickler u) except -1:
    cdef Py_ssize_t n
    cdef char *s = _readline_z(u, &n)
    cdef char *end
    cdef double d = PyOS_string_to_double(s, &end, PyExc_OverflowError)
    if end[0] != 10 and end[0] != 0:
        raise ValueError("could not convert string to float")
    return _push_steal(u, R_Float_FromDouble(d))


cdef int _load_binfloat(Unpickler u) except -1:
    cdef const char *s = _read(u, 8)
    cdef int err = 0
    cdef double d = PKL_BinFloat(s, &err)
    if err:
        return -1
    return _push_steal(u, R_Float_FromDouble(d))


cdef int _load_string(Unpickler u) except -1:
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
    return _push_steal(u, R_Unicode_FromEncodedObject(<PyObject *>bo, u._encoding_b, u._errors_b))


cdef int _load_counted_binstring(Unpickler u, int nbytes) except -1:
    cdef const char *s = _read(u, nbytes)
    cdef Py_ssize_t size = _binsize(s, nbytes)
    if size < 0:
        raise UnpicklingError("BINSTRING exceeds system's maximum size of %d bytes" % PY_SSIZE_T_MAX)
    s = _read(u, size)
    if u._enc_bytes:
        return _push_steal(u, R_Bytes_FromStringAndSize(s, size))
    return _push_steal(u, R_Unicode_Decode(s, size, u._encoding_b, u._errors_b))


cdef int _read_empty_payload(Unpickler u) except -1:
    """An empty bytes or bytearray payload with the window used up, read
    as _pickle's _Unpickler_ReadInto does: from memory input it is
    "truncated" (_pickle's quirk), from a file it is asked of the file
    (read(0), or readinto() of an empty buffer), and bytes a file returns
    beyond the 0 asked for are dropped, as _pickle drops them."""
    cdef char empty = 0
    if u._file_read is None:
        _raise_truncated()
    if u._peeked:
        _skip_consumed(u)
    else:
        _drop_chunk(u)
    return _read_into(u, &empty, 0, True)


cdef int _load_counted_binbytes(Unpickler u, int nbytes) except -1:
    cdef const char *s = _read(u, nbytes)
    cdef PyObject *b
    cdef Py_ssize_t size = _binsize(s, nbytes)
    if size < 0:
        raise OverflowError("BINBYTES exceeds system's maximum size of %d bytes" % PY_SSIZE_T_MAX)
    if size == 0 and u._pos == u._buflen:
        _read_empty_payload(u)
    if size <= u._buflen - u._pos:
        s = u._buf + u._pos
        u._pos += size
        if size == 1:
            # A new object, as _pickle gives (it reads into a new bytes), not
            # the interpreter's shared one-byte instance that
            # PyBytes_FromStringAndSize(s, 1) would return.
            b = R_Bytes_FromStringAndSize(NULL, 1)
            R_Bytes_AS_STRING(b)[0] = s[0]
            return _push_steal(u, b)
        return _push_steal(u, R_Bytes_FromStringAndSize(s, size))
    return _push(u, _read_new(u, size, False, True))


cdef int _load_bytearray8(Unpickler u) except -1:
    cdef const char *s = _read(u, 8)
    cdef Py_ssize_t size = _binsize(s, 8)
    if size < 0:
        raise OverflowError("BYTEARRAY8 exceeds system's maximum size of %d bytes" % PY_SSIZE_T_MAX)
    if size == 0 and u._pos == u._buflen:
        _read_empty_payload(u)    # same quirks as BINBYTES
    return _push(u, _read_new(u, size, True, True))


cdef int _load_next_buffer(Unpickler u) except -1:
    cdef PyObject *b
    if u._buffers is None:
        raise UnpicklingError("pickle stream refers to out-of-band data "
                              "but no *buffers* argument was given")
    it = u._buffers
    b = R_Iter_Next(<PyObject *>it)
    if b == NULL:
        if PyErr_Occurred() != NULL:
            return -1      # the iterator raised: propagate its exception
        raise UnpicklingError("not enough out-of-band buffers")
    return _push_steal(u, b)


cdef int _load_readonly_buffer(Unpickler u) except -1:
    cdef PyObject *obj
    cdef PyObject *view
    if u._stack_len <= u._fence:
        _underflow(u)
    obj = u._stack[u._stack_len - 1]
    view = R_MemoryView_FromObject(obj)
    if not PyMemoryView_GET_BUFFER(<object>view).readonly:
        # Same exporter, but the view refuses writes.
        PyMemoryView_GET_BUFFER(<object>view).readonly = 1
        u._stack[u._stack_len - 1] = view
        P_DECREF(obj)
    else:
        P_DECREF(view)
    return 0


cdef int _load_unicode(Unpickler u) except -1:
    cdef const char *s
    cdef Py_ssize_t n = _readline(u, &s)
    return _push_steal(u, R_Unicode_DecodeRawUnicodeEscape(s, n - 1, NULL))


cdef int _load_counted_binunicode(Unpickler u, int nbytes) except -1:
    cdef const char *s = _read(u, nbytes)
    cdef Py_ssize_t size = _binsize(s, nbytes)
    if size < 0:
        raise OverflowError("BINUNICODE exceeds system's maximum size of %d bytes" % PY_SSIZE_T_MAX)
    if size <= u._buflen - u._pos:
        s = u._buf + u._pos
        u._pos += size
        return _push_steal(u, PKL_DecodeStr(s, size))
    s = _read_slow(u, size)
    return _push_steal(u, PKL_DecodeStr(s, size))


cdef int _load_counted_tuple(Unpickler u, Py_ssize_t n) except -1:
    cdef PyObject *t
    if u._stack_len - n < u._fence:
        _underflow(u)
    t = _poptuple(u, u._stack_len - n)
    return _push_steal(u, t)


cdef int _load_dict(Unpickler u) except -1:
    cdef Py_ssize_t i = _pop_mark(u)
    cdef Py_ssize_t j = u._stack_len
    cdef Py_ssize_t k
    cdef PyObject *d = R_Dict_New()
    try:
        if (j - i) % 2 != 0:
            raise UnpicklingError("odd number of items for DICT")
        k = i + 1
        while k < j:
            R_Dict_SetItem(d, u._stack[k - 1], u._stack[k])
            k += 2
    except:
        P_DECREF(d)
        raise
    _clear_stack_to(u, i)
    return _push_steal(u, d)


cdef int _load_frozenset(Unpickler u) except -1:
    cdef Py_ssize_t i = _pop_mark(u)
    cdef PyObject *t = _poptuple(u, i)
    items = _steal(t)
    return _push_steal(u, R_FrozenSet_New(<PyObject *>items))


cdef object _instantiate(object cls, object args):
    cdef PyObject *f = NULL
    if not args and P_Type_Check(<PyObject *>cls):
        PKL_LookupAttr(<PyObject *>cls, <PyObject *>_S_GETINITARGS, &f)
        if f == NULL:
            return cls.__new__(cls)
        P_DECREF(f)
    return _steal(R_Object_Call(<PyObject *>cls, <PyObject *>args, NULL))


cdef int _load_obj(Unpickler u) except -1:
    cdef Py_ssize_t i = _pop_mark(u)
    if u._stack_len - i < 1:
        _underflow(u)
    args = _steal(_poptuple(u, i + 1))
    cls = _pop(u)
    if u._policy is not None:
        u._policy.check_call(u, OP_OBJ, cls, args, None)
    return _push(u, _instantiate(cls, args))


cdef int _load_inst(Unpickler u) except -1:
    cdef Py_ssize_t i = _pop_mark(u)
    cdef const char *s
    cdef Py_ssize_t n = _readline(u, &s)
    if n < 2:
        _raise_truncated()
    module_name = _steal(R_Unicode_DecodeASCII(s, n - 1, "strict"))
    n = _readline(u, &s)
    if n < 2:
        _raise_truncated()
    class_name = _steal(R_Unicode_DecodeASCII(s, n - 1, "strict"))
    cls = _call_find_class(u, module_name, class_name)
    args = _steal(_poptuple(u, i))
    if u._policy is not None:
        u._policy.check_call(u, OP_INST, cls, args, None)
    return _push(u, _instantiate(cls, args))


cdef int _load_newobj(Unpickler u, bint use_kwargs) except -1:
    cdef PyTypeObject *tp
    kwargs = None
    if use_kwargs:
        kwargs = _pop(u)
    args = _pop(u)
    cls = _pop(u)
    name = "NEWOBJ_EX" if use_kwargs else "NEWOBJ"
    if not P_Type_Check(<PyObject *>cls):
        raise UnpicklingError("%s class argument must be a type, not %s" % (name, _tpname(cls)))
    tp = <PyTypeObject *><PyObject *>cls
    if tp.tp_new == NULL:
        raise UnpicklingError("%s class argument '%s' doesn't have __new__" % (name, _tpname(cls)))
    if not P_Tuple_Check(<PyObject *>args):
        raise UnpicklingError("%s args argument must be a tuple, not %s" % (name, _tpname(args)))
    if use_kwargs and not P_Dict_Check(<PyObject *>kwargs):
        raise UnpicklingError("%s kwargs argument must be a dict, not %s" % (name, _tpname(kwargs)))
    if u._policy is not None:
        u._policy.check_call(u, OP_NEWOBJ_EX if use_kwargs else OP_NEWOBJ, cls, args, kwargs)
    obj = tp.tp_new(<type>cls, <PyObject *>args,
                    <PyObject *>kwargs if use_kwargs else NULL)
    return _push(u, obj)


cdef object _call_find_class(Unpickler u, object module_name, object global_name):
    # The base class is immutable and its instances have no __dict__, so for
    # exact instances the attribute lookup would always find our method.
    if u._policy is not None:
        return u._policy.find_global(u, module_name, global_name)
    if type(u) is Unpickler:
        return _find_class_impl(u, module_name, global_name)
    return u.find_class(module_name, global_name)


cdef int _load_global(Unpickler u) except -1:
    cdef const char *s
    cdef Py_ssize_t n = _readline(u, &s)
    if n < 2:
        _raise_truncated()
    module_name = _steal(R_Unicode_DecodeUTF8(s, n - 1, "strict"))
    n = _readline(u, &s)
    if n < 2:
        _raise_truncated()
    global_name = _steal(R_Unicode_DecodeUTF8(s, n - 1, "strict"))
    return _push(u, _call_find_class(u, module_name, global_name))


cdef int _load_stack_global(Unpickler u) except -1:
    if _PY310 and u._stack_len - u._fence < 2:
        # 3.10's _pickle reports a short stack as a type error here.
        _clear_stack_to(u, u._fence)
        raise UnpicklingError("STACK_GLOBAL requires str")
    global_name = _pop(u)
    module_name = _pop(u)
    if type(module_name) is not str or type(global_name) is not str:
        raise UnpicklingError("STACK_GLOBAL requires str")
    return _push(u, _call_find_class(u, module_name, global_name))


cdef int _no_persistent_load() except -1:
    raise UnpicklingError(_NO_PERSISTENT_LOAD_MSG)


# Wording of the running version's _pickle (3.12 joined the two lines).
cdef str _NO_PERSISTENT_LOAD_MSG = (
    "A load persistent id instruction was encountered,%sbut no "
    "persistent_load function was specified."
    % (" " if sys.version_info >= (3, 12) else "\n"))


cdef int _load_persid(Unpickler u) except -1:
    cdef const char *s
    cdef Py_ssize_t n
    # Before 3.13 the missing hook is reported before reading the argument;
    # from 3.13 on the default hook is called with it (as in _pickle).
    if u._pers_func is None and not _PY313:
        _no_persistent_load()
    n = _readline(u, &s)
    try:
        pid = _steal(R_Unicode_DecodeASCII(s, n - 1, "strict"))
    except UnicodeDecodeError:
        raise UnpicklingError("persistent IDs in protocol 0 must be ASCII strings")
    func = u._pers_func
    if func is None:
        _no_persistent_load()
    return _push(u, func(pid))


cdef int _load_binpersid(Unpickler u) except -1:
    if u._pers_func is None and not _PY313:
        _no_persistent_load()
    pid = _pop(u)
    func = u._pers_func
    if func is None:
        _no_persistent_load()
    return _push(u, func(pid))


cdef int _load_pop(Unpickler u) except -1:
    cdef Py_ssize_t n = u._stack_len
    if u._num_marks > 0 and u._marks[u._num_marks - 1] == n:
        u._num_marks -= 1
        u._fence = u._marks[u._num_marks - 1] if u._num_marks else 0
    elif n <= u._fence:
        _underflow(u)
    else:
        _clear_stack_to(u, n - 1)
    return 0


cdef int _load_pop_mark(Unpickler u) except -1:
    cdef Py_ssize_t i = _pop_mark(u)
    return _clear_stack_to(u, i)


cdef int _load_dup(Unpickler u) except -1:
    if u._stack_len <= u._fence:
        _underflow(u)
    return _push(u, <object>u._stack[u._stack_len - 1])


cdef int _push_memo_slow(Unpickler u, Py_ssize_t idx) except -1:
    cdef PyObject *v = _memo_get(u, idx)
    if v == NULL:
        _memo_missing(idx)
    P_INCREF(v)
    return _push_steal(u, v)


ctypedef int (*_push_memo_slow_t)(Unpickler, Py_ssize_t) noexcept
cdef _push_memo_slow_t _push_memo_slow_nx = <_push_memo_slow_t>_push_memo_slow


cdef inline int _push_memo(Unpickler u, Py_ssize_t idx) except -1:
    """Push memo[idx] (GET, BINGET, LONG_BINGET)."""
    cdef PyObject *v
    if <size_t>idx < <size_t>u._memo_cap:
        v = u._memo[idx]
        if v != NULL:
            P_INCREF(v)
            return _push_steal(u, v)
    return _push_memo_slow_nx(u, idx)


cdef int _load_get(Unpickler u) except -1:
    cdef Py_ssize_t n, idx
    cdef char *s = _readline_z(u, &n)
    key = _steal(R_Long_FromString(s, NULL, 10))
    idx = key
    return _push_memo(u, idx)


cdef int _load_put(Unpickler u) except -1:
    cdef Py_ssize_t n, idx
    cdef char *s = _readline_z(u, &n)
    if u._stack_len <= u._fence:
        _underflow(u)
    key = _steal(R_Long_FromString(s, NULL, 10))
    idx = key
    if idx < 0:
        raise ValueError("negative PUT argument")
    return _memo_put(u, idx, u._stack[u._stack_len - 1])


cdef int _load_extension(Unpickler u, int nbytes) except -1:
    cdef const char *s = _read(u, nbytes)
    cdef long code = _binint(s, nbytes)
    if code <= 0:
        raise UnpicklingError("EXT specifies code <= 0")
    if u._policy is not None:
        return _push(u, u._policy.extension(u, code, nbytes))
    py_code = code
    obj = _extension_cache.get(py_code, _MISSING)
    if obj is not _MISSING:
        return _push(u, obj)
    pair = _inverted_registry.get(py_code, _MISSING)
    if pair is _MISSING:
        raise ValueError("unregistered extension code %d" % code)
    if (not isinstance(pair, tuple) or len(pair) != 2 or
            not isinstance(pair[0], str) or not isinstance(pair[1], str)):
        raise ValueError("_inverted_registry[%d] isn't a 2-tuple of strings" % code)
    obj = _call_find_class(u, pair[0], pair[1])
    _extension_cache[py_code] = obj
    return _push(u, obj)


cdef object _MISSING = object()


cdef int _do_append(Unpickler u, Py_ssize_t x) except -1:
    cdef Py_ssize_t n = u._stack_len
    cdef PyObject *lst
    cdef PyObject *f = NULL
    cdef PyObject *sl
    cdef Py_ssize_t ln
    if x > n or x <= u._fence:
        _underflow(u)
    if n == x:
        return 0
    lst = u._stack[x - 1]
    if P_List_CheckExact(lst):
        sl = _poplist(u, x)
        ln = R_List_GET_SIZE(lst)
        if ln == 0:
            # The usual case (a list's first batch): the new list's item
            # array becomes the target's; no copy, no reference churn.
            list_adopt_items(lst, sl)
            P_DECREF(sl)
            return 0
        try:
            R_List_SetSlice(lst, ln, ln, sl)
        finally:
            P_DECREF(sl)
        return 0
    # Hold the target: user code below may re-enter.
    target = <object>lst
    if u._policy is not None:
        extend = u._policy.builtin_extend(u, target)
        items = _steal(_poplist(u, x))
        extend(target, items)
        return 0
    PKL_LookupAttr(lst, <PyObject *>_S_EXTEND, &f)
    if f != NULL:
        extend = _steal(f)
        items = _steal(_poplist(u, x))
        extend(items)
        return 0
    append = getattr(target, _S_APPEND)
    items = _steal(_poplist(u, x))
    for item in items:
        append(item)
    return 0


cdef int _do_setitems(Unpickler u, Py_ssize_t x) except -1:
    cdef Py_ssize_t n = u._stack_len
    cdef Py_ssize_t i
    cdef PyObject *d
    cdef PyObject **st
    if x > n or x <= u._fence:
        _underflow(u)
    if n == x:
        return 0
    if (n - x) % 2 != 0:
        raise UnpicklingError("odd number of items for SETITEMS")
    d = u._stack[x - 1]
    st = u._stack
    # Loads that re-enter from user code run on their own stack, so the
    # items stay owned by this stack while the calls below run.
    try:
        i = x + 1
        if P_Dict_CheckExact(d):
            while i < n:
                R_Dict_SetItem(d, st[i - 1], st[i])
                i += 2
        elif u._policy is not None:
            target = <object>d
            setitem = u._policy.builtin_setitem(u, target)
            while i < n:
                setitem(target, <object>st[i - 1], <object>st[i])
                i += 2
        else:
            target = <object>d
            while i < n:
                R_Object_SetItem(d, st[i - 1], st[i])
                i += 2
    finally:
        _clear_stack_to(u, x)
    return 0


cdef int _load_additems(Unpickler u) except -1:
    cdef Py_ssize_t mark = _pop_mark(u)
    cdef Py_ssize_t n = u._stack_len
    cdef PyObject *s
    if mark > n or mark <= u._fence:
        _underflow(u)
    if n == mark:
        return 0
    s = u._stack[mark - 1]
    target = <object>s
    items = _steal(_poptuple(u, mark))
    if P_Set_Check(s):
        for item in items:
            R_Set_Add(s, <PyObject *>item)
    else:
        if u._policy is not None:
            u._policy.check_additems(u, target)
        add = getattr(target, _S_ADD)
        for item in items:
            add(item)
    return 0


cdef int _load_build(Unpickler u) except -1:
    cdef PyObject *f = NULL
    cdef int rc
    cdef bint exact
    cdef PyObject *k
    cdef PyObject *v
    cdef Py_ssize_t pos
    if u._stack_len - 2 < u._fence:
        _underflow(u)
    state = _pop(u)
    inst = <object>u._stack[u._stack_len - 1]
    if u._policy is not None:
        u._policy.check_build(u, inst, state)
    PKL_LookupAttr(<PyObject *>inst, <PyObject *>_S_SETSTATE, &f)
    if f != NULL:
        setstate = _steal(f)
        setstate(state)
        return 0
    slotstate = None
    if P_Tuple_Check(<PyObject *>state) and R_Tuple_GET_SIZE(<PyObject *>state) == 2:
        slotstate = <object>R_Tuple_GET_ITEM(<PyObject *>state, 1)
        dict_state = <object>R_Tuple_GET_ITEM(<PyObject *>state, 0)
        state = dict_state
    if state is not None:
        if not P_Dict_Check(<PyObject *>state):
            raise UnpicklingError("state is not a dictionary")
        inst_dict = getattr(inst, _S_DICT)
        exact = P_Dict_CheckExact(<PyObject *>inst_dict)
        pos = 0
        # As in _pickle: keys are interned and held while stored, values
        # borrowed from `state` (held by this frame).
        while R_Dict_Next(<PyObject *>state, &pos, &k, &v):
            P_INCREF(k)
            if P_Unicode_CheckExact(k) and not R_Unicode_CHECK_INTERNED(k):
                k = _interned_key(u, k)
            if exact:
                rc = N_Dict_SetItem(<PyObject *>inst_dict, k, v)
            else:
                rc = N_Object_SetItem(<PyObject *>inst_dict, k, v)
            P_DECREF(k)
            if rc < 0:
                return -1
    if slotstate is not None:
        if not P_Dict_Check(<PyObject *>slotstate):
            raise UnpicklingError("slot state is not a dictionary")
        pos = 0
        while R_Dict_Next(<PyObject *>slotstate, &pos, &k, &v):
            # PyObject_SetAttr interns the name itself; handing it the
            # interned twin makes that a flag check.
            P_INCREF(k)
            if P_Unicode_CheckExact(k) and not R_Unicode_CHECK_INTERNED(k):
                k = _interned_key(u, k)
            rc = N_Object_SetAttr(<PyObject *>inst, k, v)
            P_DECREF(k)
            if rc < 0:
                return -1
    return 0


cdef inline PyObject *_interned_key(Unpickler u, PyObject *k) noexcept:
    """PyUnicode_InternInPlace for a BUILD key: takes the reference to `k`
    and returns one to the str to store (the interned twin when there is
    one).  Remembers the pair, so the next instance's key (the same
    memoized object) costs a pointer comparison."""
    # Fibonacci hashing of the address: neighbouring keys (pymalloc places
    # them 48 or 64 bytes apart) land in different slots.
    cdef size_t slot = (<size_t>k * <size_t>0x9E3779B97F4A7C15ULL) >> (8 * sizeof(size_t) - 3)
    cdef PyObject *orig = k
    cdef PyObject *t = u._intern_from[slot]
    if t == k:
        t = u._intern_to[slot]
        P_INCREF(t)
        P_DECREF(k)
        return t
    P_INCREF(orig)                  # held across the call (it may drop k)
    R_Unicode_InternInPlace(&k)
    if k != orig:
        P_XDECREF(u._intern_from[slot])
        P_XDECREF(u._intern_to[slot])
        u._intern_from[slot] = orig     # takes the reference from above
        P_INCREF(k)
        u._intern_to[slot] = k
    else:
        P_DECREF(orig)              # interned itself: next time it is seen as such
    return k


cdef void _clear_intern_cache(Unpickler u) noexcept:
    cdef int i
    for i in range(8):
        P_XDECREF(u._intern_from[i])
        P_XDECREF(u._intern_to[i])
        u._intern_from[i] = NULL
        u._intern_to[i] = NULL


cdef int _load_mark(Unpickler u) except -1:
    cdef Py_ssize_t new_cap
    cdef Py_ssize_t *p
    if u._num_marks >= u._marks_cap:
        new_cap = u._num_marks * 2 + 20
        p = <Py_ssize_t *>PyMem_Realloc(u._marks, new_cap * sizeof(Py_ssize_t))
        if p == NULL:
            raise MemoryError()
        u._marks = p
        u._marks_cap = new_cap
    u._fence = u._stack_len
    u._marks[u._num_marks] = u._stack_len
    u._num_marks += 1
    return 0


cdef int _load_reduce(Unpickler u) except -1:
    args = _pop(u)
    func = _pop(u)
    if not P_Tuple_Check(<PyObject *>args):
        raise TypeError("argument list must be a tuple")
    if u._policy is not None:
        u._policy.check_call(u, OP_REDUCE, func, args, None)
    return _push_steal(u, R_Object_Call(<PyObject *>func, <PyObject *>args, NULL))


cdef int _load_proto(Unpickler u) except -1:
    cdef const char *s = _read(u, 1)
    cdef int i = <unsigned char>s[0]
    if i > HIGHEST_PROTOCOL:
        raise ValueError("unsupported pickle protocol: %d" % i)
    u._proto = i
    return 0


cdef int _load_frame(Unpickler u) except -1:
    cdef const char *s = _read(u, 8)
    cdef Py_ssize_t n = _binsize(s, 8)
    if n < 0:
        raise OverflowError("FRAME length exceeds system's maximum of %d bytes" % PY_SSIZE_T_MAX)
    if n <= u._buflen - u._pos:
        return 0
    if u._file_read is None:
        if u._pos > PY_SSIZE_T_MAX - n:
            raise UnpicklingError("read would overflow (invalid bytecode)")
        _raise_truncated()
    # Read the whole frame as an ordinary read (peek() when it is small,
    # else one read()), then step back to its start, as _pickle does.
    _read_slow(u, n)
    u._pos -= n
    return 0


cdef int _invalid_opcode(unsigned char c) except -1:
    if 0x20 <= c <= 0x7e and c != 39 and c != 92:
        raise UnpicklingError("invalid load key, '%c'." % c)
    raise UnpicklingError("invalid load key, '\\x%02x'." % c)


cdef unsigned char _read_opcode_slow(Unpickler u) except? 0:
    cdef const char *s
    if u._file_read is None:
        raise EOFError("Ran out of input")
    try:
        s = _read_slow(u, 1)
    except UnpicklingError:
        raise EOFError("Ran out of input")
    return <unsigned char>s[0]


# ---------------------------------------------------------------------------
# The dispatch loop

cdef object _run(Unpickler u):
    cdef unsigned char op
    cdef const char *s
    cdef Py_ssize_t n
    while True:
        if u._pos < u._buflen:
            op = <unsigned char>u._buf[u._pos]
            u._pos += 1
        else:
            op = _read_opcode_slow(u)

        # Most frequent opcodes first (Cython turns the chain into a switch).
        if op == OP_BININT1:
            s = _read(u, 1)
            _push_steal(u, R_Long_FromLong(<unsigned char>s[0]))
        elif op == OP_MEMOIZE:
            _memoize(u)
        elif op == OP_SHORT_BINUNICODE:
            s = _read(u, 1)
            n = <unsigned char>s[0]
            s = _read(u, n)
            _push_steal(u, PKL_DecodeStr(s, n))
        elif op == OP_BINUNICODE:
            _load_counted_binunicode(u, 4)
        elif op == OP_BINUNICODE8:
            _load_counted_binunicode(u, 8)
        elif op == OP_BININT:
            s = _read(u, 4)
            _push_steal(u, R_Long_FromLong(_binint(s, 4)))
        elif op == OP_BININT2:
            s = _read(u, 2)
            _push_steal(u, R_Long_FromLong(_binint(s, 2)))
        elif op == OP_BINFLOAT:
            _load_binfloat(u)
        elif op == OP_EMPTY_LIST:
            _push_steal(u, R_List_New(0))
        elif op == OP_EMPTY_DICT:
            _push_steal(u, R_Dict_New())
        elif op == OP_EMPTY_TUPLE:
            _push_steal(u, R_Tuple_New(0))
        elif op == OP_MARK:
            _load_mark(u)
        elif op == OP_APPENDS:
            _do_append(u, _pop_mark(u))
        elif op == OP_APPEND:
            if u._stack_len - 1 <= u._fence:
                _underflow(u)
            _do_append(u, u._stack_len - 1)
        elif op == OP_SETITEMS:
            _do_setitems(u, _pop_mark(u))
        elif op == OP_SETITEM:
            _do_setitems(u, u._stack_len - 2)
        elif op == OP_BINGET:
            s = _read(u, 1)
            _push_memo(u, <unsigned char>s[0])
        elif op == OP_LONG_BINGET:
            s = _read(u, 4)
            _push_memo(u, _binsize(s, 4))
        elif op == OP_BINPUT:
            s = _read(u, 1)
            if u._stack_len <= u._fence:
                _underflow(u)
            _memo_put(u, <unsigned char>s[0], u._stack[u._stack_len - 1])
        elif op == OP_LONG_BINPUT:
            s = _read(u, 4)
            if u._stack_len <= u._fence:
                _underflow(u)
            n = _binsize(s, 4)
            if n < 0:
                raise ValueError("negative LONG_BINPUT argument")
            _memo_put(u, n, u._stack[u._stack_len - 1])
        elif op == OP_NONE:
            _push(u, None)
        elif op == OP_NEWTRUE:
            _push(u, True)
        elif op == OP_NEWFALSE:
            _push(u, False)
        elif op == OP_TUPLE1:
            _load_counted_tuple(u, 1)
        elif op == OP_TUPLE2:
            _load_counted_tuple(u, 2)
        elif op == OP_TUPLE3:
            _load_counted_tuple(u, 3)
        elif op == OP_TUPLE:
            _load_counted_tuple(u, u._stack_len - _pop_mark(u))
        elif op == OP_SHORT_BINBYTES:
            _load_counted_binbytes(u, 1)
        elif op == OP_BINBYTES:
            _load_counted_binbytes(u, 4)
        elif op == OP_BINBYTES8:
            _load_counted_binbytes(u, 8)
        elif op == OP_BYTEARRAY8:
            _load_bytearray8(u)
        elif op == OP_NEXT_BUFFER:
            _load_next_buffer(u)
        elif op == OP_READONLY_BUFFER:
            _load_readonly_buffer(u)
        elif op == OP_LONG1:
            _load_counted_long(u, 1)
        elif op == OP_LONG4:
            _load_counted_long(u, 4)
        elif op == OP_FRAME:
            _load_frame(u)
        elif op == OP_PROTO:
            _load_proto(u)
        elif op == OP_STACK_GLOBAL:
            _load_stack_global(u)
        elif op == OP_GLOBAL:
            _load_global(u)
        elif op == OP_NEWOBJ:
            _load_newobj(u, False)
        elif op == OP_NEWOBJ_EX:
            _load_newobj(u, True)
        elif op == OP_REDUCE:
            _load_reduce(u)
        elif op == OP_BUILD:
            _load_build(u)
        elif op == OP_EMPTY_SET:
            _push_steal(u, R_Set_New(NULL))
        elif op == OP_ADDITEMS:
            _load_additems(u)
        elif op == OP_FROZENSET:
            _load_frozenset(u)
        elif op == OP_LIST:
            n = _pop_mark(u)
            _push_steal(u, _poplist(u, n))
        elif op == OP_DICT:
            _load_dict(u)
        elif op == OP_DUP:
            _load_dup(u)
        elif op == OP_POP:
            _load_pop(u)
        elif op == OP_POP_MARK:
            _load_pop_mark(u)
        elif op == OP_INT:
            _load_int(u)
        elif op == OP_LONG:
            _load_long(u)
        elif op == OP_FLOAT:
            _load_float(u)
        elif op == OP_STRING:
            _load_string(u)
        elif op == OP_BINSTRING:
            _load_counted_binstring(u, 4)
        elif op == OP_SHORT_BINSTRING:
            _load_counted_binstring(u, 1)
        elif op == OP_UNICODE:
            _load_unicode(u)
        elif op == OP_GET:
            _load_get(u)
        elif op == OP_PUT:
            _load_put(u)
        elif op == OP_OBJ:
            _load_obj(u)
        elif op == OP_INST:
            _load_inst(u)
        elif op == OP_PERSID:
            _load_persid(u)
        elif op == OP_BINPERSID:
            _load_binpersid(u)
        elif op == OP_EXT1:
            _load_extension(u, 1)
        elif op == OP_EXT2:
            _load_extension(u, 2)
        elif op == OP_EXT4:
            _load_extension(u, 4)
        elif op == OP_STOP:
            break
        else:
            _invalid_opcode(op)

    if u._peeked:
        _skip_consumed(u)
    return _pop(u)


cdef object _resolve_persistent_load(Unpickler u):
    """persistent_load to use for this load(), or None (the default hook)."""
    cdef PyObject *f = NULL
    if type(u) is Unpickler:
        return u._pers_assigned
    PKL_LookupAttr(<PyObject *>u, <PyObject *>_S_PERSISTENT_LOAD, &f)
    if f == NULL:
        return None
    func = _steal(f)
    if (P_Method_Check(f) and P_Method_GET_SELF(f) == <PyObject *>u and
            P_Method_GET_FUNCTION(f) == <PyObject *>_DEFAULT_PERSISTENT_LOAD):
        return None
    return func


cdef extern from *:
    """
    #if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && defined(__linux__) \
        && (defined(__x86_64__) || defined(__aarch64__))
    /* the thread's control block: unique among running threads, one instruction */
    #define pickler_thread_id() ((unsigned long)__builtin_thread_pointer())
    #elif defined(__linux__) || defined(__APPLE__)
    #include <pthread.h>
    #define pickler_thread_id() ((unsigned long)pthread_self())
    #else
    #define pickler_thread_id() PyThread_get_thread_ident()
    #endif
    """
    unsigned long _thread_id "pickler_thread_id" () noexcept nogil


cdef object _load(Unpickler u):
    """Run one load(); a load() re-entered from user code gets its own stack.

    Another thread's load() on an Unpickler that is loading is refused (a
    hook of the first one let it run): the two would share the stack, the
    marks and the input."""
    cdef PyObject **saved_stack = NULL
    cdef Py_ssize_t saved_len = 0, saved_cap = 0, saved_fence = 0
    cdef Py_ssize_t *saved_marks = NULL
    cdef Py_ssize_t saved_nmarks = 0, saved_mcap = 0
    cdef int saved_proto = 0
    cdef bint nested = u._depth > 0
    cdef unsigned long thread = _thread_id()
    if nested and u._thread != thread:
        raise RuntimeError("Unpickler object is already used by another thread")
    u._thread = thread
    saved_pers = u._pers_func
    if nested:
        saved_stack, saved_len, saved_cap = u._stack, u._stack_len, u._stack_cap
        saved_fence = u._fence
        saved_marks, saved_nmarks, saved_mcap = u._marks, u._num_marks, u._marks_cap
        saved_proto = u._proto
        u._stack = NULL
        u._stack_len = u._stack_cap = 0
        u._marks = NULL
        u._marks_cap = 0
    else:
        _clear_stack_to(u, 0)
    u._num_marks = 0
    u._fence = 0
    u._proto = 0
    u._depth += 1
    try:
        u._pers_func = _resolve_persistent_load(u)
        return _run(u)
    finally:
        try:
            _clear_stack_to(u, 0)
        finally:
            u._depth -= 1
            u._pers_func = saved_pers
            if nested:
                PyMem_Free(u._stack)
                PyMem_Free(u._marks)
                u._stack, u._stack_len, u._stack_cap = saved_stack, saved_len, saved_cap
                u._fence = saved_fence
                u._marks, u._num_marks, u._marks_cap = saved_marks, saved_nmarks, saved_mcap
                u._proto = saved_proto


# ---------------------------------------------------------------------------
# find_class

cdef object _getattribute(object module, object name, bint allow_qualname):
    cdef PyObject *r = NULL
    if allow_qualname:
        dotted = name.split(".")
        if "<locals>" in dotted:
            raise AttributeError("Can't get local attribute %r on %r" % (name, module))
        obj = module
        for sub in dotted:
            parent = obj
            PKL_LookupAttr(<PyObject *>parent, <PyObject *>sub, &r)
            if r == NULL:
                raise AttributeError("Can't get attribute %r on %r" % (name, module))
            obj = _steal(r)
        return obj
    PKL_LookupAttr(<PyObject *>module, <PyObject *>name, &r)
    if r == NULL:
        raise AttributeError("Can't get attribute %r on %r" % (name, module))
    return _steal(r)


cdef object _find_class_impl(Unpickler u, object module_name, object global_name):
    PySys_Audit("pickle.find_class", "OO", <PyObject *>module_name, <PyObject *>global_name)
    if u._proto < 3 and u._fix_imports:
        item = _NAME_MAPPING.get((module_name, global_name))
        if item is not None:
            if type(item) is not tuple or len(item) != 2:
                raise RuntimeError("_compat_pickle.NAME_MAPPING values should be "
                                   "2-tuples, not %s" % _tpname(item))
            module_name, global_name = item
            if not isinstance(module_name, str) or not isinstance(global_name, str):
                raise RuntimeError("_compat_pickle.NAME_MAPPING values should be "
                                   "pairs of str, not (%s, %s)"
                                   % (_tpname(module_name), _tpname(global_name)))
        else:
            item = _IMPORT_MAPPING.get(module_name)
            if item is not None:
                if not isinstance(item, str):
                    raise RuntimeError("_compat_pickle.IMPORT_MAPPING values should be "
                                       "strings, not %s" % _tpname(item))
                module_name = item
    module = import_module(module_name)
    return _getattribute(module, global_name, u._proto >= 4)


# ---------------------------------------------------------------------------
# Load policy (the hooks of pickler/_safe.pyx; see _unpickler.pxd)

cdef class LoadPolicy:
    """Base of the policies an Unpickler consults when one is set: this
    base refuses everything; pickler._safe's allowlist overrides each hook."""

    cdef object find_global(self, Unpickler u, object module_name, object global_name):
        raise UnpicklingError("global '%s.%s' is forbidden" % (module_name, global_name))

    cdef object extension(self, Unpickler u, long code, int nbytes):
        raise UnpicklingError("extension code %d is forbidden" % code)

    cdef int check_call(self, Unpickler u, int op, object func, object args,
                        object kwargs) except -1:
        raise UnpicklingError("calling %s is forbidden" % _tpname(func))

    cdef int check_build(self, Unpickler u, object inst, object state) except -1:
        raise UnpicklingError("BUILD on %s is forbidden" % _tpname(inst))

    cdef object builtin_extend(self, Unpickler u, object target):
        raise UnpicklingError("APPENDS to %s is forbidden" % _tpname(target))

    cdef object builtin_setitem(self, Unpickler u, object target):
        raise UnpicklingError("SETITEM on %s is forbidden" % _tpname(target))

    cdef int check_additems(self, Unpickler u, object target) except -1:
        raise UnpicklingError("ADDITEMS to %s is forbidden" % _tpname(target))


# ---------------------------------------------------------------------------
# Public classes

cdef class UnpicklerMemoProxy:
    """Proxy of an Unpickler's memo: ``copy()`` gives ``{index: object}``."""

    cdef Unpickler unpickler   # the Unpickler whose memo is shown

    def __cinit__(self, Unpickler unpickler):
        self.unpickler = unpickler

    def clear(self):
        """Remove all items from memo."""
        _memo_clear(self.unpickler)

    def copy(self):
        """Copy the memo to a new object."""
        return _memo_copy(self.unpickler)

    def __reduce__(self):
        """Implement pickling support."""
        return (dict, (_memo_copy(self.unpickler),))

    def __hash__(self):
        raise TypeError("unhashable type: 'UnpicklerMemoProxy'")


class _NoBuffers(tuple):
    """Default of *buffers*: shows as ``()`` like the C signature, but means
    "no buffers given" (NEXT_BUFFER then reports the missing argument)."""
    __slots__ = ()

    def __repr__(self):
        return "()"


cdef object _NO_BUFFERS_DEFAULT = _NoBuffers()


# The class docstring carries its own text signature (the `--` line), as
# _pickle.Unpickler's does, for inspect.signature(Unpickler).
@cython.embedsignature(False)
cdef class Unpickler:
    """Unpickler(file, *, fix_imports=True, encoding='ASCII', errors='strict', buffers=())
--

    This takes a binary file for reading a pickle data stream.

    The protocol version of the pickle is detected automatically, so no
    protocol argument is needed.  Bytes past the pickled object's
    representation are ignored.

    *file* must have a read() method taking an integer argument and a
    readline() method taking none, both returning bytes; readinto() and
    peek() are used when present.  *fix_imports*, *encoding* and *errors*
    control the loading of Python 2 pickles (module renames, 8-bit strings;
    encoding='bytes' keeps them as bytes).  *buffers* is an iterable of
    the out-of-band buffers of a protocol 5 pickle.
    """

    def __cinit__(self):
        self._stack = <PyObject **>PyMem_Malloc(STACK_INITIAL * sizeof(PyObject *))
        self._memo = <PyObject **>PyMem_Malloc(MEMO_INITIAL * sizeof(PyObject *))
        if self._stack == NULL or self._memo == NULL:
            raise MemoryError()
        memset(self._memo, 0, MEMO_INITIAL * sizeof(PyObject *))
        self._stack_cap = STACK_INITIAL
        self._memo_cap = MEMO_INITIAL
        self._encoding_b = _ASCII_B
        self._errors_b = _STRICT_B

    def __dealloc__(self):
        cdef Py_ssize_t i
        if self._has_view:
            PyBuffer_Release(&self._view)
            self._has_view = False
        if self._stack != NULL:
            for i in range(self._stack_len):
                P_DECREF(self._stack[i])
            PyMem_Free(self._stack)
        if self._memo != NULL:
            for i in range(self._memo_top):
                P_XDECREF(self._memo[i])
            PyMem_Free(self._memo)
        PyMem_Free(self._marks)
        PyMem_Free(self._line)
        _clear_intern_cache(self)

    def __init__(self, file, *, fix_imports=True, encoding="ASCII",
                 errors="strict", buffers=_NO_BUFFERS_DEFAULT):
        cdef PyObject *r = NULL
        if self._depth > 0:
            raise RuntimeError("Unpickler.__init__() called while loading")
        self._ready = False
        peek = readinto = read = readline = None
        PKL_LookupAttr(<PyObject *>file, <PyObject *>"peek", &r)
        if r != NULL:
            peek = _steal(r)
        r = NULL
        PKL_LookupAttr(<PyObject *>file, <PyObject *>"readinto", &r)
        if r != NULL:
            readinto = _steal(r)
        r = NULL
        PKL_LookupAttr(<PyObject *>file, <PyObject *>"read", &r)
        if r != NULL:
            read = _steal(r)
        r = NULL
        PKL_LookupAttr(<PyObject *>file, <PyObject *>"readline", &r)
        if r != NULL:
            readline = _steal(r)
        if read is None or readline is None:
            raise TypeError("file must have 'read' and 'readline' attributes")
        _configure(self, fix_imports, encoding, errors, buffers)
        _release_input(self)
        self._file_peek = peek
        self._file_readinto = readinto
        self._file_read = read
        self._file_readline = readline
        _memo_clear(self)
        self._pers_func = None
        self._proto = 0
        self._ready = True

    def load(self):
        """Load a pickle.

        Read a pickled object representation from the open file object given
        in the constructor, and return the reconstituted object hierarchy
        specified therein.
        """
        if not self._ready:
            raise UnpicklingError("Unpickler.__init__() was not called by %s.__init__()"
                                  % _tpname(self))
        return _load(self)

    def find_class(self, module_name, global_name, /):
        """Return an object from a specified module.

        If necessary, the module will be imported. Subclasses may override
        this method (e.g. to restrict unpickling of arbitrary classes and
        functions).

        This method is called whenever a class or a function object is
        needed.  Both arguments passed are str objects.
        """
        return _find_class_impl(self, module_name, global_name)

    def _default_persistent_load(self, pid, /):
        """Default persistent_load (Python 3.13+): always raises UnpicklingError."""
        _no_persistent_load()

    @property
    def memo(self):
        """The memo, as a proxy with copy() and clear()."""
        return UnpicklerMemoProxy(self)

    @memo.setter
    def memo(self, obj):
        _set_memo(self, obj)

    @memo.deleter
    def memo(self):
        raise TypeError("attribute deletion is not supported")

    @property
    def persistent_load(self):
        """Hook called with the id of each persistent reference."""
        if self._pers_assigned is not None:
            return self._pers_assigned
        if _PY313:
            return self._default_persistent_load
        raise AttributeError("persistent_load")

    @persistent_load.setter
    def persistent_load(self, value):
        if not callable(value):
            raise TypeError("persistent_load must be a callable taking one argument")
        self._pers_assigned = value

    @persistent_load.deleter
    def persistent_load(self):
        raise TypeError("attribute deletion is not supported")

    def __sizeof__(self):
        """Returns size in memory, in bytes."""
        return (object.__sizeof__(self) + self._memo_cap * sizeof(PyObject *)
                + self._stack_cap * sizeof(PyObject *)
                + self._marks_cap * sizeof(Py_ssize_t) + self._line_cap)


cdef object _DEFAULT_PERSISTENT_LOAD = Unpickler.__dict__["_default_persistent_load"]


cdef int _configure(Unpickler u, object fix_imports, object encoding,
                    object errors, object buffers) except -1:
    if not isinstance(encoding, str):
        raise TypeError("argument 'encoding' must be str, not %s" % _tpname(encoding))
    if not isinstance(errors, str):
        raise TypeError("argument 'errors' must be str, not %s" % _tpname(errors))
    enc_b = (<str>encoding).encode("utf-8")
    err_b = (<str>errors).encode("utf-8")
    if b"\0" in enc_b or b"\0" in err_b:
        raise ValueError("embedded null character")
    if buffers is None or buffers is _NO_BUFFERS_DEFAULT:
        it = None
    else:
        it = iter(buffers)
    u._fix_imports = bool(fix_imports)
    u._encoding_b = enc_b
    u._errors_b = err_b
    u._enc_bytes = strcmp(<const char *>enc_b, "bytes") == 0
    u._buffers = it
    return 0


cdef int _release_input(Unpickler u) except -1:
    _drop_chunk(u)
    if u._has_view:
        u._has_view = False
        PyBuffer_Release(&u._view)
    if u._file_read is not None:
        u._file_read = u._file_readline = u._file_readinto = u._file_peek = None
    return 0


cdef int _set_memo(Unpickler u, object obj) except -1:
    cdef Unpickler other
    cdef Py_ssize_t idx
    if type(obj) is UnpicklerMemoProxy:
        other = (<UnpicklerMemoProxy>obj).unpickler
        entries = _memo_copy(other)
    elif isinstance(obj, dict):
        entries = {}
        for key, value in (<dict>obj).items():
            if not isinstance(key, int):
                raise TypeError("memo key must be integers")
            idx = key
            if idx < 0:
                raise ValueError("memo key must be positive integers.")
            entries[idx] = value
    else:
        raise TypeError("'memo' attribute must be an UnpicklerMemoProxy object "
                        "or dict, not %s" % _tpname(obj))
    _memo_clear(u)
    for key, value in entries.items():
        _memo_put(u, key, <PyObject *>value)
    return 0


# ---------------------------------------------------------------------------
# Module functions

def load(file, *, fix_imports=True, encoding="ASCII", errors="strict",
         buffers=_NO_BUFFERS_DEFAULT):
    """Read and return an object from the pickle data stored in a file.

    This is equivalent to ``Unpickler(file).load()``, but may be more
    efficient.

    The protocol version of the pickle is detected automatically, so no
    protocol argument is needed.  Bytes past the pickled object's
    representation are ignored.

    The argument *file* must have two methods, a read() method that takes
    an integer argument, and a readline() method that requires no
    arguments.  Both methods should return bytes.  Thus *file* can be a
    binary file object opened for reading, an io.BytesIO object, or any
    other custom object that meets this interface.

    Optional keyword arguments are *fix_imports*, *encoding* and *errors*,
    which are used to control compatibility support for pickle stream
    generated by Python 2.  If *fix_imports* is True, pickle will try to
    map the old Python 2 names to the new names used in Python 3.  The
    *encoding* and *errors* tell pickle how to decode 8-bit string
    instances pickled by Python 2; these default to 'ASCII' and 'strict',
    respectively.  The *encoding* can be 'bytes' to read these 8-bit
    string instances as bytes objects.
    """
    cdef Unpickler u = Unpickler(file, fix_imports=fix_imports, encoding=encoding,
                                 errors=errors, buffers=buffers)
    return _load(u)


def loads(data, /, *, fix_imports=True, encoding="ASCII", errors="strict",
          buffers=_NO_BUFFERS_DEFAULT):
    """Read and return an object from the given pickle data.

    The protocol version of the pickle is detected automatically, so no
    protocol argument is needed.  Bytes past the pickled object's
    representation are ignored.

    Optional keyword arguments are *fix_imports*, *encoding* and *errors*,
    which are used to control compatibility support for pickle stream
    generated by Python 2.  If *fix_imports* is True, pickle will try to
    map the old Python 2 names to the new names used in Python 3.  The
    *encoding* and *errors* tell pickle how to decode 8-bit string
    instances pickled by Python 2; these default to 'ASCII' and 'strict',
    respectively.  The *encoding* can be 'bytes' to read these 8-bit
    string instances as bytes objects.
    """
    global _spare_unpickler
    cdef Unpickler u = _spare_unpickler
    # One Unpickler is kept between calls so that small loads() calls do not
    # pay for allocating it, its stack and its memo; a nested call (from a
    # __setstate__ or a reduce function) finds the spare taken and makes its own.
    if u is None:
        u = Unpickler.__new__(Unpickler)
    else:
        _spare_unpickler = None
    try:
        PyObject_GetBuffer(data, &u._view, PyBUF_SIMPLE)
        u._has_view = True
        u._buf = <const char *>u._view.buf
        u._buflen = u._view.len
        u._pos = 0
        if encoding != "ASCII" or errors != "strict" or buffers is not _NO_BUFFERS_DEFAULT:
            _configure(u, fix_imports, encoding, errors, buffers)
        else:
            u._fix_imports = bool(fix_imports)
        u._ready = True
        return _load(u)
    finally:
        if _recycle(u) == 0:
            _spare_unpickler = u


cdef Unpickler _spare_unpickler = None   # reused by loads() when not in use


cdef int _recycle(Unpickler u) except -1:
    """Return a loads() Unpickler to the state __cinit__ left it in, keeping
    its arrays unless a large load grew them.  Returns 1, leaving it alone,
    when user code run by the clearing (a __del__) started a load() with it
    meanwhile (in another thread, having found it with gc.get_objects()):
    that load owns it now."""
    cdef PyObject **p
    _release_input(u)
    _memo_clear(u)
    _clear_intern_cache(u)
    if u._depth > 0:
        return 1
    u._buffers = None
    u._pers_func = None
    u._proto = 0
    u._ready = False
    if u._enc_bytes or u._encoding_b is not _ASCII_B or u._errors_b is not _STRICT_B:
        u._encoding_b = _ASCII_B
        u._errors_b = _STRICT_B
        u._enc_bytes = False
    if u._memo_cap > MEMO_KEEP:
        p = <PyObject **>PyMem_Realloc(u._memo, MEMO_INITIAL * sizeof(PyObject *))
        if p != NULL:
            u._memo = p
            u._memo_cap = MEMO_INITIAL
    if u._stack_cap > STACK_KEEP:
        p = <PyObject **>PyMem_Realloc(u._stack, STACK_INITIAL * sizeof(PyObject *))
        if p != NULL:
            u._stack = p
            u._stack_cap = STACK_INITIAL
    if u._marks_cap > STACK_KEEP:
        # many nested MARKs (a hostile input can have millions)
        PyMem_Free(u._marks)
        u._marks = NULL
        u._marks_cap = 0
    if u._line_cap > LINE_KEEP:
        PyMem_Free(u._line)
        u._line = NULL
        u._line_cap = 0
    return 0
