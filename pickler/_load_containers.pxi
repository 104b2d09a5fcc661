# Opcodes of the unpickler that build or fill containers (part of
# _unpickler.pyx): tuples, lists, dicts, sets and frozensets, and the
# APPEND(S), SETITEM(S) and ADDITEMS that fill them.
#
# Items come from the stack (_load_stack.pxi).  Exact list, dict and set
# targets are filled with C calls; any other target runs user code
# (extend, append, __setitem__, add), asked of the Unpickler's policy first
# when it has one (LoadPolicy in _unpickler.pyx).  Items stay owned by the
# stack while user code runs: a load() it starts uses a stack of its own.


cdef inline int load_empty_tuple(Unpickler u) except -1:
    return _push_steal(u, R_Tuple_New(0))


cdef inline int load_empty_list(Unpickler u) except -1:
    return _push_steal(u, R_List_New(0))


cdef inline int load_empty_dict(Unpickler u) except -1:
    return _push_steal(u, R_Dict_New())


cdef int load_empty_set(Unpickler u) except -1:
    return _push_steal(u, R_Set_New(NULL))


cdef int _load_counted_tuple(Unpickler u, Py_ssize_t n) except -1:
    """A tuple of the top n items."""
    cdef PyObject *t
    if u._stack_len - n < u._fence:
        _underflow(u)
    t = _poptuple(u, u._stack_len - n)
    return _push_steal(u, t)


cdef int load_tuple1(Unpickler u) except -1:
    return _load_counted_tuple(u, 1)


cdef int load_tuple2(Unpickler u) except -1:
    return _load_counted_tuple(u, 2)


cdef int load_tuple3(Unpickler u) except -1:
    return _load_counted_tuple(u, 3)


cdef int load_tuple(Unpickler u) except -1:
    return _load_counted_tuple(u, u._stack_len - pop_mark(u))


cdef int load_list(Unpickler u) except -1:
    cdef Py_ssize_t i = pop_mark(u)
    return _push_steal(u, _poplist(u, i))


cdef int load_dict(Unpickler u) except -1:
    cdef Py_ssize_t i = pop_mark(u)
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
    except BaseException:
        P_DECREF(d)
        raise
    _clear_stack_to(u, i)
    return _push_steal(u, d)


cdef int load_frozenset(Unpickler u) except -1:
    cdef Py_ssize_t i = pop_mark(u)
    cdef PyObject *t = _poptuple(u, i)
    items = _steal(t)
    return _push_steal(u, R_FrozenSet_New(<PyObject *>items))


# ---------------------------------------------------------------------------
# Filling: the target is the item below the first one added

cdef int do_append(Unpickler u, Py_ssize_t x) except -1:
    """Append stack[x:] to the list (or list-like) at stack[x - 1]."""
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


cdef int load_append(Unpickler u) except -1:
    if u._stack_len - 1 <= u._fence:
        _underflow(u)
    return do_append(u, u._stack_len - 1)


cdef int load_appends(Unpickler u) except -1:
    return do_append(u, pop_mark(u))


cdef int do_setitems(Unpickler u, Py_ssize_t x) except -1:
    """Set the key/value pairs stack[x:] on the dict (or mapping) at stack[x - 1]."""
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
    # The items stay owned by the stack while user code runs (a load() it
    # starts uses a stack of its own); they are dropped at the end.
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
            while i < n:
                R_Object_SetItem(d, st[i - 1], st[i])
                i += 2
    finally:
        _clear_stack_to(u, x)
    return 0


cdef int load_setitem(Unpickler u) except -1:
    return do_setitems(u, u._stack_len - 2)


cdef int load_setitems(Unpickler u) except -1:
    return do_setitems(u, pop_mark(u))


cdef int load_additems(Unpickler u) except -1:
    cdef Py_ssize_t mark = pop_mark(u)
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
