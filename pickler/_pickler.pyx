# cython: language_level=3, binding=True, embedsignature=True, auto_pickle=False
"""The compiled Pickler.

``Pickler.save()`` follows the order of ``save()`` in CPython's
``Modules/_pickle.c`` so that the bytes, the memo indices and the frames are
identical:

1. frame boundary (``opcode_boundary``), then ``persistent_id`` if in use;
2. atoms by identity or exact type, never memoized: None, True/False, int,
   float;
3. the memo: an object already written becomes a GET;
4. exact bytes and str;
5. under the recursion guard: exact dict, set, frozenset, list, tuple,
   bytearray, PickleBuffer;
6. ``reducer_override`` (so it never sees the types above), classes and
   functions by reference, then ``dispatch_table`` / ``copyreg`` /
   ``__reduce_ex__`` / ``__reduce__`` and ``save_reduce``.

Every method of the save path is ``cdef``: a Python subclass cannot override
it, and pays nothing for hooks it does not define.  Hooks are looked up once
per ``dump()`` (``resolve_hooks``).
"""
import sys
import copyreg
import functools
import _compat_pickle
from types import FunctionType
from pickle import PickleBuffer, PicklingError, DEFAULT_PROTOCOL

cimport cython
from cpython.object cimport PyObject, PyTypeObject, Py_TYPE
from cpython.long cimport PyLong_AsLongAndOverflow, PyLong_AsLong
from cpython.tuple cimport PyTuple_GET_SIZE, PyTuple_GET_ITEM
from cpython.list cimport PyList_GET_SIZE, PyList_GET_ITEM
from cpython.dict cimport PyDict_Next
from cpython.ref cimport Py_INCREF, Py_DECREF
from cpython.method cimport PyMethod_Check, PyMethod_GET_FUNCTION, PyMethod_GET_SELF
from libc.string cimport memcpy, strlen, strcmp

from ._protocol cimport *
from ._buffer cimport buf_reserve, buf_write, buf_write_byte
from ._framer cimport Framer, opcode_boundary, write_payload
from ._memo cimport MemoTable, MemoEntry, memo_lookup, memo_find, memo_set
from ._imports cimport import_module

cdef extern from "Python.h":
    # Returns non-zero (1 on some versions, -1 on others) with RecursionError set.
    int Py_EnterRecursiveCall(const char *where)
    void Py_LeaveRecursiveCall()
    const char *PyUnicode_AsUTF8AndSize_noexc "PyUnicode_AsUTF8AndSize" (object, Py_ssize_t *)
    void PyErr_Clear()
    bint PyUnicode_IS_ASCII(object)
    char *PyBytes_AS_STRING(object)
    Py_ssize_t PyBytes_GET_SIZE(object)
    char *PyByteArray_AS_STRING(object)
    Py_ssize_t PyByteArray_GET_SIZE(object)
    bint PyType_IsSubtype(PyTypeObject *, PyTypeObject *)
    bint PyIter_Check(object)
    int PyObject_GetBuffer(object, Py_buffer *, int) except -1
    void PyBuffer_Release(Py_buffer *)
    int PyBUF_SIMPLE
    const Py_buffer *PyPickleBuffer_GetBuffer(object) except NULL
    object PyPickleBuffer_FromObject(object)
    bint PyBuffer_IsContiguous(const Py_buffer *, char)
    PyObject *_PyType_Lookup(PyTypeObject *, object)
    PyObject *PyObject_GenericGetDict(object, void *) except NULL
    PyObject *PyDict_GetItem(object, object)
    Py_ssize_t PyDict_GET_SIZE(object)
    unsigned long Py_TPFLAGS_HEAPTYPE
    bint PyCallable_Check(object)
    char *PyOS_double_to_string(double val, char format_code, int precision,
                                int flags, int *type) except NULL
    void PyMem_Free(void *)
    int Py_DTSF_ADD_DOT_0
    double PyFloat_AS_DOUBLE(object)

cdef extern from *:
    """
    /* The vectorcall entry of a callable (NULL when it has none), looked up
       once per dump() for a save() override. */
    static inline vectorcallfunc pickler_vectorcall_of(PyObject *f) {
        return PyVectorcall_Function(f);
    }
    /* f(self, obj) or f(self, obj, False): the per-object call of a save()
       override's function, with the arguments on the C stack (no tuple, no
       bound method), through f's vectorcall entry `vc` when it has one
       (saves looking it up again on every call).  Returns 0, or -1 with
       the exception set. */
    static int pickler_call_save_override(vectorcallfunc vc, PyObject *f,
                                          PyObject *self, PyObject *obj,
                                          int no_persistent_id) {
        PyObject *args[4] = {NULL, self, obj, Py_False};
        size_t nargsf = (no_persistent_id ? 3 : 2) | PY_VECTORCALL_ARGUMENTS_OFFSET;
        PyObject *res = vc ? vc(f, args + 1, nargsf, NULL)
                           : PyObject_Vectorcall(f, args + 1, nargsf, NULL);
        if (res == NULL) {
            return -1;
        }
        Py_DECREF(res);
        return 0;
    }
    """
    vectorcallfunc vectorcall_of "pickler_vectorcall_of" (object f)
    int call_save_override "pickler_call_save_override" (
        vectorcallfunc vc, object f, object self, object obj,
        int no_persistent_id) except -1

cdef extern from *:
    """
    #if PY_VERSION_HEX >= 0x030D0000
    /* Exported by every supported version, declared by Python.h up to 3.12. */
    PyAPI_FUNC(int) _PySet_NextEntry(PyObject *, Py_ssize_t *, PyObject **, Py_hash_t *);
    #endif
    """
    # 1 and a borrowed entry, or 0 at the end (obj must be a set or frozenset).
    bint set_next_entry "_PySet_NextEntry" (object, Py_ssize_t *, PyObject **,
                                            Py_hash_t *) noexcept
    bint PyAnySet_Check(object)

cdef extern from *:
    """
    static inline Py_ssize_t pickler_type_weaklistoffset(PyTypeObject *t) {
        return t->tp_weaklistoffset;
    }
    """
    Py_ssize_t type_weaklistoffset "pickler_type_weaklistoffset" (PyTypeObject *t)

cdef extern from *:
    """
    /* What type.__name__ of `t` (whose metaclass is exactly `type`) says
       about save_reduce's NEWOBJ forms: 1 for "__newobj__", 2 for
       "__newobj_ex__", 0 for any other name; the name is read as
       type.__name__ returns it (a heap type's own name, a static type's
       tp_name after its last dot) without building the str. */
    static int pickler_type_newobj_kind(PyTypeObject *t) {
        if (t->tp_flags & Py_TPFLAGS_HEAPTYPE) {
            PyObject *n = ((PyHeapTypeObject *)t)->ht_name;
            if (PyUnicode_CompareWithASCIIString(n, "__newobj__") == 0) return 1;
            if (PyUnicode_CompareWithASCIIString(n, "__newobj_ex__") == 0) return 2;
            return 0;
        } else {
            const char *dot = strrchr(t->tp_name, '.');
            const char *name = dot ? dot + 1 : t->tp_name;
            if (strcmp(name, "__newobj__") == 0) return 1;
            if (strcmp(name, "__newobj_ex__") == 0) return 2;
            return 0;
        }
    }
    """
    int type_newobj_kind "pickler_type_newobj_kind" (PyTypeObject *t) noexcept

cdef extern from *:
    """
    #if defined(__linux__) && defined(__GNUC__)
    #include <pthread.h>
    /* The stack guard: the lowest usable address of the running thread's
       stack (measured, whatever its size: 128 KiB threads on musl, small
       threading.stack_size() stacks) plus a margin for what runs between
       two checks (one nesting level of our frames and the user code it
       calls, at most a few KiB) and for raising the error.  Found once per
       thread; NULL when unknown (no check). */
    #define PICKLER_STACK_MARGIN_MAX ((size_t)256 * 1024)
    static __thread char *pickler_thread_stack_floor = NULL;
    static __thread int pickler_thread_stack_known = 0;
    static char *pickler_stack_floor(void) {
        if (!pickler_thread_stack_known) {
            pthread_attr_t attr;
            void *base = NULL;
            size_t size = 0, margin;
            pickler_thread_stack_known = 1;
            if (pthread_getattr_np(pthread_self(), &attr) == 0) {
                if (pthread_attr_getstack(&attr, &base, &size) == 0 && base != NULL
                        && size > 0) {
                    /* a sixteenth of the stack, 16 KiB to 256 KiB */
                    margin = size / 16;
                    if (margin < 16 * 1024) margin = 16 * 1024;
                    if (margin > PICKLER_STACK_MARGIN_MAX) margin = PICKLER_STACK_MARGIN_MAX;
                    if (margin < size) {
                        pickler_thread_stack_floor = (char *)base + margin;
                    }
                }
                pthread_attr_destroy(&attr);
            }
        }
        return pickler_thread_stack_floor;
    }
    #else
    #define PICKLER_STACK_MARGIN_MAX ((size_t)256 * 1024)
    static char *pickler_stack_floor(void) { return NULL; }
    #endif
    /* True when the stack pointer is below the floor, within the margin
       (unsigned arithmetic: one subtraction and one comparison; a NULL
       floor, or code running on another stack below this thread's, such
       as a coroutine library's, is never "below the floor"). */
    static inline int pickler_below_stack_floor(char *floor) {
        char here;
        return (size_t)((uintptr_t)floor - (uintptr_t)&here - 1) < PICKLER_STACK_MARGIN_MAX;
    }
    """
    char *current_stack_floor "pickler_stack_floor" () noexcept nogil
    bint below_stack_floor "pickler_below_stack_floor" (char *floor) noexcept nogil

# ---------------------------------------------------------------------------
# Python objects used at run time, cached in C variables.

cdef object _PickleBuffer = PickleBuffer
cdef object _PicklingError = PicklingError
cdef type _FunctionType = FunctionType
cdef dict _copyreg_dispatch_table = copyreg.dispatch_table
cdef object _copyreg_newobj = copyreg.__newobj__
cdef object _copyreg_newobj_ex = copyreg.__newobj_ex__
cdef dict _extension_registry = copyreg._extension_registry
cdef dict _name_mapping_3to2 = _compat_pickle.REVERSE_NAME_MAPPING
cdef dict _import_mapping_3to2 = _compat_pickle.REVERSE_IMPORT_MAPPING
cdef object _codecs_encode
import codecs
_codecs_encode = codecs.encode
cdef object _partial = functools.partial
cdef object _getattr = getattr
from struct import pack as _struct_pack   # put()/get() of the surface, as pickle._Pickler
cdef object _NotImplemented = NotImplemented
cdef object _MISSING = object()         # "no such attribute / key"
cdef object _DONE = object()            # reduce_value_of(): already pickled
cdef object _PLAIN_INSTANCE = object()  # reduce_value_of(): see save_plain_instance
cdef object _NoneType = type(None)
cdef object _EllipsisType = type(Ellipsis)
cdef object _NotImplementedType = type(NotImplemented)

cdef int _DEFAULT_PROTOCOL = DEFAULT_PROTOCOL

# Behaviour that changed between the supported CPython versions (the
# version flags themselves are in _protocol.pxd).
# 3.13+: a default persistent_id() method (returning None) exists, so that
# subclasses can call super().persistent_id(obj).
cdef bint HAS_DEFAULT_PERSISTENT_ID = PY313
# 3.13+: a nested qualname under protocol < 4 is written as a chain of
# getattr() calls on the top-level object (gh-82951); before, as
# getattr(parent, name) with the parent pickled by reference.
cdef bint NESTED_GETATTR_CHAIN = PY313
# Calling a builtin method counts one level of recursion on every supported
# version; calling a builtin function does too, except on 3.12.
cdef bint METHOD_CALL_COUNTS_RECURSION = True
cdef bint FUNCTION_CALL_COUNTS_RECURSION = not PY312 or PY313
cdef str LOCAL_OBJECT_MSG = ("Can't get local object %r" if PY313
                             else "Can't pickle local object %r")
cdef str PICKLEBUFFER_PROTO_MSG = (
    "PickleBuffer can only be pickled with protocol >= 5" if PY313
    else "PickleBuffer can only pickled with protocol >= 5")

cdef enum:
    NO_PERSISTENT_ID = 1      # _save() flags: obj is a persistent ID
    NO_SAVE_HOOK = 2          # _save() flags: called by Pickler.save() itself

