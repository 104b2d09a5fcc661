# cython: language_level=3
"""Declarations of the compiled Pickler (see _pickler.pyx)."""
cimport cython
from cpython.object cimport PyObject

from ._framer cimport Framer
from ._memo cimport MemoTable, MemoEntry

cdef extern from "Python.h":
    ctypedef void *vectorcallfunc       # a callable's fast call entry (PEP 590)


cdef class Pickler:
    # Output: the write buffer with its frames; `framer.file_write` is the
    # target file's bound write() (None when pickling to bytes).
    cdef Framer framer
    # Objects already written, with their memo indices.  Kept across dump()
    # calls, as in the stdlib, until clear_memo().
    cdef MemoTable memo_table
    cdef int proto                  # protocol in use, 0..5
    cdef public int bin             # proto > 0; writable, and honoured, as in _pickle
    cdef public int fast            # fast mode: no memo, cycle guard past 50 levels
    cdef bint fix_imports           # map names to Python 2 ones (only when proto < 3)
    cdef object buffer_callback     # protocol 5 out-of-band callback, or None
    cdef bint initialized           # __init__ ran (a subclass may forget to call it)
    cdef bint running               # inside dump(): guards against re-entrant use
    cdef char *stack_floor          # this dump()'s thread: lowest safe stack address
                                    # (NULL: unknown); deeper data raises RecursionError
    cdef int fast_nesting           # container depth in fast mode (negative after an error)
    cdef dict fast_memo             # id -> None of containers open past FAST_NESTING_LIMIT

    # Hooks as set on the instance.  `persistent_id` may be assigned on any
    # instance (stored here); `dispatch_table` is stored here by assignment or,
    # at __init__, from a subclass's class attribute.
    cdef object pers_func_attr      # callable assigned to .persistent_id, or None
    cdef object dispatch_table_attr # the mapping of .dispatch_table, if set
    cdef bint has_dispatch_table    # dispatch_table_attr is set (None is a value)

    # Hooks resolved once per dump() and cleared after it,
    # so that no reference cycle pickler -> bound method -> pickler outlives it.
    cdef object hook_persistent_id      # persistent_id to call for every object
    cdef object hook_reducer_override   # reducer_override to call for non-builtin objects
    cdef object hook_dispatch_table     # mapping consulted per type, when in use
    cdef bint use_persistent_id         # hook_persistent_id is set for this dump()
    cdef bint use_reducer_override      # hook_reducer_override is set for this dump()
    cdef bint use_dispatch_table        # hook_dispatch_table replaces copyreg's table

    # Methods of the pure-Python Pickler's surface that a subclass overrides,
    # resolved once per dump() (None = not overridden, the compiled path is
    # used); internal calls go through them, as in pickle._Pickler.
    cdef object hook_save               # save(obj, save_persistent_id=True)
    cdef object hook_save_func          # hook_save's function when it is a method bound
                                        # to this pickler (called as func(self, obj)), else None
    cdef vectorcallfunc hook_save_vc    # hook_save_func's vectorcall entry (NULL: none, called
                                        # through PyObject_Vectorcall), found once per dump()
    cdef object hook_memoize            # memoize(obj)
    cdef object hook_save_reduce        # save_reduce(func, args, ..., obj=obj)
    cdef object hook_save_global        # save_global(obj, name=None)
    cdef object hook_save_pers          # save_pers(pid)
    cdef object hook_batch_appends      # _batch_appends(items)
    cdef object hook_batch_setitems     # _batch_setitems(items)
    cdef dict custom_dispatch           # type -> saver(pickler, obj): the subclass's
                                        # `dispatch` entries that differ from
                                        # Pickler.dispatch; None when there are none
    cdef PyObject *custom_types[4]      # the keys of custom_dispatch when there are at
                                        # most 4 (borrowed: custom_dispatch holds them)
    cdef int n_custom_types             # how many of custom_types are in use (0: look up)
    cdef object dispatch_get            # the bound get() of a subclass's `dispatch` that is
                                        # not a plain dict (dill's catches metaclasses in
                                        # __missing__), asked for every object as
                                        # pickle._Pickler.save does; else None
    cdef list plain_slotnames           # reduce_value_of() -> save_other(): slot names
                                        # of a plain instance
    cdef bint per_object_hooks          # persistent_id, a save() override or custom
                                        # dispatch entries: checked for every object
    cdef bint flush_before_python       # pickling to a file at protocols 0-3 (no frames)
                                        # with overrides: write out
                                        # the unframed buffer before calling them
    cdef bint surface_mode              # a subclass overrides the pure-Python surface:
                                        # where pickle._Pickler and _pickle differ, do as
                                        # the former (save_global's errors, fast mode
                                        # without cycle tracking)
    cdef bint det_mode                  # a DeterministicPickler (_deterministic.pyx):
                                        # save_deterministic() sees every object, after
                                        # the other per-object hooks

    @cython.final
    cdef int setup(self, object file, object protocol, object fix_imports,
                   object buffer_callback, bint to_file) except -1
    @cython.final
    cdef int resolve_hooks(self) except -1
    @cython.final
    cdef void clear_hooks(self) noexcept
    @cython.final
    cdef int run_dump(self, object obj, bint count_call) except -1
    @cython.final
    cdef void release_memo(self) noexcept

    @cython.final
    cdef int _save(self, object obj, int flags) except -1
    @cython.final
    cdef int resolve_overrides(self, type cls) except -1
    @cython.final
    cdef int save_with_hooks(self, object obj, int flags) except -1
    @cython.final
    cdef int save_custom(self, object obj, object saver) except -1
    @cython.final
    cdef int before_python(self) except -1
    cdef int flush_unframed(self) except -1
    @cython.final
    cdef int write_pers(self, object pid) except -1
    @cython.final
    cdef int save_global_body(self, object obj, object name) except -1
    @cython.final
    cdef int save_nonatomic(self, object obj, type t) except -1
    @cython.final
    cdef int _save_pers(self, object obj) except -1
    @cython.final
    cdef int _memoize(self, object obj, bint from_python=*) except -1
    @cython.final
    cdef int memo_get(self, Py_ssize_t idx) except -1
    @cython.final
    cdef int _save_bool(self, object obj) except -1
    @cython.final
    cdef int _save_long(self, object obj) except -1
    @cython.final
    cdef int _save_float(self, object obj) except -1
    @cython.final
    cdef int _save_bytes(self, object obj) except -1
    @cython.final
    cdef int save_bytes_data(self, object obj, const char *data, Py_ssize_t size) except -1
    @cython.final
    cdef int _save_bytearray(self, object obj) except -1
    @cython.final
    cdef int save_bytearray_data(self, object obj, const char *data, Py_ssize_t size) except -1
    @cython.final
    cdef int _save_picklebuffer(self, object obj) except -1
    @cython.final
    cdef int _save_str(self, object obj) except -1
    @cython.final
    cdef int _save_tuple(self, tuple obj) except -1
    @cython.final
    cdef int _save_list(self, object obj) except -1
    @cython.final
    cdef int write_list(self, object obj) except -1
    @cython.final
    cdef int batch_list_exact(self, list obj) except -1
    @cython.final
    cdef int batch_appends(self, object items) except -1
    @cython.final
    cdef int _save_dict(self, object obj) except -1
    @cython.final
    cdef int write_dict(self, object obj) except -1
    @cython.final
    cdef int batch_dict_exact(self, dict obj) except -1
    @cython.final
    cdef int batch_setitems(self, object items) except -1
    @cython.final
    cdef int _save_set(self, object obj) except -1
    @cython.final
    cdef int _save_frozenset(self, object obj) except -1
    @cython.final
    cdef int _save_type(self, object obj) except -1
    @cython.final
    cdef int _save_global(self, object obj, object name) except -1
    @cython.final
    cdef int write_global_opcode(self, object module_name, object name) except -1
    @cython.final
    cdef int save_other(self, object obj, type t) except -1
    @cython.final
    cdef object reduce_value_of(self, object obj, type t)
    @cython.final
    cdef int save_plain_instance(self, object obj, type t, list slotnames) except -1
    @cython.final
    cdef int save_reduce_value(self, object obj, object rv) except -1
    @cython.final
    cdef int _save_reduce(self, tuple rv, object obj, bint from_python=*) except -1
    @cython.final
    cdef int save_fast_mode_container(self, object obj, bint is_dict) except -1
    @cython.final
    cdef int fast_save_enter(self, object obj) except -1
    @cython.final
    cdef int fast_save_leave(self, object obj) except -1
    # Not final: DeterministicPickler overrides it; called only in det_mode.
    cdef int save_deterministic(self, object obj) except -1


cdef class PicklerMemoProxy:
    # The object behind `Pickler.memo`: a view on the pickler's memo table.
    cdef Pickler pickler            # the pickler whose memo this shows

    cdef MemoEntry *_find(self, object key) except? NULL
