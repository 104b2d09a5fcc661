# cython: language_level=3, binding=True, embedsignature=True, auto_pickle=False
"""The compiled Pickler: one extension module assembled from this file and
the ``.pxi`` files it includes (one C file, so the C compiler inlines across
them), laid out as ``Lib/pickle.py`` and ``Modules/_pickle.c`` are:

==========================  ===============================================
``_pickler.pyx``            this file: the Pickler class (its fields are in
                            ``_pickler.pxd``), its constructor and Python
                            methods, ``dump()``/``dumps()``
``_save.pxi``               ``save()``, the dispatch on exact type; the
                            memo (``memoize``, ``memo_get``); the atoms
``_save_containers.pxi``    ``save_tuple``, ``save_list``, ``save_dict``,
                            ``save_set``, ``save_frozenset``, batching,
                            fast mode
``_save_reduce.pxi``        ``save_reduce``, ``reduce_value_of``, the
                            plain-instance fast path, ``save_pers``
``_save_global.pxi``        ``save_global``, ``whichmodule``, extension
                            codes, ``save_type``
``_save_numpy.pxi``         numpy's ndarray and dtype shortcuts
``_pickler_surface.pxi``    the ``pickle._Pickler`` surface and the hooks;
                            ``call_user*``, the only way to call user code
``_pickler.h``              the C helpers of the above
``_stack_guard.h``          the stack depth check of the recursion guard
==========================  ===============================================

``save()`` follows the order of ``save()`` in ``_pickle.c`` so that the
bytes, the memo indices and the frames are identical:

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

The save path is module-level ``cdef`` functions taking the Pickler (Cython
includes cannot go inside a class body): a Python subclass cannot override
them, and pays nothing for hooks it does not define.  Hooks are looked up
once per ``dump()`` (``resolve_hooks``).  Nothing in this module keeps state
between calls but the module-level caches (numpy's shortcut, the spare
Pickler of ``dumps()``).
"""
import sys
import codecs
import copyreg
import functools
import _compat_pickle
from struct import pack as _struct_pack   # put()/get() of the surface, as pickle._Pickler
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
from libc.stdint cimport uint64_t
from libc.string cimport memcpy, strlen, strcmp

from ._protocol cimport *
from ._buffer cimport buf_reserve, buf_write, buf_write_byte
from ._framer cimport Framer, opcode_boundary, write_payload
from ._memo cimport MemoTable, MemoEntry, memo_lookup, memo_find, memo_set
from ._imports cimport import_module

cdef extern from "Python.h":
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
cdef object _codecs_encode = codecs.encode
cdef object _partial = functools.partial
cdef object _getattr = getattr
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
# The levels of recursion CPython counts for calling a builtin method, and a
# builtin function (none on 3.12); see run_dump().
cdef int METHOD_CALL_LEVELS = 1
cdef int FUNCTION_CALL_LEVELS = 0 if PY312 and not PY313 else 1
cdef str LOCAL_OBJECT_MSG = ("Can't get local object %r" if PY313
                             else "Can't pickle local object %r")
cdef str PICKLEBUFFER_PROTO_MSG = (
    "PickleBuffer can only be pickled with protocol >= 5" if PY313
    else "PickleBuffer can only pickled with protocol >= 5")

cdef enum:
    NO_PERSISTENT_ID = 1      # save() flags: obj is a persistent ID
    NO_SAVE_HOOK = 2          # save() flags: called by Pickler.save() itself

