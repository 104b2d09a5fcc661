# cython: language_level=3
"""Declarations of the compiled Pickler (see _pickler.pyx): its fields, the
functions of the save path (module-level functions taking the Pickler, so
that the path can be split over several .pxi files; a Python subclass cannot
override them), the inline dispatchers to a subclass's overrides, and the
recursion guard.  DeterministicPickler (_deterministic.pyx) uses all of
these; nothing here holds state."""
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
                                    # (dump(), __init__() and `proto =` refuse)
    cdef char *stack_floor          # this dump()'s thread: lowest safe stack address
                                    # (NULL: unknown); deeper data raises RecursionError
    cdef int fast_nesting           # container depth in fast mode (negative after an error)
    cdef dict fast_memo             # id -> None of containers open past FAST_NESTING_LIMIT

    # Hooks as set on the instance.  `persistent_id` may be assigned on any
    # instance (stored here); `dispatch_table` is stored here by assignment or,
    # at __init__, from a subclass's class attribute.
    cdef object pers_func_attr      # callable assigned to .persistent_id, or None
    cdef object dispatch_table_attr  # the mapping of .dispatch_table, if set
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
                                        # with overrides: write out the unframed buffer
                                        # before calling user code (flush_for_python)
    cdef bint surface_mode              # a subclass overrides the pure-Python surface:
                                        # where pickle._Pickler and _pickle differ, do as
                                        # the former (save_global's errors, fast mode
                                        # without cycle tracking)
    cdef bint det_mode                  # a DeterministicPickler (_deterministic.pyx):
                                        # save_deterministic() sees every object, after
                                        # the other per-object hooks

    # Not final: DeterministicPickler overrides it; called only in det_mode.
    cdef int save_deterministic(self, object obj) except -1


cdef class PicklerMemoProxy:
    # The object behind `Pickler.memo`: a view on the pickler's memo table.
    cdef Pickler pickler            # the pickler whose memo this shows

    cdef MemoEntry *_find(self, object key) except? NULL


cdef extern from "_stack_guard.h":
    # The lowest safe stack address of the running thread (NULL: unknown).
    char *current_stack_floor "pickler_stack_floor" () noexcept nogil
    # The stack pointer is below `floor` (within the guard's margin).
    bint below_stack_floor "pickler_below_stack_floor" (char *floor) noexcept nogil

cdef extern from "Python.h":
    # Non-zero (1 on some versions, -1 on others) with RecursionError set.
    int Py_EnterRecursiveCall(const char *where)
    void Py_LeaveRecursiveCall()


cdef inline int enter_recursive_call(char *stack_floor) except -1:
    """The recursion guard of every nesting level: the interpreter's
    recursion limit, and the thread's stack (a thread with a small stack and
    a high C recursion limit, as on 3.12 and 3.13, would otherwise overflow
    it).  Left with Py_LeaveRecursiveCall()."""
    if Py_EnterRecursiveCall(" while pickling an object"):
        return -1
    if below_stack_floor(stack_floor):
        Py_LeaveRecursiveCall()
        raise RecursionError("maximum recursion depth exceeded while pickling an object")
    return 0


# The save path, file by file.  Each is declared here, as the methods of the
# class were, for two reasons: DeterministicPickler calls some of them, and a
# function declared here has its address taken (it is exported), so the C
# compiler inlines it where its size makes that pay, never just because it
# has one caller (the container savers inlined into save_nonatomic() made
# every dumps() 4-7% slower in callgrind's count).

# _pickler.pyx
cdef int setup_to_file(Pickler self, object file, object protocol, object fix_imports,
                       object buffer_callback) except -1
cdef int setup_to_bytes(Pickler self, object protocol, object fix_imports,
                        object buffer_callback) except -1
cdef void release_memo(Pickler self) noexcept
cdef int run_dump(Pickler self, object obj, int call_levels) except -1
# _save.pxi
cdef int save(Pickler self, object obj, int flags) except -1
cdef int save_nonatomic(Pickler self, object obj, type t) except -1
cdef int memoize(Pickler self, object obj) except -1
cdef int memo_get(Pickler self, Py_ssize_t idx) except -1
cdef int save_bool(Pickler self, object obj) except -1
cdef int save_long(Pickler self, object obj) except -1
cdef int save_float(Pickler self, object obj) except -1
cdef int save_bytes(Pickler self, object obj) except -1
cdef int save_bytes_data(Pickler self, object obj, const char *data,
                         Py_ssize_t size) except -1
