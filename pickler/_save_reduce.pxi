# Objects saved by reduction: save_other (the part of save() for everything
# that is not an atom or a built-in container), reduce_value_of (
# reducer_override, dispatch_table, copyreg, __reduce_ex__/__reduce__),
# save_reduce (NEWOBJ_EX/NEWOBJ/REDUCE, then items and state), the
# plain-instance fast path (save_plain_instance), and persistent IDs
# (save_persistent_id, save_pers).  Included by _pickler.pyx.  A shortcut
# here must write exactly what the reduction it skips would have; hooks and
# reduction functions are called only through call_user*
# (_pickler_surface.pxi).


cdef extern from "_pickler.h":
    Py_ssize_t type_weaklistoffset "pickler_type_weaklistoffset" (PyTypeObject *t)
    # 1: t's __name__ is "__newobj__", 2: "__newobj_ex__", else 0.
    int type_newobj_kind "pickler_type_newobj_kind" (PyTypeObject *t) noexcept
    # object's attribute lookup, metaclass type, instances without __dict__.
    bint plain_lookup_no_dict "pickler_plain_lookup_no_dict" (PyTypeObject *t) noexcept


# What object itself defines: the plain-instance fast path applies only where
# a class leaves these as they are.
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
cdef unsigned long PY_TPFLAGS_MANAGED_DICT = (1 << 4) if PY311 else 0
cdef str _S_GETATTRIBUTE = "__getattribute__"
cdef str _S_GETATTR = "__getattr__"
cdef object _object_getattribute = _object_dict["__getattribute__"]
cdef list _NO_SLOTNAMES = []            # the slot names of a class without slots


# -- persistent IDs -------------------------------------------------------------

cdef int save_persistent_id(Pickler self, object obj) except -1:
    """Returns 1 when persistent_id gave an ID (and it was written), else 0."""
    pid = call_user1(self, self.hook_persistent_id, obj)
    if pid is None:
        return 0
    if self.hook_save_pers is not None:
        call_user1(self, self.hook_save_pers, pid)
        return 1
    save_pers(self, pid)
    return 1


cdef int save_pers(Pickler self, object pid) except -1:
    """BINPERSID (or PERSID at protocol 0) for a persistent ID."""
    cdef Framer framer = self.framer
    cdef object pid_str
    if self.bin:
        save(self, pid, NO_PERSISTENT_ID)
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


# -- reduction ------------------------------------------------------------------

cdef int save_other(Pickler self, object obj, type t) except -1:
    """Objects that are not built-in containers or atoms.

    The reduction is found by reduce_value_of(), whose frame (the
    largest of the save path) is gone before the reduction is pickled:
    deep data then needs less C stack per level.
    """
    cdef object rv = reduce_value_of(self, obj, t)
    cdef list slotnames
    if rv is _DONE:
        return 0
    if rv is _PLAIN_INSTANCE:
        slotnames = self.plain_slotnames
        self.plain_slotnames = None
        return save_plain_instance(self, obj, t, slotnames)
    return save_reduce_value(self, obj, rv)


cdef object reduce_value_of(Pickler self, object obj, type t):
    """The reduce value of `obj` (reducer_override, dispatch table,
    __reduce_ex__ or __reduce__); or _DONE after pickling a class or
    function by reference; or _PLAIN_INSTANCE (slot names left in
    plain_slotnames) for save_plain_instance."""
    cdef object reduce_func = None
    cdef object rv
    if self.use_reducer_override:
        rv = call_user1(self, self.hook_reducer_override, obj)
        if rv is not _NotImplemented:
            return rv
    if t is type:
        save_type(self, obj)
        return _DONE
    if t is _FunctionType:
        # pickle._Pickler.dispatch[FunctionType] is the base class's
        # save_global: an overriding save_global does not see functions.
        save_global(self, obj, None)
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
        return call_user1(self, reduce_func, obj)
    if PyType_IsSubtype(<PyTypeObject *>t, <PyTypeObject *>type):
        save_global_or_override(self, obj, None)
        return _DONE
    if self.proto >= 2 and self.hook_save_reduce is None:
        self.plain_slotnames = plain_instance_slotnames(t, obj)
        if self.plain_slotnames is not None:
            return _PLAIN_INSTANCE
    # numpy's shortcuts (_save_numpy.pxi).
    if is_ndarray_type(t):
        rv = ndarray_reduce(obj, self.proto)
        if rv is not None:
            return rv
    elif is_dtype_metaclass(type(t)):
        return dtype_reduce(obj, self.proto)
    reduce_func = own_reduce_function(t)
    if reduce_func is not None:
        return call_user1(self, reduce_func, obj)
    try:
        reduce_func = obj.__reduce_ex__
    except AttributeError:
        try:
            reduce_func = obj.__reduce__
        except AttributeError:
            raise _PicklingError("can't pickle '%.200s' object: %r"
                                 % (t.__name__, obj)) from None
        return call_user0(self, reduce_func)
    return call_user1(self, reduce_func, self.proto)