cdef enum:
    NEWLINE = 10
    SMALL_RESULT = 4096   # dumps() results up to this size are copied out
    KEEP_MEMO_SLOTS = 8192   # dumps() keeps a memo table up to this many slots (128 KiB)


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
        setup_to_file(self, file, protocol, fix_imports, buffer_callback)
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

    cdef int save_deterministic(self, object obj) except -1:
        """Deterministic mode's saver (pickler/_deterministic.pyx overrides
        it): returns 1 when it pickled `obj`, 0 to go on as usual."""
        return 0

    # -- public API ---------------------------------------------------------

    def dump(self, obj):
        """Write a pickled representation of the given object to the open file."""
        if not self.initialized:
            raise _PicklingError(
                "Pickler.__init__() was not called by %s.__init__()"
                % type(self).__name__)
        run_dump(self, obj, METHOD_CALL_LEVELS)
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
    # runs the compiled code for one object (the functions of the .pxi files,
    # not the overrides: super().save_reduce() must not call the override
    # again) and ends with flush_for_python(), as control returns to Python
    # code.  An override defined by a subclass is found once per dump()
    # (resolve_overrides, _pickler_surface.pxi) and then used by the
    # compiled code wherever pickle._Pickler would call it.

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
            save(self, obj, NO_SAVE_HOOK)
        else:
            if self.use_persistent_id:
                # pickle._Pickler.save() calls persistent_id() here too and
                # only ignores its result (save_pers() pickles the ID this
                # way); its side effects and exceptions are part of the
                # surface.  (The C pickler never shows it the ID, and neither
                # do we when no save() override is involved.)
                call_user1(self, self.hook_persistent_id, obj)
            save(self, obj, NO_SAVE_HOOK | NO_PERSISTENT_ID)
        flush_for_python(self)

    def save_reduce(self, func, args, state=None, listitems=None,
                    dictitems=None, state_setter=None, *, obj=None):
        """Pickle the reduction (func, args, state, ...) of `obj`."""
        save_reduce(self, (func, args, state, listitems, dictitems, state_setter), obj)
        flush_for_python(self)

    def save_global(self, obj, name=None):
        """Pickle `obj` by reference (module and qualified name)."""
        save_global(self, obj, name)
        flush_for_python(self)

    def save_pers(self, pid):
        """Write a persistent ID reference."""
        save_pers(self, pid)
        flush_for_python(self)

    def memoize(self, obj):
        """Store `obj` in the memo and write the opcode that does it."""
        memoize(self, obj)
        flush_for_python(self)

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
        flush_for_python(self)
        return n

    def save_none(self, obj):
        buf_write_byte(self.framer, NONE)
        flush_for_python(self)

    def save_bool(self, obj):
        save_bool(self, obj)
        flush_for_python(self)

    def save_long(self, obj):
        save_long(self, int(obj) if type(obj) is not int and type(obj) is not bool else obj)
        flush_for_python(self)

    def save_float(self, obj):
        save_float(self, float(obj))
        flush_for_python(self)

    def save_bytes(self, obj):
        require_type(obj, bytes, "save_bytes")
        save_bytes(self, obj)
        flush_for_python(self)

    def save_bytearray(self, obj):
        require_type(obj, bytearray, "save_bytearray")
        save_bytearray(self, obj)
        flush_for_python(self)

    def save_picklebuffer(self, obj):
        require_type(obj, _PickleBuffer, "save_picklebuffer")
        save_picklebuffer(self, obj)
        flush_for_python(self)

    def save_str(self, obj):
        require_type(obj, str, "save_str")
        save_str(self, obj)
        flush_for_python(self)

    def save_tuple(self, obj):
        require_type(obj, tuple, "save_tuple")
        save_tuple(self, obj)
        flush_for_python(self)

    def save_list(self, obj):
        save_list(self, obj)
        flush_for_python(self)

    def save_dict(self, obj):
        save_dict(self, obj)
        flush_for_python(self)

    def save_set(self, obj):
        save_set(self, obj)
        flush_for_python(self)

    def save_frozenset(self, obj):
        save_frozenset(self, obj)
        flush_for_python(self)

    def save_type(self, obj):
        save_type(self, obj)
        flush_for_python(self)

    def _batch_appends(self, items):
        """APPEND/APPENDS for the items of an iterable (a list's, say)."""
        _batch_appends(self, iter(items))
        flush_for_python(self)

    def _batch_setitems(self, items):
        """SETITEM/SETITEMS for an iterable of (key, value) pairs."""
        _batch_setitems(self, iter(items))
        flush_for_python(self)

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


