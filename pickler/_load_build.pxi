# Opcodes of the unpickler that make objects by calling code (part of
# _unpickler.pyx): REDUCE, NEWOBJ, NEWOBJ_EX, OBJ, INST, and BUILD, which
# sets an object's state.
#
# Each asks the Unpickler's policy (LoadPolicy in _unpickler.pyx) before
# the call when it has one.  Callables and arguments are popped off the
# stack into locals first, so they stay alive while user code runs.


cdef object _instantiate(object cls, object args):
    """OBJ and INST: cls(*args), or cls.__new__(cls) for a class without
    arguments and without __getinitargs__ (pickle.py's _instantiate)."""
    cdef PyObject *f = NULL
    if not args and P_Type_Check(<PyObject *>cls):
        PKL_LookupAttr(<PyObject *>cls, <PyObject *>_S_GETINITARGS, &f)
        if f == NULL:
            return cls.__new__(cls)
        P_DECREF(f)
    return _steal(R_Object_Call(<PyObject *>cls, <PyObject *>args, NULL))


cdef int load_reduce(Unpickler u) except -1:
    args = _pop(u)
    func = _pop(u)
    if not P_Tuple_Check(<PyObject *>args):
        raise TypeError("argument list must be a tuple")
    if u._policy is not None:
        u._policy.check_call(u, REDUCE, func, args, None)
    return _push_steal(u, R_Object_Call(<PyObject *>func, <PyObject *>args, NULL))


cdef PyTypeObject *_newobj_type(str opname, object cls, object args) except NULL:
    """The type NEWOBJ or NEWOBJ_EX calls tp_new of, after checking cls and args."""
    cdef PyTypeObject *tp
    if not P_Type_Check(<PyObject *>cls):
        raise UnpicklingError("%s class argument must be a type, not %s"
                              % (opname, _tpname(cls)))
    tp = <PyTypeObject *><PyObject *>cls
    if tp.tp_new == NULL:
        raise UnpicklingError("%s class argument '%s' doesn't have __new__"
                              % (opname, _tpname(cls)))
    if not P_Tuple_Check(<PyObject *>args):
        raise UnpicklingError("%s args argument must be a tuple, not %s"
                              % (opname, _tpname(args)))
    return tp


cdef int _load_newobj(Unpickler u, int op, str opname, PyObject *kwargs) except -1:
    """NEWOBJ and NEWOBJ_EX: pop args and cls and push
    cls.__new__(cls, *args, **kwargs), through tp_new.  *kwargs* is what
    NEWOBJ_EX popped above them (held by its caller), or NULL for NEWOBJ,
    as tp_new takes it.  One body for both, out of the dispatch loop: two
    inlined copies made the loop's other handlers cost 1.5% more
    (callgrind)."""
    cdef PyTypeObject *tp
    args = _pop(u)
    cls = _pop(u)
    tp = _newobj_type(opname, cls, args)
    if kwargs != NULL and not P_Dict_Check(kwargs):
        raise UnpicklingError("NEWOBJ_EX kwargs argument must be a dict, not %s"
                              % _tpname(<object>kwargs))
    if u._policy is not None:
        u._policy.check_call(u, op, cls, args,
                             <object>kwargs if kwargs != NULL else None)
    obj = tp.tp_new(<type>cls, <PyObject *>args, kwargs)
    return _push(u, obj)


cdef int load_newobj(Unpickler u) except -1:
    return _load_newobj(u, NEWOBJ, "NEWOBJ", NULL)


cdef int load_newobj_ex(Unpickler u) except -1:
    kwargs = _pop(u)
    return _load_newobj(u, NEWOBJ_EX, "NEWOBJ_EX", <PyObject *>kwargs)


cdef int load_obj(Unpickler u) except -1:
    cdef Py_ssize_t i = pop_mark(u)
    if u._stack_len - i < 1:
        _underflow(u)
    args = _steal(_poptuple(u, i + 1))
    cls = _pop(u)
    if u._policy is not None:
        u._policy.check_call(u, OBJ, cls, args, None)
    return _push(u, _instantiate(cls, args))


cdef int load_inst(Unpickler u) except -1:
    cdef Py_ssize_t i = pop_mark(u)
    cdef const char *s
    cdef Py_ssize_t n = _readline(u, &s)
    if n < 2:
        _raise_truncated()
    module_name = _steal(R_Unicode_DecodeASCII(s, n - 1, "strict"))
    n = _readline(u, &s)
    if n < 2:
        _raise_truncated()
    class_name = _steal(R_Unicode_DecodeASCII(s, n - 1, "strict"))
    cls = find_class(u, module_name, class_name)
    args = _steal(_poptuple(u, i))
    if u._policy is not None:
        u._policy.check_call(u, INST, cls, args, None)
    return _push(u, _instantiate(cls, args))


# ---------------------------------------------------------------------------
# BUILD

cdef int load_build(Unpickler u) except -1:
    """BUILD: inst.__setstate__(state), else the dict part of state into
    inst.__dict__ and its slot part with setattr (pickle.py's load_build)."""
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
    cdef size_t slot = ((<size_t>k * <size_t>0x9E3779B97F4A7C15ULL)
                        >> (8 * sizeof(size_t) - 3))
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
    """Drop the BUILD key pairs _interned_key remembers."""
    cdef int i
    for i in range(8):
        P_XDECREF(u._intern_from[i])
        P_XDECREF(u._intern_to[i])
        u._intern_from[i] = NULL
        u._intern_to[i] = NULL
