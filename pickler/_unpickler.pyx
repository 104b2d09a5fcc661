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

This file holds the opcode dispatch, the ``Unpickler`` class, ``load`` and
``loads``; the rest of the module is included from (in this order):

    _load_capi.pxi        the C API as used here, and _unpickler_c.h's helpers
    _load_input.pxi       input reading: the only code that moves the read position
    _load_stack.pxi       the stack and marks; MARK, POP, POP_MARK, DUP
    _load_memo.pxi        the memo; GET, PUT, MEMOIZE and their binary forms
    _load_atoms.pxi       None, booleans, numbers, str, bytes, bytearray
    _load_containers.pxi  tuples, lists, dicts, sets; APPEND(S), SETITEM(S), ADDITEMS
    _load_build.pxi       REDUCE, NEWOBJ(_EX), OBJ, INST, BUILD
    _load_global.pxi      find_class, GLOBAL, STACK_GLOBAL, EXT1/2/4
    _load_persid.pxi      PERSID, BINPERSID and the persistent_load hook
    _load_frame.pxi       PROTO, FRAME, NEXT_BUFFER, READONLY_BUFFER

They form one extension module (Cython's ``include``), so the C compiler
inlines the hot handlers into the dispatch loop.  Protocol knowledge
(opcode values, the highest protocol, version flags, byte order) comes
from _protocol.pxd and is not spelled here.
"""

cimport cython
from cpython.ref cimport PyObject
from cpython.object cimport PyTypeObject
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from cpython.mem cimport PyMem_Malloc, PyMem_Realloc, PyMem_Free
from cpython.memoryview cimport PyMemoryView_GET_BUFFER
from libc.stdint cimport uint64_t
from libc.string cimport memcpy, memchr, memset, strcmp
from libc.stdlib cimport strtol
from ._imports cimport import_module
from ._copy cimport HUGE_PAGE_PAYLOAD, copy_to_fresh
from ._protocol cimport (
    MARK, STOP, POP, POP_MARK, DUP, FLOAT, INT, BININT, BININT1, LONG, BININT2,
    NONE, PERSID, BINPERSID, REDUCE, STRING, BINSTRING, SHORT_BINSTRING, UNICODE,
    BINUNICODE, APPEND, BUILD, GLOBAL, DICT, EMPTY_DICT, APPENDS, GET, BINGET,
    INST, LONG_BINGET, LIST, EMPTY_LIST, OBJ, PUT, BINPUT, LONG_BINPUT, SETITEM,
    TUPLE, EMPTY_TUPLE, SETITEMS, BINFLOAT, PROTO, NEWOBJ, EXT1, EXT2, EXT4,
    TUPLE1, TUPLE2, TUPLE3, NEWTRUE, NEWFALSE, LONG1, LONG4, BINBYTES,
    SHORT_BINBYTES, SHORT_BINUNICODE, BINUNICODE8, BINBYTES8, EMPTY_SET,
    ADDITEMS, FROZENSET, NEWOBJ_EX, STACK_GLOBAL, MEMOIZE, FRAME, BYTEARRAY8,
    NEXT_BUFFER, READONLY_BUFFER,
    HIGHEST_PROTOCOL, PY311, PY312, PY313, get_le, get_le_signed32,
)

import pickle as _pickle_mod
import copyreg as _copyreg
import _compat_pickle

include "_load_capi.pxi"


# ---------------------------------------------------------------------------
# Module-level caches of Python objects used while loading.

cdef object UnpicklingError = _pickle_mod.UnpicklingError
cdef dict _NAME_MAPPING = _compat_pickle.NAME_MAPPING
cdef dict _IMPORT_MAPPING = _compat_pickle.IMPORT_MAPPING
cdef dict _extension_cache = _copyreg._extension_cache
cdef dict _inverted_registry = _copyreg._inverted_registry
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
    MEMO_KEEP = 4096              # a recycled loads() Unpickler shrinks a larger memo,
    STACK_KEEP = 1024             # ... and a larger stack or mark array
    LINE_KEEP = 4096              # ... and a larger line buffer (protocol 0 lines)


cdef inline str _tpname(object o):
    """Name of the type of *o* as C's tp_name (at most 200 characters)."""
    return (<bytes>P_TYPE(<PyObject *>o).tp_name).decode("utf-8", "replace")[:200]


include "_load_input.pxi"
include "_load_stack.pxi"
include "_load_memo.pxi"
include "_load_atoms.pxi"
include "_load_containers.pxi"
include "_load_build.pxi"
include "_load_global.pxi"
include "_load_persid.pxi"
include "_load_frame.pxi"


# ---------------------------------------------------------------------------
# The dispatch loop

cdef int _invalid_opcode(unsigned char c) except -1:
    if 0x20 <= c <= 0x7e and c != 39 and c != 92:
        raise UnpicklingError("invalid load key, '%c'." % c)
    raise UnpicklingError("invalid load key, '\\x%02x'." % c)


cdef object _run(Unpickler u):
    """Run opcodes up to STOP; return the object then on top of the stack."""
    cdef int op
    while True:
        op = _read_opcode(u)
        # Cython turns the chain into a C switch (every test is `==` a
        # constant); the order is the most frequent first all the same.
        if op == BININT1:
            load_binint1(u)
        elif op == MEMOIZE:
            load_memoize(u)
        elif op == SHORT_BINUNICODE:
            load_short_binunicode(u)
        elif op == BINUNICODE:
            load_binunicode(u)
        elif op == BINUNICODE8:
            load_binunicode8(u)
        elif op == BININT:
            load_binint(u)
        elif op == BININT2:
            load_binint2(u)
        elif op == BINFLOAT:
            load_binfloat(u)
        elif op == EMPTY_LIST:
            load_empty_list(u)
        elif op == EMPTY_DICT:
            load_empty_dict(u)
        elif op == EMPTY_TUPLE:
            load_empty_tuple(u)
        elif op == MARK:
            load_mark(u)
        elif op == APPENDS:
            load_appends(u)
        elif op == APPEND:
            load_append(u)
        elif op == SETITEMS:
            load_setitems(u)
        elif op == SETITEM:
            load_setitem(u)
        elif op == BINGET:
            load_binget(u)
        elif op == LONG_BINGET:
            load_long_binget(u)
        elif op == BINPUT:
            load_binput(u)
        elif op == LONG_BINPUT:
            load_long_binput(u)
        elif op == NONE:
            load_none(u)
        elif op == NEWTRUE:
            load_true(u)
        elif op == NEWFALSE:
            load_false(u)
        elif op == TUPLE1:
            load_tuple1(u)
        elif op == TUPLE2:
            load_tuple2(u)
        elif op == TUPLE3:
            load_tuple3(u)
        elif op == TUPLE:
            load_tuple(u)
        elif op == SHORT_BINBYTES:
            load_short_binbytes(u)
        elif op == BINBYTES:
            load_binbytes(u)
        elif op == BINBYTES8:
            load_binbytes8(u)
        elif op == BYTEARRAY8:
            load_bytearray8(u)
        elif op == NEXT_BUFFER:
            load_next_buffer(u)
        elif op == READONLY_BUFFER:
            load_readonly_buffer(u)
        elif op == LONG1:
            load_long1(u)
        elif op == LONG4:
            load_long4(u)
        elif op == FRAME:
            load_frame(u)
        elif op == PROTO:
            load_proto(u)
        elif op == STACK_GLOBAL:
            load_stack_global(u)
        elif op == GLOBAL:
            load_global(u)
        elif op == NEWOBJ:
            load_newobj(u)
        elif op == NEWOBJ_EX:
            load_newobj_ex(u)
        elif op == REDUCE:
            load_reduce(u)
        elif op == BUILD:
            load_build(u)
        elif op == EMPTY_SET:
            load_empty_set(u)
        elif op == ADDITEMS:
            load_additems(u)
        elif op == FROZENSET:
            load_frozenset(u)
        elif op == LIST:
            load_list(u)
        elif op == DICT:
            load_dict(u)
        elif op == DUP:
            load_dup(u)
        elif op == POP:
            load_pop(u)
        elif op == POP_MARK:
            load_pop_mark(u)
        elif op == INT:
            load_int(u)
        elif op == LONG:
            load_long(u)
        elif op == FLOAT:
            load_float(u)
        elif op == STRING:
            load_string(u)
        elif op == BINSTRING:
            load_binstring(u)
        elif op == SHORT_BINSTRING:
            load_short_binstring(u)
        elif op == UNICODE:
            load_unicode(u)
        elif op == GET:
            load_get(u)
        elif op == PUT:
            load_put(u)
        elif op == OBJ:
            load_obj(u)
        elif op == INST:
            load_inst(u)
        elif op == PERSID:
            load_persid(u)
        elif op == BINPERSID:
            load_binpersid(u)
        elif op == EXT1:
            load_ext1(u)
        elif op == EXT2:
            load_ext2(u)
        elif op == EXT4:
            load_ext4(u)
        elif op == STOP:
            break
        else:
            _invalid_opcode(op)
    _skip_consumed(u)
    return _pop(u)


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
                u._marks, u._num_marks = saved_marks, saved_nmarks
                u._marks_cap = saved_mcap
                u._proto = saved_proto


# ---------------------------------------------------------------------------
# Load policy (the hooks of pickler/_safe.pyx; see _unpickler.pxd)

cdef class LoadPolicy:
    """Base of the policies an Unpickler consults when one is set: this
    base refuses everything; pickler._safe's allowlist overrides each hook."""

    cdef object find_global(self, Unpickler u, object module_name, object global_name):
        raise UnpicklingError("global '%s.%s' is forbidden"
                              % (module_name, global_name))

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
        _release_view(self)
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
        _open_file_input(self, read, readline, readinto, peek)
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
        return default_find_class(self, module_name, global_name)

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
        if PY313:
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
        open_memory_input(u, data)
        if (encoding != "ASCII" or errors != "strict"
                or buffers is not _NO_BUFFERS_DEFAULT):
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
    release_input(u)
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