cdef int save_bytearray(Pickler self, object obj) except -1
cdef int save_bytearray_data(Pickler self, object obj, const char *data,
                             Py_ssize_t size) except -1
cdef int save_picklebuffer(Pickler self, object obj) except -1
cdef int save_str(Pickler self, object obj) except -1
# _save_containers.pxi
cdef int save_tuple(Pickler self, tuple obj) except -1
cdef int save_list(Pickler self, object obj) except -1
cdef int write_list(Pickler self, object obj) except -1
cdef int batch_list_exact(Pickler self, list obj) except -1
cdef int _batch_appends(Pickler self, object items) except -1
cdef int save_dict(Pickler self, object obj) except -1
cdef int write_dict(Pickler self, object obj) except -1
cdef int batch_dict_exact(Pickler self, dict obj) except -1
cdef int _batch_setitems(Pickler self, object items) except -1
cdef int save_set(Pickler self, object obj) except -1
cdef int save_frozenset(Pickler self, object obj) except -1
cdef int fast_save_enter(Pickler self, object obj) except -1
cdef int fast_save_leave(Pickler self, object obj) except -1
# _save_reduce.pxi
cdef int save_persistent_id(Pickler self, object obj) except -1
cdef int save_pers(Pickler self, object pid) except -1
cdef int save_other(Pickler self, object obj, type t) except -1
cdef object reduce_value_of(Pickler self, object obj, type t)
cdef int save_reduce_value(Pickler self, object obj, object rv) except -1
cdef int save_reduce(Pickler self, tuple rv, object obj) except -1
cdef int check_reduce_value(tuple rv) except -1
cdef int newobj_kind(object func) except -1
cdef int save_newobj(Pickler self, tuple args, object obj) except -1
cdef int save_newobj_ex(Pickler self, tuple args) except -1
cdef int save_plain_instance(Pickler self, object obj, type t, list slotnames) except -1
# _save_global.pxi
cdef int save_type(Pickler self, object obj) except -1
cdef int save_global(Pickler self, object obj, object name) except -1
cdef int write_GLOBAL(Pickler self, object module_name, object name) except -1
# _pickler_surface.pxi
cdef int resolve_hooks(Pickler self) except -1
cdef int resolve_overrides(Pickler self, type cls) except -1
cdef void clear_hooks(Pickler self) noexcept
cdef int save_with_hooks(Pickler self, object obj, int flags) except -1
cdef int save_dispatch_entry(Pickler self, object obj, object saver) except -1
cdef int flush_unframed(Pickler self) except -1
cdef int call_save_override(Pickler self, object obj, int flags) except -1
cdef int call_hook(Pickler self, object hook, object arg) except -1
cdef int call_save_reduce_override(Pickler self, tuple rv, object obj) except -1
cdef int call_save_global_override(Pickler self, object obj, object name) except -1


# The overridable methods as the save path calls them.  pickle._Pickler's
# save path calls self.memoize(obj), self.save_reduce(...) and so on, so a
# subclass's override sees every such call; the compiled code calls
# `X_or_override()` where pickle.py calls `self.X()`: the override when the
# subclass has one (found once per dump(); called through
# _pickler_surface.pxi's helpers, which flush first), else the compiled X(),
# which is also what Pickler.X() (super().X()) runs.  Inline, so that
# without an override a call costs one test and one call, as X() alone.

cdef inline int memoize_or_override(Pickler self, object obj) except -1:
    if self.hook_memoize is not None:
        return call_hook(self, self.hook_memoize, obj)
    return memoize(self, obj)


cdef inline int save_reduce_or_override(Pickler self, tuple rv, object obj) except -1:
    """`rv` is a reduce value; obj None: do not memoize."""
    if self.hook_save_reduce is not None:
        return call_save_reduce_override(self, rv, obj)
    return save_reduce(self, rv, obj)


cdef inline int save_global_or_override(Pickler self, object obj, object name) except -1:
    """`name` None: the object's __qualname__."""
    if self.hook_save_global is not None:
        return call_save_global_override(self, obj, name)
    return save_global(self, obj, name)


cdef inline int batch_appends_or_override(Pickler self, object items) except -1:
    """`items`: an iterator."""
    if self.hook_batch_appends is not None:
        return call_hook(self, self.hook_batch_appends, items)
    return _batch_appends(self, items)


cdef inline int batch_setitems_or_override(Pickler self, object items) except -1:
    """`items`: an iterator of (key, value) pairs."""
    if self.hook_batch_setitems is not None:
        return call_hook(self, self.hook_batch_setitems, items)
    return _batch_setitems(self, items)
