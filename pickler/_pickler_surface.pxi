# The pickle._Pickler surface of the compiled Pickler and the hooks: what a
# subclass may define (persistent_id, reducer_override, dispatch_table, a
# `dispatch` of its own, overrides of save, memoize, save_reduce,
# save_global, save_pers, _batch_appends, _batch_setitems), resolved once
# per dump(), and the one way the save path calls user code (call_user*:
# flush first).  Included by _pickler.pyx after the Pickler class.  A hook a
# pickler does not use must cost nothing per object.


cdef extern from "_pickler.h":
    # The vectorcall entry of a callable (NULL when it has none).
    vectorcallfunc vectorcall_of "pickler_vectorcall_of" (object f)
    # f(self, obj), or f(self, obj, False) when no_persistent_id, through `vc`.
    int call_save_function "pickler_call_save_override" (
        vectorcallfunc vc, object f, object self, object obj,
        int no_persistent_id) except -1


# -- hooks, resolved once per dump() ------------------------------------------

cdef int resolve_hooks(Pickler self) except -1:
    """The hooks and overrides of this dump(): see _pickler.pxd's fields."""
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
        resolve_overrides(self, cls)
    self.hook_dispatch_table = self.dispatch_table_attr
    self.use_dispatch_table = self.has_dispatch_table
    self.per_object_hooks = (self.use_persistent_id or self.hook_save is not None
                             or self.custom_dispatch is not None or self.det_mode)
    return 0


cdef int resolve_overrides(Pickler self, type cls) except -1:
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


cdef void clear_hooks(Pickler self) noexcept:
    self.hook_persistent_id = None
    self.hook_reducer_override = None
    self.hook_dispatch_table = None
    self.use_persistent_id = False
    self.use_reducer_override = False
    self.use_dispatch_table = False


cdef int save_with_hooks(Pickler self, object obj, int flags) except -1:
    """The per-object hooks, in pickle's order: an overriding save(), the
    frame boundary, persistent_id, then a custom `dispatch` entry.
    Returns 1 when one of them pickled the object."""
    cdef type t
    cdef int i
    cdef PyObject *saver
    if self.hook_save is not None and not (flags & NO_SAVE_HOOK):
        # A subclass overrides save(): it sees every object.
        call_save_override(self, obj, flags)
        return 1
    opcode_boundary(self.framer)
    if not (flags & NO_PERSISTENT_ID) and self.use_persistent_id:
        if save_persistent_id(self, obj):
            return 1
    if self.custom_dispatch is not None:
        # A few custom types are compared by address; more by lookup.
        t = type(obj)
        if self.dispatch_get is not None:
            custom_saver = self.dispatch_get(t)     # a lookup, may be dill's __missing__
            if (custom_saver is not None
                    and _original_dispatch.get(t) is not custom_saver):
                save_dispatch_entry(self, obj, custom_saver)
                return 1
        elif self.n_custom_types:
            for i in range(self.n_custom_types):
                if <PyObject *>t == self.custom_types[i]:
                    save_dispatch_entry(self, obj, <object>PyDict_GetItem(self.custom_dispatch, t))
                    return 1
        else:
            saver = PyDict_GetItem(self.custom_dispatch, t)
            if saver != NULL:
                save_dispatch_entry(self, obj, <object>saver)
                return 1
    if self.det_mode:
        return self.save_deterministic(obj)
    return 0


cdef int save_dispatch_entry(Pickler self, object obj, object saver) except -1:
    """An object whose type has its own entry in a subclass's `dispatch`.

    As in the pure-Python pickler, the memo comes first and then
    reducer_override (except for the built-in types the C pickler never
    shows it); then saver(pickler, obj).
    """
    cdef Py_ssize_t idx = memo_lookup(self.memo_table, <PyObject *>obj)
    cdef type t = type(obj)
    if idx >= 0:
        return memo_get(self, idx)
    if self.use_reducer_override and not is_builtin_saved_type(t):
        rv = call_user1(self, self.hook_reducer_override, obj)
        if rv is not _NotImplemented:
            return save_reduce_value(self, obj, rv)
    call_user2(self, saver, self, obj)
    return 0