cdef int save_reduce_value(Pickler self, object obj, object rv) except -1:
    if isinstance(rv, str):
        return save_global_or_override(self, obj, rv)
    if not isinstance(rv, tuple):
        raise _PicklingError("__reduce__ must return a string or tuple")
    return save_reduce_or_override(self, rv, obj)


cdef int check_reduce_value_size(tuple rv) except -1:
    if PyTuple_GET_SIZE(rv) < 2 or PyTuple_GET_SIZE(rv) > 6:
        raise _PicklingError("tuple returned by __reduce__ must contain "
                             "2 through 6 elements")
    return 0


cdef int check_reduce_value(tuple rv) except -1:
    """The checks save_reduce() makes of a reduce value, in _pickle's order
    and with its messages."""
    cdef Py_ssize_t size = PyTuple_GET_SIZE(rv)
    check_reduce_value_size(rv)
    if not PyCallable_Check(rv[0]):
        raise _PicklingError("first item of the tuple returned by "
                             "__reduce__ must be callable")
    if not isinstance(rv[1], tuple):
        raise _PicklingError("second item of the tuple returned by "
                             "__reduce__ must be a tuple")
    if size > 3 and rv[3] is not None and not PyIter_Check(rv[3]):
        raise _PicklingError("fourth element of the tuple returned by "
                             "__reduce__ must be an iterator, not %s"
                             % type(rv[3]).__name__)
    if size > 4 and rv[4] is not None and not PyIter_Check(rv[4]):
        raise _PicklingError("fifth element of the tuple returned by "
                             "__reduce__ must be an iterator, not %s"
                             % type(rv[4]).__name__)
    if size > 5 and rv[5] is not None and not PyCallable_Check(rv[5]):
        raise _PicklingError("sixth element of the tuple returned by "
                             "__reduce__ must be a function, not %s"
                             % type(rv[5]).__name__)
    return 0


cdef int newobj_kind(object func) except -1:
    """What save_reduce() writes for a reduction calling `func` (protocol
    2+): NEWOBJ for copyreg.__newobj__ or a callable named __newobj__,
    NEWOBJ_EX for __newobj_ex__, else REDUCE.  copyreg's own functions
    (what object.__reduce_ex__ returns) are recognised by identity; anything
    else by its __name__ (a user's __getattr__ may run)."""
    cdef int kind
    if func is _copyreg_newobj:
        return NEWOBJ
    if func is _copyreg_newobj_ex:
        return NEWOBJ_EX
    if type(func) is type:
        # A class as the callable (datetime, Decimal, ...): its __name__ is
        # type's data descriptor, read without a lookup.
        kind = type_newobj_kind(<PyTypeObject *>func)
        return NEWOBJ if kind == 1 else NEWOBJ_EX if kind == 2 else REDUCE
    name = getattr(func, "__name__", None)
    if isinstance(name, str):
        # Lengths first: Cython compares two str with PyUnicode_Compare (an
        # ordering), and most names differ in length from both.
        if len(<str>name) == 13 and <str>name == "__newobj_ex__":
            return NEWOBJ_EX
        if len(<str>name) == 10 and <str>name == "__newobj__":
            return NEWOBJ
    return REDUCE