cdef enum:
    NEWLINE = 10
    SMALL_RESULT = 4096   # dumps() results up to this size are copied out
    KEEP_MEMO_SLOTS = 8192   # dumps() keeps a memo table up to this many slots (128 KiB)


# ---------------------------------------------------------------------------
# Small helpers.

cdef int _save_nonatomic(Pickler self, object obj, type t) except -1:
    return self.save_nonatomic(obj, t)

# Called through a pointer that does not check the result, so that the
# caller can leave the recursion guard before it passes the error on (-1
# with the exception set).
ctypedef int (*save_nonatomic_t)(Pickler, object, type) noexcept
cdef save_nonatomic_t save_nonatomic_nx = <save_nonatomic_t>_save_nonatomic


cdef inline int enter_recursive_call(char *stack_floor) except -1:
    if Py_EnterRecursiveCall(" while pickling an object"):
        return -1
    if below_stack_floor(stack_floor):
        # The thread's stack is nearly used up (a small thread stack, or a
        # high recursion limit): fail before it overflows.
        Py_LeaveRecursiveCall()
        raise RecursionError("maximum recursion depth exceeded while pickling an object")
    return 0


cdef inline void write_u32_le(char *p, unsigned long long v) noexcept:
    p[0] = <char>(v & 0xff)
    p[1] = <char>((v >> 8) & 0xff)
    p[2] = <char>((v >> 16) & 0xff)
    p[3] = <char>((v >> 24) & 0xff)


cdef inline void write_u64_le(char *p, unsigned long long v) noexcept:
    cdef int i
    for i in range(8):
        p[i] = <char>((v >> (8 * i)) & 0xff)


cdef extern from *:
    """
    /* The value of an int of at most one 30-bit digit (|v| < 2**30), read
       from the object itself; 0 for a larger one. */
    #if PY_VERSION_HEX >= 0x030C0000
    static inline int pickler_compact_long(PyObject *o, long *v) {
        if (PyUnstable_Long_IsCompact((PyLongObject *)o)) {
            *v = (long)PyUnstable_Long_CompactValue((PyLongObject *)o);
            return 1;
        }
        return 0;
    }
    #else
    #if PY_VERSION_HEX < 0x030B0000
    #include "longintrepr.h"
    #endif
    static inline int pickler_compact_long(PyObject *o, long *v) {
        Py_ssize_t size = Py_SIZE(o);
        if (size == 0) { *v = 0; return 1; }
        if (size == 1) { *v = (long)((PyLongObject *)o)->ob_digit[0]; return 1; }
        if (size == -1) { *v = -(long)((PyLongObject *)o)->ob_digit[0]; return 1; }
        return 0;
    }
    #endif
    """
    bint compact_long_value "pickler_compact_long" (PyObject *o, long *v) noexcept


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
        p[1] = <char>(val & 0xff)
        p[2] = <char>((val >> 8) & 0xff)
    else:
        p = buf_reserve(framer, 5)
        p[0] = op4
        write_u32_le(p + 1, <unsigned long long>val)
    return 0


cdef inline int write_binint(Framer framer, long val) except -1:
    """BININT1, BININT2 or BININT for -2**31 <= val < 2**31."""
    return write_sized_opcode(framer, <char>BININT1, <char>BININT2, <char>BININT, val)


cdef inline int write_decimal_line(Framer framer, char op, Py_ssize_t value) except -1:
    """`op` followed by `value` in decimal and a newline (protocol 0 style)."""
    cdef bytes line = ("%d\n" % value).encode("ascii")
    buf_write_byte(framer, op)
    buf_write(framer, PyBytes_AS_STRING(line), PyBytes_GET_SIZE(line))
    return 0


cdef inline int write_long1_from_long(Framer framer, long val) except -1:
    """LONG1 for an int that fits a C long (but not 32 bits): its two's
    complement, little-endian, in as few bytes as keep the sign."""
    cdef unsigned long long u = <unsigned long long>val
    cdef int nbytes = 8
    cdef char *p
    cdef int i
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
    for i in range(nbytes):
        p[2 + i] = <char>((u >> (8 * i)) & 0xff)
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


# ---------------------------------------------------------------------------

cdef object _PERSISTENT_ID_PROPERTY = None   # Pickler.__dict__['persistent_id']