# -- calling user code ----------------------------------------------------------
#
# Every call the save path makes into user code goes through the call_user*
# helpers below: the hooks (persistent_id, reducer_override), the
# overrides of the surface (save, memoize, save_reduce, save_global,
# save_pers, _batch_appends, _batch_setitems), the entries of a subclass's
# `dispatch`, reduction functions (dispatch_table, copyreg) and methods
# (__reduce_ex__, __reduce__), and the buffer callback.  (Attribute
# lookups, len(), iteration and the like may run user code too; none of it
# is handed the pickler.)
#
# Before the call, flush_for_python(): without frames, a pickle to a file
# is written as it goes when a subclass overrides the surface, as the
# pure-Python pickler does, so that what user code writes to the file
# directly lands after what was pickled before it (joblib's NumpyPickler
# writes an array's data right after Pickler.save(wrapper) returns).  The
# methods of the surface call it too before they return to their Python
# caller.  In every other case it is one flag test.
#
# The guard needs nothing more here: while user code has control, dump(),
# __init__() and `proto =` on this pickler are refused (`running`, set by
# run_dump()); the memo may be replaced or cleared, so no caller keeps a
# borrowed pointer to it across a call; `framer` is fixed while running, and
# the surface's methods, even called from another thread, only write into
# the buffer through buf_reserve(), which checks its bounds.

cdef inline int flush_for_python(Pickler self) except -1:
    """Before control goes to Python code: write out what is buffered
    (flush_before_python: to a file, protocols 0-3, with overrides)."""
    if self.flush_before_python:
        return flush_unframed(self)
    return 0


cdef int flush_unframed(Pickler self) except -1:
    cdef Framer framer = self.framer
    if framer.length and not framer.framing:
        framer.flush_to_file()
        framer.allocate(framer.flush_capacity)
    return 0


cdef extern from "Python.h":
    object PyObject_CallNoArgs(object f)

cdef extern from "_pickler.h":
    # f(arg); a bound method's function called directly with its instance.
    object call_one "pickler_call_one" (object f, object arg)


# call_user0() and call_user1() are the per-object ones (persistent_id,
# reducer_override, reduction functions): C calls keep them small enough to
# be inlined at every call site (through Cython's own call sequence the C
# compiler made them functions: 4% more instructions on
# sub_reducer_override), and call_one() calls a hook defined as a method
# without the bound-method layer, as Cython's call does.

cdef inline object call_user0(Pickler self, object f):
    """f(), user code."""
    flush_for_python(self)
    return PyObject_CallNoArgs(f)


cdef inline object call_user1(Pickler self, object f, object arg):
    """f(arg), user code."""
    flush_for_python(self)
    return call_one(f, arg)


cdef inline object call_user2(Pickler self, object f, object arg1, object arg2):
    """f(arg1, arg2), user code."""
    flush_for_python(self)
    return f(arg1, arg2)


cdef object call_user_kw(Pickler self, object f, tuple args, dict kwargs):
    """f(*args, **kwargs), user code."""
    flush_for_python(self)
    return f(*args, **kwargs)


cdef object call_user_on_items(Pickler self, object f, object mapping):
    """f(mapping.items()): the items() of a dict subclass is called after
    the flush too, as pickle._Pickler calls it with everything before it
    already written."""
    flush_for_python(self)
    return f(mapping.items())


cdef int call_save_override(Pickler self, object obj, int flags) except -1:
    """A subclass's save(obj) (save(obj, False) for a persistent ID), for
    every object.  Its function is called with self, not through the bound
    method, through its vectorcall entry found once per dump()."""
    flush_for_python(self)
    if self.hook_save_func is not None:
        return call_save_function(self.hook_save_vc, self.hook_save_func, self, obj,
                                  flags & NO_PERSISTENT_ID)
    if flags & NO_PERSISTENT_ID:
        self.hook_save(obj, False)
    else:
        self.hook_save(obj)
    return 0


# -- the overrides of the surface, as the save path calls them ----------------
#
# (memoize_or_override() and the others are inline functions in
# _pickler.pxd: the test for an override is made at the call site.)

cdef int call_hook(Pickler self, object hook, object arg) except -1:
    """hook(arg), its result ignored."""
    call_user1(self, hook, arg)
    return 0


cdef int call_save_reduce_override(Pickler self, tuple rv, object obj) except -1:
    """A subclass's save_reduce(*rv, obj=obj), the reduce value checked
    first as _pickle checks it."""
    check_reduce_value_size(rv)
    call_user_kw(self, self.hook_save_reduce, rv, {"obj": obj})
    return 0


cdef int call_save_global_override(Pickler self, object obj, object name) except -1:
    """A subclass's save_global(obj), or save_global(obj, name)."""
    if name is None:
        call_user1(self, self.hook_save_global, obj)
    else:
        call_user2(self, self.hook_save_global, obj, name)
    return 0


# -- helpers of the surface ----------------------------------------------------

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


# -- Pickler.memo -------------------------------------------------------------

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