cdef int save_newobj_ex(Pickler self, tuple args) except -1:
    """cls, args, kwargs NEWOBJ_EX; below protocol 4, the same call as a
    functools.partial of cls.__new__ and REDUCE."""
    if len(args) != 3:
        raise _PicklingError("length of the NEWOBJ_EX argument tuple "
                             "must be exactly 3, not %d" % len(args))
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
        save(self, cls, 0)
        save(self, cls_args, 0)
        save(self, cls_kwargs, 0)
        return buf_write_byte(self.framer, NEWOBJ_EX)
    save(self, _partial(cls.__new__, cls, *cls_args, **cls_kwargs), 0)
    save(self, (), 0)
    return buf_write_byte(self.framer, REDUCE)


cdef int save_newobj(Pickler self, tuple args, object obj) except -1:
    """cls, args[1:] NEWOBJ, cls = args[0] (the class of `obj`, if given)."""
    if len(args) < 1:
        raise _PicklingError("__newobj__ arglist is empty")
    cls = args[0]
    if not isinstance(cls, type):
        raise _PicklingError("args[0] from __newobj__ args is not a type")
    if obj is not None:
        try:
            obj_class = obj.__class__
        except AttributeError:
            obj_class = type(obj)
        if obj_class is not cls:
            raise _PicklingError("args[0] from __newobj__ args has the wrong class")
    save(self, cls, 0)
    save(self, args[1:], 0)
    return buf_write_byte(self.framer, NEWOBJ)


cdef int save_reduce(Pickler self, tuple rv, object obj) except -1:
    """Write the reduce value `rv` (func, args, state, listitems, dictitems,
    state_setter; 2 to 6 items) of `obj` (obj None: do not memoize).  The
    save path calls it through save_reduce_or_override().  Its frame is on
    the stack once per nesting level of reduced objects: the NEWOBJ forms
    and the checks are functions of their own, so that their locals are
    not part of it."""
    cdef Py_ssize_t size = PyTuple_GET_SIZE(rv)
    cdef int kind = REDUCE
    cdef Py_ssize_t idx
    check_reduce_value(rv)
    if self.proto >= 2:
        kind = newobj_kind(rv[0])
    if kind == NEWOBJ_EX:
        save_newobj_ex(self, <tuple>rv[1])
    elif kind == NEWOBJ:
        save_newobj(self, <tuple>rv[1], obj)
    else:
        save(self, rv[0], 0)
        save(self, rv[1], 0)
        buf_write_byte(self.framer, REDUCE)

    if obj is not None:
        idx = memo_lookup(self.memo_table, <PyObject *>obj)
        if idx >= 0:
            # Recursive reduction: the object was memoized while its
            # arguments were pickled.
            buf_write_byte(self.framer, POP)
            return memo_get(self, idx)
        memoize_or_override(self, obj)
    if size > 3 and rv[3] is not None:
        batch_appends_or_override(self, rv[3])
    if size > 4 and rv[4] is not None:
        batch_setitems_or_override(self, rv[4])
    if size > 2 and rv[2] is not None:
        if size < 6 or rv[5] is None:
            save(self, rv[2], 0)
            buf_write_byte(self.framer, BUILD)
        else:
            # state_setter(obj, state), called for its side effect only.
            save(self, rv[5], 0)
            save(self, obj, 0)
            save(self, rv[2], 0)
            buf_write_byte(self.framer, TUPLE2)
            buf_write_byte(self.framer, REDUCE)
            buf_write_byte(self.framer, POP)
    return 0


# -- plain instances ------------------------------------------------------------

cdef int save_plain_instance(Pickler self, object obj, type t, list slotnames) except -1:
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
    save(self, t, 0)
    save(self, (), 0)
    buf_write_byte(<Framer>framer_, NEWOBJ)
    memo_ = <PyObject *>self.memo_table
    idx = memo_lookup(<MemoTable>memo_, <PyObject *>obj)
    if idx >= 0:
        # Pickling the class reached the object itself (a class pickled
        # by value by a reducer_override, for instance).
        buf_write_byte(<Framer>framer_, POP)
        return memo_get(self, idx)
    memoize_or_override(self, obj)
    if state is not None:
        save(self, state, 0)
        buf_write_byte(<Framer>framer_, BUILD)
    return 0


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