# The class docstring carries its own text signature (the `--` line), as
# _pickle.Pickler's does, for inspect.signature(Pickler).
@cython.embedsignature(False)
cdef class Pickler:
    """Pickler(file, protocol=None, fix_imports=True, buffer_callback=None)
--

This takes a binary file for writing a pickle data stream.

The optional *protocol* argument tells the pickler to use the given
protocol; supported protocols are 0, 1, 2, 3, 4 and 5.  The default
protocol is the running Python's pickle.DEFAULT_PROTOCOL.

Specifying a negative protocol version selects the highest protocol
version supported.  The higher the protocol used, the more recent the
version of Python needed to read the pickle produced.

The *file* argument must have a write() method that accepts a single
bytes argument. It can thus be a file object opened for binary
writing, an io.BytesIO instance, or any other custom object that meets
this interface.

If *fix_imports* is True and protocol is less than 3, pickle will try
to map the new Python 3 names to the old module names used in Python
2, so that the pickle data stream is readable with Python 2.

If *buffer_callback* is None (the default), buffer views are
serialized into *file* as part of the pickle stream.

If *buffer_callback* is not None, then it can be called any number
of times with a buffer view.  If the callback returns a false value
(such as None), the given buffer is out-of-band; otherwise the
buffer is serialized in-band, i.e. inside the pickle stream.

It is an error if *buffer_callback* is not None and *protocol*
is None or smaller than 5.
"""

    def __cinit__(self):
        self.framer = Framer.__new__(Framer)
        self.memo_table = MemoTable.__new__(MemoTable)
        self.proto = 0
        self.bin = 0
        self.fast = 0
        self.fix_imports = False
        self.buffer_callback = None
        self.initialized = False
        self.running = False
        self.fast_nesting = 0
        self.fast_memo = None
        self.pers_func_attr = None
        self.dispatch_table_attr = None
        self.has_dispatch_table = False
        self.hook_persistent_id = None
        self.hook_reducer_override = None
        self.hook_dispatch_table = None
        self.use_persistent_id = False
        self.use_reducer_override = False
        self.use_dispatch_table = False
        self.hook_save = None
        self.hook_save_func = None
        self.hook_save_vc = NULL
        self.hook_memoize = None
        self.hook_save_reduce = None
        self.hook_save_global = None
        self.hook_save_pers = None
        self.hook_batch_appends = None
        self.hook_batch_setitems = None
        self.custom_dispatch = None
        self.n_custom_types = 0
        self.dispatch_get = None
        self.per_object_hooks = False
        self.flush_before_python = False
        self.surface_mode = False

    def __init__(self, file, protocol=None, fix_imports=True, buffer_callback=None):
        if self.running:
            raise RuntimeError("Pickler object is already used")
        if self.initialized:
            # A second __init__() starts from a clean state, as in _pickle.
            self.memo_table = MemoTable.__new__(MemoTable)
            self.framer = Framer.__new__(Framer)
            self.pers_func_attr = None
            self.dispatch_table_attr = None
            self.has_dispatch_table = False
            self.fast_memo = None
            self.initialized = False
        self.setup(file, protocol, fix_imports, buffer_callback, True)
        self.fast = 0
        self.fast_nesting = 0
        if not self.has_dispatch_table and type(self) is not Pickler:
            # A subclass may define dispatch_table as a class attribute.
            try:
                table = getattr(self, "dispatch_table")
            except AttributeError:
                pass
            else:
                self.dispatch_table_attr = table
                self.has_dispatch_table = True
        self.initialized = True

    @cython.final
    cdef int setup(self, object file, object protocol, object fix_imports,
                   object buffer_callback, bint to_file) except -1:
        """Protocol, output stream and buffer callback, checked in _pickle's order."""
        cdef long proto
        if protocol is None:
            proto = _DEFAULT_PROTOCOL
        else:
            proto = PyLong_AsLong(protocol)
            if proto < 0:
                proto = HIGHEST_PROTOCOL
            elif proto > HIGHEST_PROTOCOL:
                raise ValueError("pickle protocol must be <= %d" % HIGHEST_PROTOCOL)
        self.proto = <int>proto
        self.bin = proto > 0
        self.fix_imports = bool(fix_imports) and proto < 3
        if to_file:
            try:
                self.framer.file_write = file.write
            except AttributeError:
                raise TypeError("file must have a 'write' attribute") from None
        else:
            self.framer.file_write = None
        if buffer_callback is not None and proto < 5:
            raise ValueError("buffer_callback needs protocol >= 5")
        self.buffer_callback = buffer_callback
        return 0

    # -- public API ---------------------------------------------------------

    def dump(self, obj):
        """Write a pickled representation of the given object to the open file."""
        if not self.initialized:
            raise _PicklingError(
                "Pickler.__init__() was not called by %s.__init__()"
                % type(self).__name__)
        self.run_dump(obj, METHOD_CALL_COUNTS_RECURSION)
        self.framer.flush_to_file()

    def clear_memo(self):
        """Clears the pickler's "memo".

        The memo is the data structure that remembers which objects the
        pickler has already seen, so that shared or recursive objects are
        pickled by reference and not by value.  This method is useful when
        re-using picklers.
        """
        self.memo_table.clear()


    # -- the pure-Python Pickler's surface ------------------------------------
    #
    # The methods of pickle._Pickler that subclasses call or override.  Each
    # runs the compiled code for one object; an override defined by a
    # subclass is found once per dump() (resolve_overrides) and then used by
    # the compiled code wherever pickle._Pickler would call it.

    # type -> saver(pickler, obj), filled below with the entries of
    # pickle._Pickler.dispatch.  Subclasses copy it and add or replace
    # entries; only the entries that differ cost anything per object.
    dispatch = {}

    def save(self, obj, save_persistent_id=True):
        """Pickle one object into the current pickle (pickle._Pickler.save).

        Meant to be called while dump() runs, by overrides: a subclass's
        save() sees every object and its super().save(obj) continues here.
        """
        if save_persistent_id:
            self._save(obj, NO_SAVE_HOOK)
        else:
            if self.use_persistent_id:
                # pickle._Pickler.save() calls persistent_id() here too and
                # only ignores its result (save_pers() pickles the ID this
                # way); its side effects and exceptions are part of the
                # surface.  (The C pickler never shows it the ID, and neither
                # do we when no save() override is involved.)
                self.hook_persistent_id(obj)
            self._save(obj, NO_SAVE_HOOK | NO_PERSISTENT_ID)
        if self.flush_before_python:    # before_python(), inlined: per object
            self.flush_unframed()

    def save_reduce(self, func, args, state=None, listitems=None,
                    dictitems=None, state_setter=None, *, obj=None):
        """Pickle the reduction (func, args, state, ...) of `obj`."""
        self._save_reduce((func, args, state, listitems, dictitems,
                           state_setter), obj, True)
        self.before_python()

    def save_global(self, obj, name=None):
        """Pickle `obj` by reference (module and qualified name)."""
        self.save_global_body(obj, name)
        self.before_python()

    def save_pers(self, pid):
        """Write a persistent ID reference."""
        self.write_pers(pid)
        self.before_python()

    def memoize(self, obj):
        """Store `obj` in the memo and write the opcode that does it."""
        self._memoize(obj, True)
        self.before_python()

    def put(self, idx):
        """The opcode (bytes) that stores memo index `idx`."""
        if self.proto >= 4:
            return _MEMOIZE_BYTES
        # struct.pack as pickle._Pickler does: the same bytes and, for an
        # index outside 0..2**32-1, the same struct.error.
        if self.bin:
            if idx < 256:
                return bytes((BINPUT,)) + _struct_pack("<B", idx)
            return bytes((LONG_BINPUT,)) + _struct_pack("<I", idx)
        return b"p" + repr(idx).encode("ascii") + b"\n"

    def get(self, i):
        """The opcode (bytes) that fetches memo index `i`."""
        if self.bin:
            if i < 256:
                return bytes((BINGET,)) + _struct_pack("<B", i)
            return bytes((LONG_BINGET,)) + _struct_pack("<I", i)
        return b"g" + repr(i).encode("ascii") + b"\n"

    def write(self, data):
        """Append raw bytes (opcodes) to the pickle, inside the current frame."""
        cdef Py_buffer view
        cdef Py_ssize_t n
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            n = view.len
            buf_write(self.framer, <const char *>view.buf, n)
        finally:
            PyBuffer_Release(&view)
        self.before_python()
        return n

    def save_none(self, obj):
        buf_write_byte(self.framer, NONE)
        self.before_python()

    def save_bool(self, obj):
        self._save_bool(obj)
        self.before_python()

    def save_long(self, obj):
        self._save_long(int(obj) if type(obj) is not int and type(obj) is not bool else obj)
        self.before_python()

    def save_float(self, obj):
        self._save_float(float(obj))
        self.before_python()

    def save_bytes(self, obj):
        require_type(obj, bytes, "save_bytes")
        self._save_bytes(obj)
        self.before_python()

    def save_bytearray(self, obj):
        require_type(obj, bytearray, "save_bytearray")
        self._save_bytearray(obj)
        self.before_python()

    def save_picklebuffer(self, obj):
        require_type(obj, _PickleBuffer, "save_picklebuffer")
        self._save_picklebuffer(obj)
        self.before_python()

    def save_str(self, obj):
        require_type(obj, str, "save_str")
        self._save_str(obj)
        self.before_python()

    def save_tuple(self, obj):
        require_type(obj, tuple, "save_tuple")
        self._save_tuple(obj)
        self.before_python()

    def save_list(self, obj):
        self._save_list(obj)
        self.before_python()

    def save_dict(self, obj):
        self._save_dict(obj)
        self.before_python()

    def save_set(self, obj):
        self._save_set(obj)
        self.before_python()

    def save_frozenset(self, obj):
        self._save_frozenset(obj)
        self.before_python()

    def save_type(self, obj):
        self._save_type(obj)
        self.before_python()

    def _batch_appends(self, items):
        """APPEND/APPENDS for the items of an iterable (a list's, say)."""
        self.batch_appends(iter(items))
        self.before_python()

    def _batch_setitems(self, items):
        """SETITEM/SETITEMS for an iterable of (key, value) pairs."""
        self.batch_setitems(iter(items))
        self.before_python()

    property proto:
        """The protocol in use.

        Assignable, as on pickle._Pickler (cloudpickle's Pickler sets it in
        __init__): the value is taken as the constructor takes its
        protocol (negative: the highest) and is used by the next dump().
        """
        def __get__(self):
            return self.proto

        def __set__(self, value):
            cdef long proto = PyLong_AsLong(value)
            if proto < 0:
                proto = HIGHEST_PROTOCOL
            elif proto > HIGHEST_PROTOCOL:
                raise ValueError("pickle protocol must be <= %d" % HIGHEST_PROTOCOL)
            if self.running:
                raise RuntimeError("cannot change the protocol while dump() runs")
            self.proto = <int>proto
            self.fix_imports = self.fix_imports and proto < 3

    property fix_imports:
        """Whether names are mapped to Python 2's (protocol < 3 only)."""
        def __get__(self):
            return self.fix_imports

    property framer:
        """The output buffer with its frames; commit_frame(force=False)."""
        def __get__(self):
            return self.framer

    property memo:
        """The memo: a PicklerMemoProxy with copy() and clear()."""
        def __get__(self):
            cdef PicklerMemoProxy proxy = PicklerMemoProxy.__new__(PicklerMemoProxy)
            proxy.pickler = self
            return proxy

        def __set__(self, value):
            cdef MemoTable new_memo
            if isinstance(value, PicklerMemoProxy):
                new_memo = (<PicklerMemoProxy>value).pickler.memo_table.copy()
            elif isinstance(value, dict):
                new_memo = MemoTable.__new__(MemoTable)
                for item in (<dict>value).values():
                    if not isinstance(item, tuple) or len(<tuple>item) != 2:
                        raise TypeError("'memo' values must be 2-item tuples")
                    new_memo.set(<PyObject *>(<tuple>item)[1],
                                 <Py_ssize_t>(<tuple>item)[0])
            else:
                raise TypeError(
                    "'memo' attribute must be a PicklerMemoProxy object "
                    "or dict, not %.200s" % type(value).__name__)
            self.memo_table = new_memo

        def __del__(self):
            raise TypeError("attribute deletion is not supported")

    property persistent_id:
        """Hook returning a persistent ID for an object, or None.

        Assignable on any instance; subclasses may define it as a method.
        """
        def __get__(self):
            if self.pers_func_attr is not None:
                return self.pers_func_attr
            if HAS_DEFAULT_PERSISTENT_ID:
                return _default_persistent_id.__get__(self, type(self))
            raise AttributeError("persistent_id")

        def __set__(self, value):
            if not PyCallable_Check(value):
                raise TypeError("persistent_id must be a callable taking one argument")
            self.pers_func_attr = value

        def __del__(self):
            raise TypeError("attribute deletion is not supported")

    property dispatch_table:
        """Mapping from types to reduction functions, consulted before copyreg's."""
        def __get__(self):
            if not self.has_dispatch_table:
                raise AttributeError(no_attribute_message(self, "dispatch_table"))
            return self.dispatch_table_attr

        def __set__(self, value):
            self.dispatch_table_attr = value
            self.has_dispatch_table = True

        def __del__(self):
            if not self.has_dispatch_table:
                raise AttributeError("dispatch_table")     # _pickle's text
            self.dispatch_table_attr = None
            self.has_dispatch_table = False

    # -- dump ---------------------------------------------------------------

    @cython.final
    cdef int resolve_hooks(self) except -1:
        cdef type cls = type(self)
        self.hook_persistent_id = self.pers_func_attr
        self.use_persistent_id = self.pers_func_attr is not None
        self.use_reducer_override = False
        self.surface_mode = False
        if cls is not Pickler:
            # A subclass may define persistent_id (method, classmethod,
            # staticmethod or instance attribute) and reducer_override.  A
            # hook set to a non-callable is still called, and fails, as in
            # _pickle.
            if getattr(cls, "persistent_id", None) is not _PERSISTENT_ID_PROPERTY:
                hook = getattr(self, "persistent_id", _MISSING)
                if hook is not _MISSING:
                    self.hook_persistent_id = hook
                    self.use_persistent_id = True
            hook = getattr(self, "reducer_override", _MISSING)
            if hook is not _MISSING:
                self.hook_reducer_override = hook
                self.use_reducer_override = True
            self.resolve_overrides(cls)
        self.hook_dispatch_table = self.dispatch_table_attr
        self.use_dispatch_table = self.has_dispatch_table
        self.per_object_hooks = (self.use_persistent_id or self.hook_save is not None
                                 or self.custom_dispatch is not None or self.det_mode)
        return 0

    @cython.final
    cdef int resolve_overrides(self, type cls) except -1:
        """The pure-Python Pickler's methods a subclass overrides, and the
        entries of its `dispatch` that differ from Pickler.dispatch."""
        self.hook_save = overridden(self, cls, "save", _base_save)
        self.hook_save_func = None
        self.hook_save_vc = NULL
        if (PyMethod_Check(self.hook_save)
                and PyMethod_GET_SELF(self.hook_save) == <PyObject *>self):
            self.hook_save_func = <object>PyMethod_GET_FUNCTION(self.hook_save)
            self.hook_save_vc = vectorcall_of(self.hook_save_func)
        self.hook_memoize = overridden(self, cls, "memoize", _base_memoize)
        self.hook_save_reduce = overridden(self, cls, "save_reduce", _base_save_reduce)
        self.hook_save_global = overridden(self, cls, "save_global", _base_save_global)
        self.hook_save_pers = overridden(self, cls, "save_pers", _base_save_pers)
        self.hook_batch_appends = overridden(self, cls, "_batch_appends", _base_batch_appends)
        self.hook_batch_setitems = overridden(self, cls, "_batch_setitems", _base_batch_setitems)
        # Compared with the entries Pickler.dispatch had at import, so that
        # entries added to Pickler.dispatch itself (dill's extend() does, as
        # on pickle._Pickler.dispatch) count as the subclass's too.
        dispatch = getattr(cls, "dispatch", _base_dispatch)
        self.custom_dispatch = None
        self.n_custom_types = 0
        self.dispatch_get = None
        if ((dispatch is not _base_dispatch
                or len(_base_dispatch) != len(_original_dispatch))
                and all(key in dispatch for key in _original_dispatch)):
            # Only a `dispatch` made from Pickler.dispatch is the pure-Python
            # surface's: a subclass written for the C pickler may have a
            # `dispatch` of its own meaning (cloudpickle's is a ChainMap of
            # reducers), which the C pickler ignores, and so do we.
            custom = {}
            for key, saver in dispatch.items():
                if _original_dispatch.get(key, _MISSING) is not saver:
                    custom[key] = saver
            if type(dispatch) is not dict:
                # A mapping whose get() may answer for keys it does not hold.
                self.dispatch_get = dispatch.get
                self.custom_dispatch = custom
            elif custom:
                self.custom_dispatch = custom
                self.n_custom_types = 0
                if len(custom) <= 4 and all(type(key) is type or isinstance(key, type)
                                            for key in custom):
                    for key in custom:
                        self.custom_types[self.n_custom_types] = <PyObject *>key
                        self.n_custom_types += 1
        self.surface_mode = (
            self.hook_save is not None or self.custom_dispatch is not None
            or self.hook_memoize is not None or self.hook_save_reduce is not None
            or self.hook_save_global is not None or self.hook_save_pers is not None
            or self.hook_batch_appends is not None
            or self.hook_batch_setitems is not None)
        # With frames (protocol 4 and up) nothing is written before a frame
        # is committed, and an override that writes to the file directly
        # commits first, as it must with pickle._Pickler.
        self.flush_before_python = (self.framer.file_write is not None and self.surface_mode
                                    and self.proto < 4)
        return 0

    @cython.final
    cdef void clear_hooks(self) noexcept:
        self.hook_persistent_id = None
        self.hook_reducer_override = None
        self.hook_dispatch_table = None
        self.use_persistent_id = False
        self.use_reducer_override = False
        self.use_dispatch_table = False

    @cython.final
    cdef void release_memo(self) noexcept:
        """Empty the memo for the next call.  Clearing walks every slot: a
        table of at most KEEP_MEMO_SLOTS slots and at most 8 times larger
        than this call's entries (plus 64) is kept and cleared, so that the
        next call of a similar size does not grow a table again from 8
        slots.  Any other is dropped for a fresh small one: one left by an
        earlier, bigger call would make small calls walk it, and walking a
        large kept table measured slower than growing a new one (A/B,
        inst_reduce: 1.24 vs 1.07 of C's time).  (Zeroing the table with
        memset and releasing the keys from an insertion-order array was
        tried: more instructions than the walk, which reads the mostly
        empty slots in order and writes only the used ones.)"""
        cdef MemoTable memo = self.memo_table
        cdef Py_ssize_t used = memo.used
        if memo.mask + 1 <= KEEP_MEMO_SLOTS and memo.mask + 1 <= 8 * used + 64:
            if used:
                memo.release_keys()     # `memo` holds the table meanwhile
            return
        try:
            fresh = MemoTable.__new__(MemoTable)
        except MemoryError:
            memo.clear()
            return
        self.memo_table = fresh

    @cython.final
    cdef int run_dump(self, object obj, bint count_call) except -1:
        """Pickle `obj` into the buffer (the body shared by dump() and dumps())."""
        cdef Framer framer = self.framer
        cdef char *p
        if self.running:
            raise RuntimeError("Pickler object is already used")
        self.stack_floor = current_stack_floor()
        # Calling a builtin function or method counts one level of recursion
        # in CPython; count it too, so that deep data fails at the very
        # object where _pickle fails (the memo, and so the bytes of a later
        # dump() on the same Pickler, depend on it).
        if count_call:
            enter_recursive_call(self.stack_floor)
        self.running = True
        try:
            framer.reset()
            self.resolve_hooks()
            if self.proto >= 2:
                p = buf_reserve(framer, 2)
                p[0] = <char>PROTO
                p[1] = <char>self.proto
                if self.proto >= 4:
                    framer.start_framing()
            self._save(obj, 0)
            buf_write_byte(framer, STOP)
            framer.end_framing()
        except BaseException:
            framer.abort()
            raise
        finally:
            self.clear_hooks()
            self.running = False
            if count_call:
                Py_LeaveRecursiveCall()
        return 0

    # -- the save path ------------------------------------------------------

    @cython.final
    cdef int _save(self, object obj, int flags) except -1:
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
            if self.save_with_hooks(obj, flags):
                return 0
        else:
            opcode_boundary(<Framer>framer_)
        # Atoms: never memoized.
        if obj is None:
            return buf_write_byte(<Framer>framer_, NONE)
        if obj is True or obj is False:
            return self._save_bool(obj)
        t = Py_TYPE(obj)
        if t == <PyTypeObject *>int:
            return self._save_long(obj)
        if t == <PyTypeObject *>float:
            return self._save_float(obj)
        memo_ = <PyObject *>self.memo_table
        idx = memo_lookup(<MemoTable>memo_, <PyObject *>obj)
        if idx >= 0:
            return self.memo_get(idx)
        if t == <PyTypeObject *>str:
            return self._save_str(obj)
        if t == <PyTypeObject *>bytes:
            return self._save_bytes(obj)
        # Only objects that can contain others count against the recursion limit.
        enter_recursive_call(self.stack_floor)
        # Not try/finally: its saved exception state would make this frame,
        # which every nesting level has once or twice, larger (measured by
        # benchmarks/stack_depth.py: 16 to 32 bytes per level).
        idx = save_nonatomic_nx(self, obj, <type>t)
        Py_LeaveRecursiveCall()
        return <int>idx

    @cython.final
    cdef int save_with_hooks(self, object obj, int flags) except -1:
        """The per-object hooks, in pickle's order: an overriding save(), the
        frame boundary, persistent_id, then a custom `dispatch` entry.
        Returns 1 when one of them pickled the object."""
        cdef type t
        cdef int i
        cdef PyObject *saver
        if self.hook_save is not None and not (flags & NO_SAVE_HOOK):
            # A subclass overrides save(): it sees every object.  Its
            # function is called with self, not through the bound method.
            # (before_python() by hand: this runs for every object.)
            if self.flush_before_python:
                self.flush_unframed()
            if self.hook_save_func is not None:
                call_save_override(self.hook_save_vc, self.hook_save_func, self, obj,
                                   flags & NO_PERSISTENT_ID)
            elif flags & NO_PERSISTENT_ID:
                self.hook_save(obj, False)
            else:
                self.hook_save(obj)
            return 1
        opcode_boundary(self.framer)
        if not (flags & NO_PERSISTENT_ID) and self.use_persistent_id:
            if self._save_pers(obj):
                return 1
        if self.custom_dispatch is not None:
            # A few custom types are compared by address; more by lookup.
            t = type(obj)
            if self.dispatch_get is not None:
                custom_saver = self.dispatch_get(t)
                if (custom_saver is not None
                        and _original_dispatch.get(t) is not custom_saver):
                    self.save_custom(obj, custom_saver)
                    return 1
            elif self.n_custom_types:
                for i in range(self.n_custom_types):
                    if <PyObject *>t == self.custom_types[i]:
                        self.save_custom(obj, <object>PyDict_GetItem(self.custom_dispatch, t))
                        return 1
            else:
                saver = PyDict_GetItem(self.custom_dispatch, t)
                if saver != NULL:
                    self.save_custom(obj, <object>saver)
                    return 1
        if self.det_mode:
            return self.save_deterministic(obj)
        return 0

    cdef int save_deterministic(self, object obj) except -1:
        """Deterministic mode's saver (pickler/_deterministic.pyx overrides
        it): returns 1 when it pickled `obj`, 0 to go on as usual."""
        return 0

    @cython.final
    cdef int save_custom(self, object obj, object saver) except -1:
        """An object whose type has its own entry in a subclass's `dispatch`.

        As in the pure-Python pickler, the memo comes first and then
        reducer_override (except for the built-in types the C pickler never
        shows it); then saver(pickler, obj).
        """
        cdef Py_ssize_t idx = memo_lookup(self.memo_table, <PyObject *>obj)
        cdef type t = type(obj)
        if idx >= 0:
            return self.memo_get(idx)
        if self.use_reducer_override and not is_builtin_saved_type(t):
            rv = self.hook_reducer_override(obj)
            if rv is not _NotImplemented:
                return self.save_reduce_value(obj, rv)
        self.before_python()
        saver(self, obj)
        return 0

    @cython.final
    cdef int before_python(self) except -1:
        """Before handing control to a Python override, and before a
        method of the surface returns to one: without frames, a pickle to a
        file is written as it goes, as the pure-Python pickler does, so that
        what the override writes to the file directly lands after what was
        pickled before it (joblib's NumpyPickler writes an array's data
        right after Pickler.save(wrapper) returns).  Called twice per object
        under a save() override: the common case is one flag test."""
        if self.flush_before_python:
            return self.flush_unframed()
        return 0

    @cython.final
    cdef int flush_unframed(self) except -1:
        cdef Framer framer = self.framer
        if framer.length and not framer.framing:
            framer.flush_to_file()
            framer.allocate(framer.flush_capacity)
        return 0

    @cython.final
    cdef int save_nonatomic(self, object obj, type t) except -1:
        if t is dict:
            return self._save_dict(obj)
        if t is set:
            return self._save_set(obj)
        if t is frozenset:
            return self._save_frozenset(obj)
        if t is list:
            return self._save_list(obj)
        if t is tuple:
            return self._save_tuple(obj)
        if t is bytearray:
            return self._save_bytearray(obj)
        if t is _PickleBuffer:
            return self._save_picklebuffer(obj)
        return self.save_other(obj, t)

    @cython.final
    cdef int _save_pers(self, object obj) except -1:
        """Returns 1 when persistent_id gave an ID (and it was written), else 0."""
        pid = self.hook_persistent_id(obj)
        if pid is None:
            return 0
        if self.hook_save_pers is not None:
            self.before_python()
            self.hook_save_pers(pid)
            return 1
        self.write_pers(pid)
        return 1

    @cython.final
    cdef int write_pers(self, object pid) except -1:
        """BINPERSID (or PERSID at protocol 0) for a persistent ID."""
        cdef Framer framer = self.framer
        cdef object pid_str
        if self.bin:
            self._save(pid, NO_PERSISTENT_ID)
            buf_write_byte(framer, BINPERSID)
        else:
            pid_str = str(pid)
            if not PyUnicode_IS_ASCII(pid_str):
                raise _PicklingError(
                    "persistent IDs in protocol 0 must be ASCII strings")
            data = (<str>pid_str).encode("ascii")
            buf_write_byte(framer, PERSID)
            buf_write(framer, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
            buf_write_byte(framer, NEWLINE)
        return 0

    @cython.final
    cdef int _memoize(self, object obj, bint from_python=False) except -1:
        """Give `obj` the next memo index and write the opcode that stores it
        (through a subclass's memoize() if it has one, unless called by it)."""
        cdef PyObject *framer_ = <PyObject *>self.framer   # borrowed: fixed while running
        cdef PyObject *memo_      # borrowed, read where used (a hook may replace self.memo)
        cdef Py_ssize_t idx
        cdef char *p
        if self.hook_memoize is not None and not from_python:
            self.before_python()
            self.hook_memoize(obj)
            return 0
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
            write_u32_le(p + 1, <unsigned long long>idx)
        else:
            raise _PicklingError("memo id too large for LONG_BINPUT")
        return 0

    @cython.final
    cdef int memo_get(self, Py_ssize_t idx) except -1:
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
            write_u32_le(p + 1, <unsigned long long>idx)
        else:
            raise _PicklingError("memo id too large for LONG_BINGET")
        return 0

    @cython.final
    cdef int _save_bool(self, object obj) except -1:
        if self.proto >= 2:
            return buf_write_byte(self.framer, <char>(NEWTRUE if obj is True else NEWFALSE))
        if obj is True:
            return buf_write(self.framer, b"I01\n", 4)
        return buf_write(self.framer, b"I00\n", 4)

    @cython.final
    cdef int _save_long(self, object obj) except -1:
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
                write_u32_le(p + 1, <unsigned long long>nbytes)
            return buf_write(<Framer>framer_, PyBytes_AS_STRING(data), nbytes)
        # Protocols 0 and 1: decimal repr with Python 2's trailing L.
        text = repr(obj).encode("ascii")
        buf_write_byte(<Framer>framer_, LONG)
        buf_write(<Framer>framer_, PyBytes_AS_STRING(text), PyBytes_GET_SIZE(text))
        return buf_write(<Framer>framer_, b"L\n", 2)

    @cython.final
    cdef int _save_float(self, object obj) except -1:
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

    @cython.final
    cdef int _save_bytes(self, object obj) except -1:
        if self.proto < 3:
            # No bytes opcode before protocol 3: reduce to something that
            # unpickles to bytes on Python 3 and to str on Python 2.
            if PyBytes_GET_SIZE(obj) == 0:
                return self._save_reduce((bytes, ()), obj)
            text = (<bytes>obj).decode("latin1")
            return self._save_reduce((_codecs_encode, (text, "latin1")), obj)
        return self.save_bytes_data(obj, PyBytes_AS_STRING(obj), PyBytes_GET_SIZE(obj))

    @cython.final
    cdef int save_bytes_data(self, object obj, const char *data, Py_ssize_t size) except -1:
        cdef char header[9]
        cdef Py_ssize_t header_size
        if size <= 0xff:
            header[0] = <char>SHORT_BINBYTES
            header[1] = <char>size
            header_size = 2
        elif <unsigned long long>size <= 0xffffffff:
            header[0] = <char>BINBYTES
            write_u32_le(header + 1, <unsigned long long>size)
            header_size = 5
        elif self.proto >= 4:
            header[0] = <char>BINBYTES8
            write_u64_le(header + 1, <unsigned long long>size)
            header_size = 9
        else:
            raise OverflowError("serializing a bytes object larger than 4 GiB "
                                "requires pickle protocol 4 or higher")
        write_payload(self.framer, header, header_size, data, size, obj)
        return self._memoize(obj)

    @cython.final
    cdef int _save_bytearray(self, object obj) except -1:
        if self.proto < 5:
            if PyByteArray_GET_SIZE(obj) == 0:
                return self._save_reduce((bytearray, ()), obj)
            return self._save_reduce((bytearray, (bytes(obj),)), obj)
        return self.save_bytearray_data(obj, PyByteArray_AS_STRING(obj),
                                        PyByteArray_GET_SIZE(obj))

    @cython.final
    cdef int save_bytearray_data(self, object obj, const char *data, Py_ssize_t size) except -1:
        cdef char header[9]
        header[0] = <char>BYTEARRAY8
        write_u64_le(header + 1, <unsigned long long>size)
        write_payload(self.framer, header, 9, data, size, obj)
        return self._memoize(obj)

    @cython.final
    cdef int _save_picklebuffer(self, object obj) except -1:
        cdef const Py_buffer *view
        cdef bint in_band = True
        if self.proto < 5:
            raise _PicklingError(PICKLEBUFFER_PROTO_MSG)
        view = PyPickleBuffer_GetBuffer(obj)
        if view.suboffsets != NULL or not PyBuffer_IsContiguous(view, b'A'):
            raise _PicklingError("PickleBuffer can not be pickled when "
                                 "pointing to a non-contiguous buffer")
        if self.buffer_callback is not None:
            in_band = bool(self.buffer_callback(obj))
            # The callback (or the truth test of its result) may have
            # released the PickleBuffer: fetch the view again, which raises
            # ValueError for a released one.  From here on no Python code
            # runs before the data is copied (or the object itself is passed
            # to file.write()).
            view = PyPickleBuffer_GetBuffer(obj)
        if in_band:
            if view.readonly:
                return self.save_bytes_data(obj, <const char *>view.buf, view.len)
            return self.save_bytearray_data(obj, <const char *>view.buf, view.len)
        buf_write_byte(self.framer, NEXT_BUFFER)
        if view.readonly:
            buf_write_byte(self.framer, READONLY_BUFFER)
        return 0

    @cython.final
    cdef int _save_str(self, object obj) except -1:
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
                write_u32_le(header + 1, <unsigned long long>size)
                header_size = 5
            elif self.proto >= 4:
                header[0] = <char>BINUNICODE8
                write_u64_le(header + 1, <unsigned long long>size)
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
        return self._memoize(obj)

    @cython.final
    cdef int _save_tuple(self, tuple obj) except -1:
        cdef PyObject *framer_ = <PyObject *>self.framer   # borrowed: fixed while running
        cdef PyObject *memo_      # borrowed, read where used (a hook may replace self.memo)
        cdef Py_ssize_t n = PyTuple_GET_SIZE(obj)
        cdef Py_ssize_t i, _pop
        cdef Py_ssize_t idx
        if n == 0:
            if self.proto:
                return buf_write_byte(<Framer>framer_, EMPTY_TUPLE)
            return buf_write(<Framer>framer_, b"(t", 2)
        if n <= 3 and self.proto >= 2:
            for i in range(n):
                self._save(<object>PyTuple_GET_ITEM(obj, i), 0)
            memo_ = <PyObject *>self.memo_table
            idx = memo_lookup(<MemoTable>memo_, <PyObject *>obj)
            if idx >= 0:
                # Recursive tuple: it was memoized while saving its items.
                for _pop in range(n):
                    buf_write_byte(<Framer>framer_, POP)
                return self.memo_get(idx)
            buf_write_byte(<Framer>framer_, <char>(TUPLE1 - 1 + <int>n))
            return self._memoize(obj)
        buf_write_byte(<Framer>framer_, MARK)
        for i in range(n):
            self._save(<object>PyTuple_GET_ITEM(obj, i), 0)
        memo_ = <PyObject *>self.memo_table
        idx = memo_lookup(<MemoTable>memo_, <PyObject *>obj)
        if idx >= 0:
            if self.bin:
                buf_write_byte(<Framer>framer_, POP_MARK)
            else:
                for _pop in range(n + 1):
                    buf_write_byte(<Framer>framer_, POP)
            return self.memo_get(idx)
        buf_write_byte(<Framer>framer_, TUPLE)
        return self._memoize(obj)

    @cython.final
    cdef int _save_list(self, object obj) except -1:
        if self.fast and not self.surface_mode:
            return self.save_fast_mode_container(obj, False)
        return self.write_list(obj)

    @cython.final
    cdef int write_list(self, object obj) except -1:
        if self.bin:
            buf_write_byte(self.framer, EMPTY_LIST)
        else:
            buf_write(self.framer, b"(l", 2)
        self._memoize(obj)
        if self.hook_batch_appends is not None:
            self.before_python()
            self.hook_batch_appends(obj)
        elif len(obj):
            enter_recursive_call(self.stack_floor)
            try:
                if self.proto > 0 and type(obj) is list:
                    self.batch_list_exact(obj)
                else:
                    self.batch_appends(iter(obj))
            finally:
                Py_LeaveRecursiveCall()
        return 0

    @cython.final
    cdef int save_fast_mode_container(self, object obj, bint is_dict) except -1:
        """A list or dict in fast mode, between fast_save_enter() and
        fast_save_leave() (_pickle's cycle tracking; a subclass using the
        pure-Python surface gets pickle._Pickler's fast mode, which has
        none).  As in _pickle, leave runs on errors too (a
        failed enter included): a Pickler reused after a failed dump()
        then starts at the depth and with the open containers _pickle has
        (none after an ordinary error), not with stale ids that would make
        it refuse acyclic data."""
        try:
            self.fast_save_enter(obj)
            if is_dict:
                self.write_dict(obj)
            else:
                self.write_list(obj)
        finally:
            self.fast_save_leave(obj)
        return 0

    @cython.final
    cdef int batch_list_exact(self, list obj) except -1:
        cdef PyObject *framer_ = <PyObject *>self.framer   # borrowed: fixed while running
        cdef Py_ssize_t total = 0
        cdef Py_ssize_t this_batch
        cdef object item
        if PyList_GET_SIZE(obj) == 1:
            item = <object>PyList_GET_ITEM(obj, 0)
            self._save(item, 0)
            return buf_write_byte(<Framer>framer_, APPEND)
        while True:
            this_batch = 0
            buf_write_byte(<Framer>framer_, MARK)
            # The list may change while its items are pickled: re-read its size.
            while total < PyList_GET_SIZE(obj):
                item = <object>PyList_GET_ITEM(obj, total)
                self._save(item, 0)
                total += 1
                this_batch += 1
                if this_batch == BATCHSIZE:
                    break
            buf_write_byte(<Framer>framer_, APPENDS)
            if total >= PyList_GET_SIZE(obj):
                break
        return 0

    @cython.final
    cdef int batch_appends(self, object items) except -1:
        """APPEND/APPENDS for the items of an iterator (list subclasses,
        reduce listitems, protocol 0)."""
        cdef Framer framer = self.framer
        cdef int n
        cdef object first, item
        if self.proto == 0:
            for item in items:
                self._save(item, 0)
                buf_write_byte(framer, APPEND)
            return 0
        it = items
        while True:
            try:
                first = next(it)
            except StopIteration:
                return 0
            try:
                item = next(it)
            except StopIteration:
                self._save(first, 0)
                buf_write_byte(framer, APPEND)
                return 0
            buf_write_byte(framer, MARK)
            self._save(first, 0)
            first = None
            n = 1
            while True:
                self._save(item, 0)
                item = None
                n += 1
                if n == BATCHSIZE:
                    break
                try:
                    item = next(it)
                except StopIteration:
                    break
            buf_write_byte(framer, APPENDS)
            if n != BATCHSIZE:
                return 0

    @cython.final
    cdef int _save_dict(self, object obj) except -1:
        if self.fast and not self.surface_mode:
            return self.save_fast_mode_container(obj, True)
        return self.write_dict(obj)

    @cython.final
    cdef int write_dict(self, object obj) except -1:
        if self.bin:
            buf_write_byte(self.framer, EMPTY_DICT)
        else:
            buf_write(self.framer, b"(d", 2)
        self._memoize(obj)
        if self.hook_batch_setitems is not None:
            self.before_python()
            self.hook_batch_setitems(obj.items())
        elif len(obj):
            enter_recursive_call(self.stack_floor)
            try:
                if self.proto > 0 and type(obj) is dict:
                    self.batch_dict_exact(obj)
                else:
                    self.batch_setitems(iter(obj.items()))
            finally:
                Py_LeaveRecursiveCall()
        return 0

    @cython.final
    cdef int batch_dict_exact(self, dict obj) except -1:
        cdef PyObject *framer_ = <PyObject *>self.framer   # borrowed: fixed while running
        cdef Py_ssize_t size = len(obj)
        cdef Py_ssize_t pos = 0
        cdef PyObject *k
        cdef PyObject *v
        cdef object key, value
        cdef int i
        if size == 1:
            PyDict_Next(obj, &pos, &k, &v)
            key = <object>k
            value = <object>v
            self._save(key, 0)
            self._save(value, 0)
            return buf_write_byte(<Framer>framer_, SETITEM)
        while True:
            i = 0
            buf_write_byte(<Framer>framer_, MARK)
            while PyDict_Next(obj, &pos, &k, &v):
                # Strong references: pickling the key may mutate the dict.
                key = <object>k
                value = <object>v
                self._save(key, 0)
                self._save(value, 0)
                i += 1
                if i == BATCHSIZE:
                    break
            buf_write_byte(<Framer>framer_, SETITEMS)
            if len(obj) != size:
                raise RuntimeError("dictionary changed size during iteration")
            if i != BATCHSIZE:
                return 0

    @cython.final
    cdef int batch_setitems(self, object items) except -1:
        """SETITEM/SETITEMS for an iterator of (key, value) pairs (dict
        subclasses, reduce dictitems, protocol 0)."""
        cdef Framer framer = self.framer
        cdef int n
        cdef object first, item
        if self.proto == 0:
            for item in items:
                if not isinstance(item, tuple) or len(item) != 2:
                    raise TypeError("dict items iterator must return 2-tuples")
                self._save(item[0], 0)
                self._save(item[1], 0)
                buf_write_byte(framer, SETITEM)
            return 0
        it = items
        while True:
            try:
                first = next(it)
            except StopIteration:
                return 0
            if not isinstance(first, tuple) or len(first) != 2:
                raise TypeError("dict items iterator must return 2-tuples")
            try:
                item = next(it)
            except StopIteration:
                self._save(first[0], 0)
                self._save(first[1], 0)
                buf_write_byte(framer, SETITEM)
                return 0
            buf_write_byte(framer, MARK)
            self._save(first[0], 0)
            self._save(first[1], 0)
            first = None
            n = 1
            while True:
                if not isinstance(item, tuple) or len(item) != 2:
                    raise TypeError("dict items iterator must return 2-tuples")
                self._save(item[0], 0)
                self._save(item[1], 0)
                item = None
                n += 1
                if n == BATCHSIZE:
                    break
                try:
                    item = next(it)
                except StopIteration:
                    break
            buf_write_byte(framer, SETITEMS)
            if n != BATCHSIZE:
                return 0

    @cython.final
    cdef int _save_set(self, object obj) except -1:
        cdef Framer framer = self.framer
        cdef Py_ssize_t size
        cdef int i
        cdef Py_ssize_t pos = 0
        cdef PyObject *entry
        cdef Py_hash_t entry_hash
        if self.proto < 4:
            return self._save_reduce((set, (list(obj),)), obj)
        buf_write_byte(framer, EMPTY_SET)
        self._memoize(obj)
        size = len(obj)
        if size == 0:
            return 0
        if PyAnySet_Check(obj):
            # As _pickle: a position in the set's table, not an iterator, so
            # a set that grows and shrinks back while an item is pickled
            # gives _pickle's bytes, and a size change its error.
            while True:
                i = 0
                buf_write_byte(framer, MARK)
                while set_next_entry(obj, &pos, &entry, &entry_hash):
                    item = <object>entry
                    self._save(item, 0)
                    item = None
                    i += 1
                    if i == BATCHSIZE:
                        break
                buf_write_byte(framer, ADDITEMS)
                if len(obj) != size:
                    raise RuntimeError("set changed size during iteration")
                if i != BATCHSIZE:
                    return 0
        it = iter(obj)
        while True:
            i = 0
            buf_write_byte(framer, MARK)
            while True:
                try:
                    item = next(it)
                except StopIteration:
                    break
                self._save(item, 0)
                item = None
                i += 1
                if i == BATCHSIZE:
                    break
            buf_write_byte(framer, ADDITEMS)
            if len(obj) != size:
                raise RuntimeError("set changed size during iteration")
            if i != BATCHSIZE:
                return 0

    @cython.final
    cdef int _save_frozenset(self, object obj) except -1:
        cdef Framer framer = self.framer
        cdef Py_ssize_t idx
        if self.fast and not self.surface_mode:
            # As in _pickle: entered, never left.  (pickle._Pickler, which
            # the surface follows, tracks no cycles in fast mode.)
            self.fast_save_enter(obj)
        if self.proto < 4:
            return self._save_reduce((frozenset, (list(obj),)), obj)
        buf_write_byte(framer, MARK)
        for item in obj:
            self._save(item, 0)
        idx = memo_lookup(self.memo_table, <PyObject *>obj)
        if idx >= 0:
            buf_write_byte(framer, POP_MARK)
            return self.memo_get(idx)
        buf_write_byte(framer, FROZENSET)
        return self._memoize(obj)

    @cython.final
    cdef int fast_save_enter(self, object obj) except -1:
        self.fast_nesting += 1
        if self.fast_nesting >= FAST_NESTING_LIMIT:
            if self.fast_memo is None:
                self.fast_memo = {}
            key = id(obj)
            if key in self.fast_memo:
                self.fast_nesting = -1
                raise ValueError(
                    "fast mode: can't pickle cyclic objects including object "
                    "type %.200s at %#x" % (type(obj).__name__, key))
            self.fast_memo[key] = None
        return 0

    @cython.final
    cdef int fast_save_leave(self, object obj) except -1:
        cdef int nesting = self.fast_nesting
        self.fast_nesting -= 1
        if nesting >= FAST_NESTING_LIMIT:
            del self.fast_memo[id(obj)]
        return 0

    # -- objects pickled by reference or by reduction ------------------------

    @cython.final
    cdef int save_other(self, object obj, type t) except -1:
        """Objects that are not built-in containers or atoms.

        The reduction is found by reduce_value_of(), whose frame (the
        largest of the save path) is gone before the reduction is pickled:
        deep data then needs less C stack per level.
        """
        cdef object rv = self.reduce_value_of(obj, t)
        cdef list slotnames
        if rv is _DONE:
            return 0
        if rv is _PLAIN_INSTANCE:
            slotnames = self.plain_slotnames
            self.plain_slotnames = None
            return self.save_plain_instance(obj, t, slotnames)
        return self.save_reduce_value(obj, rv)

    @cython.final
    cdef object reduce_value_of(self, object obj, type t):
        """The reduce value of `obj` (reducer_override, dispatch table,
        __reduce_ex__ or __reduce__); or _DONE after pickling a class or
        function by reference; or _PLAIN_INSTANCE (slot names left in
        plain_slotnames) for save_plain_instance."""
        cdef object reduce_func = None
        cdef object rv
        if self.use_reducer_override:
            rv = self.hook_reducer_override(obj)
            if rv is not _NotImplemented:
                return rv
        if t is type:
            self._save_type(obj)
            return _DONE
        if t is _FunctionType:
            # pickle._Pickler.dispatch[FunctionType] is the base class's
            # save_global: an overriding save_global does not see functions.
            self.save_global_body(obj, None)
            return _DONE
        if not self.use_dispatch_table:
            reduce_func = _copyreg_dispatch_table.get(t, _MISSING)
        elif type(self.hook_dispatch_table) is dict:
            # A dict: look up without raising KeyError for the misses.
            reduce_func = (<dict>self.hook_dispatch_table).get(t, _MISSING)
        else:
            try:
                reduce_func = self.hook_dispatch_table[t]
            except KeyError:
                reduce_func = _MISSING
        if reduce_func is not _MISSING:
            return reduce_func(obj)
        if PyType_IsSubtype(<PyTypeObject *>t, <PyTypeObject *>type):
            self._save_global(obj, None)
            return _DONE
        if self.proto >= 2 and self.hook_save_reduce is None:
            self.plain_slotnames = plain_instance_slotnames(t, obj)
            if self.plain_slotnames is not None:
                return _PLAIN_INSTANCE
        if is_ndarray_type(t):
            rv = ndarray_reduce(obj, self.proto)
            if rv is not None:
                return rv
        elif is_dtype_metaclass(type(t)):
            return dtype_reduce(obj, self.proto)
        reduce_func = own_reduce_function(t)
        if reduce_func is not None:
            return reduce_func(obj)
        try:
            reduce_func = obj.__reduce_ex__
        except AttributeError:
            try:
                reduce_func = obj.__reduce__
            except AttributeError:
                raise _PicklingError("can't pickle '%.200s' object: %r"
                                     % (t.__name__, obj)) from None
            return reduce_func()
        return reduce_func(self.proto)

    @cython.final
    cdef int save_plain_instance(self, object obj, type t, list slotnames) except -1:
        """What save_reduce writes for `object.__reduce_ex__(proto >= 2)` of
        an instance of a plain class, without building the reduce tuple:
        cls () NEWOBJ, memoize, then the state (if any) and BUILD.  The state
        is computed as object's default __getstate__ does: the instance
        __dict__ (None if empty or absent), paired with a dict of the set
        __slots__ values when the class has slots."""
        cdef PyObject *framer_ = <PyObject *>self.framer   # borrowed: fixed while running
        cdef PyObject *memo_      # borrowed, read where used (a hook may replace self.memo)
        cdef Py_ssize_t idx
        cdef PyTypeObject *tp = <PyTypeObject *>t
        cdef object state = None
        cdef dict slots
        cdef Py_ssize_t i, n
        # The state first, as object.__reduce_ex__ takes it before anything
        # is pickled: hooks called for the class may change the instance
        # (the __dict__ is taken as the object itself, the slot values as
        # they are now, exactly as _pickle gets them).
        if tp.tp_dictoffset != 0:
            state = <object>PyObject_GenericGetDict(obj, NULL)
            Py_DECREF(state)
            if not PyDict_GET_SIZE(state):
                state = None
        if slotnames:
            slots = {}
            n = len(slotnames)
            for i in range(n):
                name = slotnames[i]
                try:
                    value = getattr(obj, name)
                except AttributeError:
                    continue
                slots[name] = value
                # The list lives on the class: a getattr may have changed it.
                if len(slotnames) != n:
                    raise RuntimeError("__slotsname__ changed size during iteration")
            if slots:
                state = (state, slots)
        self._save(t, 0)
        self._save((), 0)
        buf_write_byte(<Framer>framer_, NEWOBJ)
        memo_ = <PyObject *>self.memo_table
        idx = memo_lookup(<MemoTable>memo_, <PyObject *>obj)
        if idx >= 0:
            # Pickling the class reached the object itself (a class pickled
            # by value by a reducer_override, for instance).
            buf_write_byte(<Framer>framer_, POP)
            return self.memo_get(idx)
        self._memoize(obj)
        if state is not None:
            self._save(state, 0)
            buf_write_byte(<Framer>framer_, BUILD)
        return 0

    @cython.final
    cdef int save_reduce_value(self, object obj, object rv) except -1:
        if isinstance(rv, str):
            return self._save_global(obj, rv)
        if not isinstance(rv, tuple):
            raise _PicklingError("__reduce__ must return a string or tuple")
        return self._save_reduce(rv, obj)

    @cython.final
    cdef int _save_type(self, object obj) except -1:
        if obj is _NoneType:
            return self._save_reduce((type, (None,)), obj)
        if obj is _EllipsisType:
            return self._save_reduce((type, (Ellipsis,)), obj)
        if obj is _NotImplementedType:
            return self._save_reduce((type, (NotImplemented,)), obj)
        return self._save_global(obj, None)

    @cython.final
    cdef int _save_reduce(self, tuple rv, object obj, bint from_python=False) except -1:
        """Write the reduce value `rv` of `obj` (obj None: do not memoize),
        through a subclass's save_reduce() if it has one, unless called by it."""
        cdef Framer framer = self.framer
        cdef Py_ssize_t size = PyTuple_GET_SIZE(rv)
        cdef bint use_newobj = False, use_newobj_ex = False
        cdef int kind
        cdef Py_ssize_t idx
        cdef object name = None
        if size < 2 or size > 6:
            raise _PicklingError("tuple returned by __reduce__ must contain "
                                 "2 through 6 elements")
        if self.hook_save_reduce is not None and not from_python:
            self.before_python()
            self.hook_save_reduce(*rv, obj=obj)
            return 0
        func = rv[0]
        args = rv[1]
        state = rv[2] if size > 2 else None
        listitems = rv[3] if size > 3 else None
        dictitems = rv[4] if size > 4 else None
        state_setter = rv[5] if size > 5 else None

        if not PyCallable_Check(func):
            raise _PicklingError("first item of the tuple returned by "
                                 "__reduce__ must be callable")
        if not isinstance(args, tuple):
            raise _PicklingError("second item of the tuple returned by "
                                 "__reduce__ must be a tuple")
        if listitems is not None and not PyIter_Check(listitems):
            raise _PicklingError("fourth element of the tuple returned by "
                                 "__reduce__ must be an iterator, not %s"
                                 % type(listitems).__name__)
        if dictitems is not None and not PyIter_Check(dictitems):
            raise _PicklingError("fifth element of the tuple returned by "
                                 "__reduce__ must be an iterator, not %s"
                                 % type(dictitems).__name__)
        if state_setter is not None and not PyCallable_Check(state_setter):
            raise _PicklingError("sixth element of the tuple returned by "
                                 "__reduce__ must be a function, not %s"
                                 % type(state_setter).__name__)

        if self.proto >= 2:
            # copyreg's own functions (what object.__reduce_ex__ returns) are
            # recognised by identity; anything else by its __name__.
            if func is _copyreg_newobj:
                use_newobj = True
            elif func is _copyreg_newobj_ex:
                use_newobj_ex = True
            elif type(func) is type:
                # A class as the callable (datetime, Decimal, ...): its
                # __name__ is type's data descriptor, read without a lookup.
                kind = type_newobj_kind(<PyTypeObject *>func)
                use_newobj = kind == 1
                use_newobj_ex = kind == 2
            else:
                name = getattr(func, "__name__", None)
            if not (use_newobj or use_newobj_ex) and isinstance(name, str):
                # Lengths first: Cython compares two str with
                # PyUnicode_Compare (an ordering), and most names differ in
                # length from both.
                if len(<str>name) == 13 and <str>name == "__newobj_ex__":
                    use_newobj_ex = True
                elif len(<str>name) == 10 and <str>name == "__newobj__":
                    use_newobj = True

        if use_newobj_ex:
            if len(<tuple>args) != 3:
                raise _PicklingError("length of the NEWOBJ_EX argument tuple "
                                     "must be exactly 3, not %d" % len(<tuple>args))
            cls, cls_args, cls_kwargs = args
            if not isinstance(cls, type):
                raise _PicklingError("first item from NEWOBJ_EX argument tuple "
                                     "must be a class, not %.200s" % type(cls).__name__)
            if not isinstance(cls_args, tuple):
                raise _PicklingError("second item from NEWOBJ_EX argument tuple "
                                     "must be a tuple, not %.200s" % type(cls_args).__name__)
            if not isinstance(cls_kwargs, dict):
                raise _PicklingError("third item from NEWOBJ_EX argument tuple "
                                     "must be a dict, not %.200s" % type(cls_kwargs).__name__)
            if self.proto >= 4:
                self._save(cls, 0)
                self._save(cls_args, 0)
                self._save(cls_kwargs, 0)
                buf_write_byte(framer, NEWOBJ_EX)
            else:
                partial = _partial(cls.__new__, cls, *cls_args, **cls_kwargs)
                self._save(partial, 0)
                self._save((), 0)
                buf_write_byte(framer, REDUCE)
        elif use_newobj:
            if len(<tuple>args) < 1:
                raise _PicklingError("__newobj__ arglist is empty")
            cls = (<tuple>args)[0]
            if not isinstance(cls, type):
                raise _PicklingError("args[0] from __newobj__ args is not a type")
            if obj is not None:
                try:
                    obj_class = obj.__class__
                except AttributeError:
                    obj_class = type(obj)
                if obj_class is not cls:
                    raise _PicklingError("args[0] from __newobj__ args has the wrong class")
            self._save(cls, 0)
            self._save((<tuple>args)[1:], 0)
            buf_write_byte(framer, NEWOBJ)
        else:
            self._save(func, 0)
            self._save(args, 0)
            buf_write_byte(framer, REDUCE)

        if obj is not None:
            idx = memo_lookup(self.memo_table, <PyObject *>obj)
            if idx >= 0:
                # Recursive reduction: the object was memoized while its
                # arguments were pickled.
                buf_write_byte(framer, POP)
                return self.memo_get(idx)
            self._memoize(obj)

        if listitems is not None:
            if self.hook_batch_appends is not None:
                self.before_python()
                self.hook_batch_appends(listitems)
            else:
                self.batch_appends(listitems)
        if dictitems is not None:
            if self.hook_batch_setitems is not None:
                self.before_python()
                self.hook_batch_setitems(dictitems)
            else:
                self.batch_setitems(dictitems)
        if state is not None:
            if state_setter is None:
                self._save(state, 0)
                buf_write_byte(framer, BUILD)
            else:
                # state_setter(obj, state), called for its side effect only.
                self._save(state_setter, 0)
                self._save(obj, 0)
                self._save(state, 0)
                buf_write_byte(framer, TUPLE2)
                buf_write_byte(framer, REDUCE)
                buf_write_byte(framer, POP)
        return 0

    @cython.final
    cdef int _save_global(self, object obj, object name) except -1:
        if self.hook_save_global is not None:
            self.before_python()
            if name is None:
                self.hook_save_global(obj)
            else:
                self.hook_save_global(obj, name)
            return 0
        return self.save_global_body(obj, name)

    @cython.final
    cdef int save_global_body(self, object obj, object name) except -1:
        """Pickle `obj` by reference: module and qualified name."""
        cdef Framer framer = self.framer
        cdef long code
        if name is None:
            name = getattr(obj, "__qualname__", None)
            if name is None:
                name = obj.__name__
        dotted_path = name.split(".")
        if "<locals>" in dotted_path and not self.surface_mode:
            raise AttributeError(LOCAL_OBJECT_MSG % (name,))
        module_name = whichmodule(obj, dotted_path)
        if self.surface_mode:
            # A subclass written against pickle._Pickler: its save_global
            # turns every failed lookup (local objects too) into a
            # PicklingError, which such subclasses catch (joblib's Hasher).
            try:
                module = import_module(module_name)
                if "<locals>" in dotted_path:
                    raise AttributeError(name)
                found, parent = get_deep_attribute(module, dotted_path)
                if found is _MISSING:
                    raise AttributeError(name)
            except (ImportError, KeyError, AttributeError):
                raise _PicklingError("Can't pickle %r: it's not found as %s.%s"
                                     % (obj, module_name, name)) from None
        else:
            try:
                module = import_module(module_name)
            except BaseException:
                raise _PicklingError("Can't pickle %r: import of module %r failed"
                                     % (obj, module_name))
            found, parent = get_deep_attribute(module, dotted_path)
            if found is _MISSING:
                raise _PicklingError("Can't pickle %r: attribute lookup %s on %s failed"
                                     % (obj, name, module_name))
        lastname = dotted_path[len(dotted_path) - 1]
        if found is not obj:
            raise _PicklingError("Can't pickle %r: it's not the same object as %s.%s"
                                 % (obj, module_name, name))

        if self.proto >= 2:
            code_obj = _extension_registry.get((module_name, name), _MISSING)
            if code_obj is not _MISSING and PY313:
                # 3.13 checks the code like the pure-Python pickler does.
                code = PyLong_AsLong(code_obj)
                if code <= 0 or code > 0x7fffffff:
                    raise RuntimeError("extension code %d is out of range" % code)
            if code_obj is not _MISSING:
                if not isinstance(code_obj, int):
                    raise _PicklingError("Can't pickle %r: extension code %r isn't "
                                         "an integer" % (obj, code_obj))
                code = code_obj
                if code <= 0 or code > 0x7fffffff:
                    raise _PicklingError("Can't pickle %r: extension code %d is "
                                         "out of range" % (obj, code))
                return write_sized_opcode(framer, <char>EXT1, <char>EXT2, <char>EXT4, code)

        if parent is module:
            name = lastname
        if self.proto >= 4:
            self._save(module_name, 0)
            self._save(name, 0)
            buf_write_byte(framer, STACK_GLOBAL)
        elif parent is not module:
            if NESTED_GETATTR_CHAIN:
                # getattr(getattr(top, a), b): top by GLOBAL, names by value.
                for _ in range(1, len(dotted_path)):
                    self._save(_getattr, 0)
                    if self.proto < 2:
                        buf_write_byte(framer, MARK)
                self.write_global_opcode(module_name, dotted_path[0])
                for attr in dotted_path[1:]:
                    self._save(attr, 0)
                    buf_write_byte(framer, <char>(TUPLE if self.proto < 2 else TUPLE2))
                    buf_write_byte(framer, REDUCE)
            else:
                self._save_reduce((_getattr, (parent, lastname)), None)
        else:
            self.write_global_opcode(module_name, name)
        return self._memoize(obj)

    @cython.final
    cdef int write_global_opcode(self, object module_name, object name) except -1:
        """GLOBAL module\\nname\\n, with Python 2 names below protocol 3."""
        cdef Framer framer = self.framer
        if self.proto < 3 and self.fix_imports:
            mapped = _name_mapping_3to2.get((module_name, name))
            if mapped is not None:
                if not isinstance(mapped, tuple) or len(<tuple>mapped) != 2:
                    raise RuntimeError("_compat_pickle.REVERSE_NAME_MAPPING values "
                                       "should be 2-tuples, not %.200s"
                                       % type(mapped).__name__)
                module_name, name = mapped
            else:
                mapped = _import_mapping_3to2.get(module_name)
                if mapped is not None:
                    module_name = mapped
        encoding = "utf-8" if self.proto == 3 else "ascii"
        try:
            module_bytes = (<str>module_name).encode(encoding)
        except UnicodeEncodeError:
            raise _PicklingError("can't pickle module identifier '%s' using "
                                 "pickle protocol %d" % (module_name, self.proto))
        try:
            name_bytes = (<str>name).encode(encoding)
        except UnicodeEncodeError:
            raise _PicklingError("can't pickle global identifier '%s' using "
                                 "pickle protocol %d" % (name, self.proto))
        buf_write_byte(framer, GLOBAL)
        buf_write(framer, PyBytes_AS_STRING(module_bytes), PyBytes_GET_SIZE(module_bytes))
        buf_write_byte(framer, NEWLINE)
        buf_write(framer, PyBytes_AS_STRING(name_bytes), PyBytes_GET_SIZE(name_bytes))
        buf_write_byte(framer, NEWLINE)
        return 0


# ---------------------------------------------------------------------------
# Name lookup helpers for save_global.

cdef tuple get_deep_attribute(object obj, list names):
    """(obj.a.b.c, obj.a.b) for names [a, b, c]; (_MISSING, None) if a lookup fails."""
    parent = None
    for name in names:
        parent = obj
        try:
            obj = getattr(parent, name)
        except Exception:
            return _MISSING, None
    return obj, parent


cdef object whichmodule(object obj, list dotted_path):
    """The name of the module `obj` can be imported from."""
    module_name = getattr(obj, "__module__", None)
    if module_name is not None:
        return module_name
    for module_name, module in list(sys.modules.items()):
        if module is None or module_name == "__main__":
            continue
        found, _ = get_deep_attribute(module, dotted_path)
        if found is obj:
            return module_name
    return "__main__"


cdef object _object_dict = object.__dict__
cdef object _object_reduce_ex = _object_dict["__reduce_ex__"]
cdef object _object_reduce = _object_dict["__reduce__"]
cdef object _object_getstate = _object_dict.get("__getstate__")  # None before 3.11
cdef object _object_class = _object_dict["__class__"]
cdef str _S_REDUCE_EX = "__reduce_ex__"
cdef str _S_REDUCE = "__reduce__"
cdef str _S_GETSTATE = "__getstate__"
cdef str _S_CLASS = "__class__"
cdef str _S_GETNEWARGS = "__getnewargs__"
cdef str _S_GETNEWARGS_EX = "__getnewargs_ex__"
cdef str _S_SLOTNAMES = "__slotnames__"
cdef object _copyreg_slotnames = copyreg._slotnames
# Py_TPFLAGS_MANAGED_DICT (3.11+): the dict pointer lives outside tp_basicsize.
cdef unsigned long PY_TPFLAGS_MANAGED_DICT = (1 << 4) if sys.version_info >= (3, 11) else 0
cdef str _S_GETATTRIBUTE = "__getattribute__"
cdef str _S_GETATTR = "__getattr__"
cdef object _object_getattribute = _object_dict["__getattribute__"]


cdef inline bint type_attr_is(type t, str name, object expected):
    cdef PyObject *found = _PyType_Lookup(<PyTypeObject *>t, name)
    if found == NULL:
        return expected is None
    return found == <PyObject *>expected


cdef list plain_instance_slotnames(type t, object obj):
    """For an instance whose `__reduce_ex__(proto)` (proto >= 2) would be
    object's default reduction, (copyreg.__newobj__, (t,), default state,
    None, None), the slot names that default state is built from; None for
    any other object.

    Plain means nothing on the class or the instance could change that
    reduction: no __reduce_ex__, __reduce__, __getstate__, __getnewargs__,
    __getnewargs_ex__, __class__ or __getattribute__ other than object's, no
    __getattr__, no base but Python classes and object (so no list/dict base
    whose items are added, no C base with storage of its own), and a layout
    that object's __getstate__ accepts.  Checked on every call, through the
    interpreter's method cache: nothing is cached here that a later change
    of the class could make stale."""
    cdef PyTypeObject *tp = <PyTypeObject *>t
    cdef tuple mro
    cdef Py_ssize_t i, n, expected_size
    cdef object base
    cdef PyObject *cached
    if not (tp.tp_flags & Py_TPFLAGS_HEAPTYPE) or tp.tp_itemsize != 0 or tp.tp_new == NULL:
        return None
    if not (type_attr_is(t, _S_REDUCE_EX, _object_reduce_ex)
            and type_attr_is(t, _S_REDUCE, _object_reduce)
            and type_attr_is(t, _S_GETSTATE, _object_getstate)
            and type_attr_is(t, _S_GETNEWARGS, None)
            and type_attr_is(t, _S_GETNEWARGS_EX, None)
            and type_attr_is(t, _S_CLASS, _object_class)
            # Attribute lookups on the instance must be the plain ones: the
            # default reduction looks up __reduce_ex__, __reduce__ and
            # __getstate__ on the instance, which can reach these.
            and type_attr_is(t, _S_GETATTRIBUTE, _object_getattribute)
            and type_attr_is(t, _S_GETATTR, None)):
        return None
    mro = t.__mro__
    n = PyTuple_GET_SIZE(mro)
    for i in range(n - 1):
        base = <object>PyTuple_GET_ITEM(mro, i)
        if not ((<PyTypeObject *>base).tp_flags & Py_TPFLAGS_HEAPTYPE):
            return None
    if <object>PyTuple_GET_ITEM(mro, n - 1) is not object:
        return None
    # The instance's own attributes take precedence over the class's
    # non-data descriptors: an instance attribute named like a hook counts.
    if tp.tp_dictoffset != 0:
        inst_dict = <object>PyObject_GenericGetDict(obj, NULL)
        Py_DECREF(inst_dict)
        if PyDict_GET_SIZE(inst_dict) and (
                PyDict_GetItem(inst_dict, _S_REDUCE_EX) != NULL
                or PyDict_GetItem(inst_dict, _S_REDUCE) != NULL
                or PyDict_GetItem(inst_dict, _S_GETSTATE) != NULL):
            return None
    # Slot names as object's __getstate__ gets them: the __slotnames__
    # cached in the class's own dict, else copyreg._slotnames(), which
    # computes them from __slots__ and caches them in the class, also when
    # there are none (a class pickled by value afterwards, as cloudpickle
    # does, holds __slotnames__ then; so once per class).
    cached = PyDict_GetItem(<object>tp.tp_dict, _S_SLOTNAMES)
    if cached != NULL:
        names = <object>cached
    else:
        names = _copyreg_slotnames(t)
    if names is None:
        names = _NO_SLOTNAMES
    elif type(names) is not list:
        return None
    # object's __getstate__ refuses objects bigger than their dict, weakref
    # and slots account for (C storage, or slot names not all listed): leave
    # those to it, so that it raises.
    expected_size = (<PyTypeObject *>object).tp_basicsize + sizeof(void *) * len(<list>names)
    if tp.tp_dictoffset != 0 and not (tp.tp_flags & PY_TPFLAGS_MANAGED_DICT):
        expected_size += sizeof(void *)
    if type_weaklistoffset(tp) > 0:
        expected_size += sizeof(void *)
    if tp.tp_basicsize > expected_size:
        return None
    return names


cdef list _NO_SLOTNAMES = []


cdef extern from *:
    """
    /* The type's attribute lookup is object's own, and its instances have
       no __dict__ (nothing on an instance can shadow a class attribute). */
    static int pickler_plain_lookup_no_dict(PyTypeObject *t) {
        return t->tp_getattro == PyObject_GenericGetAttr && t->tp_dictoffset == 0
            && Py_IS_TYPE((PyObject *)t, &PyType_Type);
    }
    """
    bint plain_lookup_no_dict "pickler_plain_lookup_no_dict" (PyTypeObject *t) noexcept


cdef object own_reduce_function(type t):
    """The Python function `__reduce__` of a class whose `__reduce_ex__` is
    object's, when calling it with the instance is all that
    `obj.__reduce_ex__(proto)` would do; else None.

    object.__reduce_ex__ looks up `obj.__reduce__`, compares the class's
    `__reduce__` with object's and, when they differ, calls the bound
    method.  With object's attribute lookup, metaclass `type` and no
    instance `__dict__`, both lookups find the class attribute, so the call
    is `function(obj)`: no bound methods, no protocol argument, no method
    call through object.__reduce_ex__ (inst_reduce: ~0.15 us per object).
    Anything else (an instance dict, which could hold either name; a
    custom __getattribute__ or __getattr__; a metaclass; a __reduce__ that
    is not a plain function) goes through __reduce_ex__ as before."""
    cdef PyObject *found
    if not plain_lookup_no_dict(<PyTypeObject *>t):
        return None
    if not type_attr_is(t, _S_REDUCE_EX, _object_reduce_ex):
        return None
    found = _PyType_Lookup(<PyTypeObject *>t, _S_REDUCE)
    if found == NULL or type(<object>found) is not _FunctionType:
        return None
    return <object>found


# -- numpy arrays -------------------------------------------------------------
#
# numpy.ndarray.__reduce_ex__(proto >= 5) of a C-contiguous array without
# Python objects returns
#
#     (numpy._core.numeric._frombuffer, (PickleBuffer(arr), arr.dtype, arr.shape, 'C'))
#
# but pays for two module imports on every call ("pickle" for the PickleBuffer
# class, the numeric module for _frombuffer): 1.5 us of the 5 us a dumps of
# one array costs.  ndarray_reduce() builds the same tuple from the same
# objects without them.  Nothing about it is assumed from numpy's version:
# the first C-contiguous array seen is reduced by numpy itself, twice, and
# the shortcut is enabled only if the results have exactly that shape, the
# function is found again as module.__name__, and the order string is one
# shared object (memo identity).  Every other array (subclasses, F-order or
# strided, object dtypes, zero itemsize, protocol < 5, a buffer numpy refuses
# to export) takes numpy's own __reduce_ex__.

cdef object _ndarray_type = None        # numpy.ndarray once recognised
cdef int _ndarray_state = 0             # 0 unchecked, 1 shortcut on, -1 off
cdef object _frombuffer_module = None   # module holding the rebuild function
cdef object _frombuffer_name = None     # its name there ("_frombuffer")
cdef object _order_c = None             # the 'C' numpy returns


cdef inline bint has_numpy_name(type t, const char *name) noexcept:
    """tp_name is `name` (first character first: most types reaching the
    reduce path are not numpy's)."""
    return ((<PyTypeObject *>t).tp_name[0] == name[0]
            and strcmp((<PyTypeObject *>t).tp_name, name) == 0)


cdef int is_ndarray_type(type t) except -1:
    """`t` is numpy.ndarray itself: recognised by name, confirmed once
    against the imported numpy (which is never imported here)."""
    global _ndarray_type
    if _ndarray_state < 0:
        return False
    if t is _ndarray_type:
        return True
    if _ndarray_type is not None or not has_numpy_name(t, "numpy.ndarray"):
        return False
    numpy = sys.modules.get("numpy")
    if numpy is None or getattr(numpy, "ndarray", None) is not t:
        return False
    _ndarray_type = t
    return True


cdef object ndarray_reduce(object arr, int proto):
    """numpy's reduce value for `arr` without its imports, or None when
    numpy's own __reduce_ex__ must be called."""
    cdef const Py_buffer *view
    if proto < 5:
        return None
    dtype = arr.dtype
    if dtype.hasobject or dtype.itemsize == 0:
        return None
    try:
        buf = PyPickleBuffer_FromObject(arr)
    except Exception:
        return None          # numpy's own reduce falls back to bytes then
    view = PyPickleBuffer_GetBuffer(buf)
    if not PyBuffer_IsContiguous(view, b'C'):
        return None
    if _ndarray_state == 0:
        return ndarray_reduce_first(arr, proto)
    if _ndarray_state < 0:
        # another thread's first array turned the shortcut off meanwhile
        return None
    func = getattr(_frombuffer_module, _frombuffer_name)
    return (func, (buf, dtype, arr.shape, _order_c))


def _numpy_shortcut_state():
    """Diagnostics for the tests: 1 when ndarray_reduce() is in use, -1 when
    numpy's own reduce is always called, 0 before the first array."""
    return _ndarray_state


cdef object ndarray_reduce_first(object arr, int proto):
    """The first C-contiguous array: numpy reduces it; its result decides
    whether the shortcut is used for later arrays."""
    global _ndarray_state, _frombuffer_module, _frombuffer_name, _order_c
    rv = arr.__reduce_ex__(proto)
    again = arr.__reduce_ex__(proto)
    _ndarray_state = -1
    if not (type(rv) is tuple and len(rv) == 2 and type(rv[1]) is tuple
            and len(rv[1]) == 4 and type(again) is tuple and len(again) == 2
            and type(again[1]) is tuple and len(again[1]) == 4):
        return rv
    func, args = rv
    if not (type(args[0]) is _PickleBuffer and args[1] is arr.dtype
            and args[2] == arr.shape and type(args[2]) is tuple
            and type(args[3]) is str and args[3] == "C"
            and args[3] is again[1][3] and again[0] is func):
        return rv
    module = sys.modules.get(getattr(func, "__module__", None))
    name = getattr(func, "__name__", None)
    if module is None or type(name) is not str or getattr(module, name, None) is not func:
        return rv
    _frombuffer_module = module
    _frombuffer_name = name
    _order_c = args[3]
    _ndarray_state = 1
    return rv


# numpy.dtype.__reduce__ imports numpy's core module on every call (0.5 of
# its 0.9 us).  The reduce value of a builtin dtype (np.dtype('f8'),
# isbuiltin == 1: one of numpy's shared, immutable instances, no fields, no
# metadata, native byte order) never changes, so numpy's own result for it
# is kept and handed out again.  It is pickled at most once per pickle (the
# dtype itself is memoized), and its strings are fresh objects of numpy's
# as on every call (one-character ones are CPython's shared singletons
# either way), so the bytes are the same as with a new call.

cdef enum:
    DTYPE_CACHE_SIZE = 32
cdef PyObject *_dtype_cache_key[32]    # builtin dtypes seen (strong references)
cdef PyObject *_dtype_cache_value[32]  # numpy's reduce value for each (strong)
cdef int _dtype_cache_used = 0
cdef object _dtype_metaclass = None    # numpy._DTypeMeta once recognised


cdef int is_dtype_metaclass(type meta) except -1:
    """`meta` is numpy's dtype metaclass: recognised by name, confirmed once
    against the imported numpy."""
    global _dtype_metaclass
    if meta is _dtype_metaclass:
        return True
    if _dtype_metaclass is not None or not has_numpy_name(meta, "numpy._DTypeMeta"):
        return False
    numpy = sys.modules.get("numpy")
    if numpy is None or type(getattr(numpy, "dtype", None)) is not meta:
        return False
    _dtype_metaclass = meta
    return True


cdef object dtype_reduce(object descr, int proto):
    """numpy's reduce value for the dtype `descr`: kept for builtin dtypes."""
    global _dtype_cache_used
    cdef int i
    for i in range(_dtype_cache_used):
        if _dtype_cache_key[i] == <PyObject *>descr:
            return <object>_dtype_cache_value[i]
    rv = descr.__reduce_ex__(proto)
    if (_dtype_cache_used < DTYPE_CACHE_SIZE and type(rv) is tuple
            and descr.isbuiltin == 1):
        Py_INCREF(descr)
        Py_INCREF(rv)
        _dtype_cache_key[_dtype_cache_used] = <PyObject *>descr
        _dtype_cache_value[_dtype_cache_used] = <PyObject *>rv
        _dtype_cache_used += 1
    return rv


cdef str no_attribute_message(object obj, str name):
    """AttributeError's text for a missing attribute, as CPython words it:
    with the dotted type name for the compiled Pickler (as for
    _pickle.Pickler), the plain name for a subclass."""
    cls = type(obj)
    tname = ("%s.%s" % (cls.__module__, cls.__qualname__)) if cls is Pickler else cls.__name__
    return "'%.200s' object has no attribute '%s'" % (tname, name)


cdef int require_type(object obj, object cls, str method) except -1:
    """The per-type savers of the Python surface take their own type only."""
    if not isinstance(obj, cls):
        raise TypeError("%s() needs %s, not %.200s"
                        % (method, cls.__name__, type(obj).__name__))
    return 0


cdef object overridden(Pickler self, type cls, str name, object base):
    """The bound method `name` of self if cls defines its own, else None."""
    if getattr(cls, name, base) is base:
        return None
    return getattr(self, name)


cdef bint is_builtin_saved_type(type t) noexcept:
    """The types the C pickler saves itself, never showing reducer_override."""
    return (t is _NoneType or t is bool or t is int or t is float or t is bytes
            or t is str or t is dict or t is set or t is frozenset or t is list
            or t is tuple or t is bytearray or t is _PickleBuffer)


def _default_persistent_id(self, obj):
    """Return None: by default no object has a persistent ID."""
    return None


_PERSISTENT_ID_PROPERTY = Pickler.__dict__["persistent_id"]

# Pickler.dispatch has the keys of the running version's pickle._Pickler
# dispatch, each mapped to the method of the same name as pickle's saver.
# By type, not by the savers found there: a library imported first may have
# put its own savers into pickle._Pickler.dispatch (dill.extend() does).
import pickle as _stdlib_pickle
_STDLIB_SAVERS = {
    _NoneType: "save_none", bool: "save_bool", int: "save_long",
    float: "save_float", bytes: "save_bytes", bytearray: "save_bytearray",
    PickleBuffer: "save_picklebuffer", str: "save_str", tuple: "save_tuple",
    list: "save_list", dict: "save_dict", set: "save_set",
    frozenset: "save_frozenset", FunctionType: "save_global", type: "save_type",
}
Pickler.dispatch.update({key: getattr(Pickler, name)
                         for key, name in _STDLIB_SAVERS.items()
                         if key in _stdlib_pickle._Pickler.dispatch})
del _stdlib_pickle, _STDLIB_SAVERS

cdef object _base_dispatch = Pickler.dispatch
cdef dict _original_dispatch = dict(Pickler.dispatch)   # as at import
cdef object _base_save = Pickler.save
cdef object _base_memoize = Pickler.memoize
cdef object _base_save_reduce = Pickler.save_reduce
cdef object _base_save_global = Pickler.save_global
cdef object _base_save_pers = Pickler.save_pers
cdef object _base_batch_appends = Pickler._batch_appends
cdef object _base_batch_setitems = Pickler._batch_setitems
cdef bytes _MEMOIZE_BYTES = bytes((MEMOIZE,))


# ---------------------------------------------------------------------------

cdef class PicklerMemoProxy:
    """A view on a Pickler's memo: copy() gives {id(obj): (index, obj)}."""

    __hash__ = None

    def clear(self):
        """Remove all items from memo."""
        self.pickler.memo_table.clear()

    def copy(self):
        """Copy the memo to a new object."""
        return self.pickler.memo_table.as_dict()

    def __reduce__(self):
        return dict, (self.copy(),)

    # Read as pickle._Pickler's memo: a mapping id(obj) -> (index, obj).

    def __len__(self):
        return self.pickler.memo_table.used

    def __getitem__(self, key):
        cdef MemoEntry *entry = self._find(key)
        if entry == NULL:
            raise KeyError(key)
        # Both read before anything is allocated (a collection could run
        # user code that changes the memo).
        obj = <object>entry.key
        return (entry.value, obj)

    def get(self, key, default=None):
        cdef MemoEntry *entry = self._find(key)
        if entry == NULL:
            return default
        obj = <object>entry.key
        return (entry.value, obj)

    def __contains__(self, key):
        return self._find(key) != NULL

    def __iter__(self):
        return iter(self.copy())

    def keys(self):
        return self.copy().keys()

    def values(self):
        return self.copy().values()

    def items(self):
        return self.copy().items()

    def __setitem__(self, key, value):
        """memo[id(obj)] = (index, obj), as pure-Python subclasses may do."""
        if not isinstance(value, tuple) or len(<tuple>value) != 2:
            raise TypeError("'memo' values must be 2-item tuples")
        if key != id((<tuple>value)[1]):
            raise ValueError("memo key must be id() of the object")
        self.pickler.memo_table.set(<PyObject *>(<tuple>value)[1],
                                    <Py_ssize_t>(<tuple>value)[0])

    cdef MemoEntry *_find(self, object key) except? NULL:
        cdef size_t address
        if not isinstance(key, int) or key <= 0:
            return NULL
        try:
            address = key
        except OverflowError:
            return NULL
        return memo_find(self.pickler.memo_table, <PyObject *>address)


# ---------------------------------------------------------------------------
# Module-level functions.

def dump(obj, file, protocol=None, *, fix_imports=True, buffer_callback=None):
    """Write a pickled representation of obj to the open file object file.

    This is equivalent to ``Pickler(file, protocol).dump(obj)``, but may
    be more efficient.
    """
    cdef Pickler pickler = Pickler.__new__(Pickler)
    pickler.setup(file, protocol, fix_imports, buffer_callback, True)
    pickler.initialized = True
    pickler.run_dump(obj, FUNCTION_CALL_COUNTS_RECURSION)
    pickler.framer.flush_to_file()


cdef Pickler _spare_pickler = None   # reused by dumps() when not in use


def dumps(obj, protocol=None, *, fix_imports=True, buffer_callback=None):
    """Return the pickled representation of the object as a bytes object."""
    global _spare_pickler
    cdef Pickler pickler = _spare_pickler
    # One Pickler is kept between calls so that small dumps() calls do not
    # pay for allocating it and its memo; a nested call (from a __reduce__)
    # finds it running and makes its own.
    if pickler is None or pickler.running:
        pickler = Pickler.__new__(Pickler)
    else:
        _spare_pickler = None
    try:
        pickler.setup(None, protocol, fix_imports, buffer_callback, False)
        pickler.initialized = True
        pickler.run_dump(obj, FUNCTION_CALL_COUNTS_RECURSION)
        # A small pickle is copied out and the storage kept for the next
        # call (a small copy is cheaper than allocating and trimming 4 KiB);
        # a large one is handed out as is.
        return pickler.framer.take_result(SMALL_RESULT)
    except BaseException:
        pickler.framer.drop_large_storage()     # what a failed dump left
        raise
    finally:
        pickler.buffer_callback = None
        pickler.release_memo()
        _spare_pickler = pickler