include "_save.pxi"
include "_save_containers.pxi"
include "_save_reduce.pxi"
include "_save_global.pxi"
include "_save_numpy.pxi"
include "_pickler_surface.pxi"


# -- setting up and running a dump --------------------------------------------

cdef int set_protocol(Pickler self, object protocol, object fix_imports) except -1:
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
    return 0


cdef int set_buffer_callback(Pickler self, object buffer_callback) except -1:
    if buffer_callback is not None and self.proto < 5:
        raise ValueError("buffer_callback needs protocol >= 5")
    self.buffer_callback = buffer_callback
    return 0


cdef int setup_to_file(Pickler self, object file, object protocol, object fix_imports,
                       object buffer_callback) except -1:
    """Protocol, output file and buffer callback, checked in _pickle's order."""
    set_protocol(self, protocol, fix_imports)
    try:
        self.framer.file_write = file.write
    except AttributeError:
        raise TypeError("file must have a 'write' attribute") from None
    return set_buffer_callback(self, buffer_callback)


cdef int setup_to_bytes(Pickler self, object protocol, object fix_imports,
                        object buffer_callback) except -1:
    """Protocol and buffer callback (in _pickle's order) for dumps()."""
    set_protocol(self, protocol, fix_imports)
    self.framer.file_write = None
    return set_buffer_callback(self, buffer_callback)


cdef void release_memo(Pickler self) noexcept:
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


cdef int run_dump(Pickler self, object obj, int call_levels) except -1:
    """Pickle `obj` into the buffer (the body shared by dump() and dumps()).

    `call_levels`: the levels of recursion CPython counts for the call of
    dump() or dumps() itself (1 for a builtin method; for a builtin function
    1, or 0 on 3.12), counted here too so that deep data fails at the very
    object where _pickle fails (the memo, and so the bytes of a later dump()
    on the same Pickler, depend on it)."""
    cdef Framer framer = self.framer
    cdef char *p
    if self.running:
        raise RuntimeError("Pickler object is already used")
    self.stack_floor = current_stack_floor()
    if call_levels:
        enter_recursive_call(self.stack_floor)
    self.running = True
    try:
        framer.reset()
        resolve_hooks(self)
        if self.proto >= 2:
            p = buf_reserve(framer, 2)
            p[0] = <char>PROTO
            p[1] = <char>self.proto
            if self.proto >= 4:
                framer.start_framing()
        save(self, obj, 0)
        buf_write_byte(framer, STOP)
        framer.end_framing()
    except BaseException:
        framer.abort()
        raise
    finally:
        clear_hooks(self)
        self.running = False
        if call_levels:
            Py_LeaveRecursiveCall()
    return 0


# -- module-level functions -------------------------------------------------

def dump(obj, file, protocol=None, *, fix_imports=True, buffer_callback=None):
    """Write a pickled representation of obj to the open file object file.

    This is equivalent to ``Pickler(file, protocol).dump(obj)``, but may
    be more efficient.
    """
    cdef Pickler pickler = Pickler.__new__(Pickler)
    setup_to_file(pickler, file, protocol, fix_imports, buffer_callback)
    pickler.initialized = True
    run_dump(pickler, obj, FUNCTION_CALL_LEVELS)
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
        setup_to_bytes(pickler, protocol, fix_imports, buffer_callback)
        pickler.initialized = True
        run_dump(pickler, obj, FUNCTION_CALL_LEVELS)
        # A small pickle is copied out and the storage kept for the next
        # call (a small copy is cheaper than allocating and trimming 4 KiB);
        # a large one is handed out as is.
        return pickler.framer.take_result(SMALL_RESULT)
    except BaseException:
        pickler.framer.drop_large_storage()     # what a failed dump left
        raise
    finally:
        pickler.buffer_callback = None
        release_memo(pickler)
        _spare_pickler = pickler
