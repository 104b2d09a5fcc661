# The unpickler's memo (part of _unpickler.pyx) and the opcodes that use
# it: GET, BINGET, LONG_BINGET, PUT, BINPUT, LONG_BINPUT, MEMOIZE.
#
# An array of owned references (or NULL) for dense indices, and a dict for
# indices far beyond the number of stored entries, so that a huge
# LONG_BINPUT index costs one dict slot, not an array that size.  Memory
# stays proportional to the input.  Nothing here moves the read position:
# arguments come through the input functions (_load_input.pxi).


cdef int _memo_grow(Unpickler u, Py_ssize_t idx) except -1:
    """Enlarge the array to hold *idx*, then move in the dict entries that fit."""
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
    """memo[idx] = value (borrowed; the memo takes its own reference)."""
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


cdef inline PyObject *_memo_get(Unpickler u, Py_ssize_t idx) except? NULL:
    """Borrowed memo entry, or NULL (without exception) when absent."""
    if 0 <= idx < u._memo_cap:
        return u._memo[idx]
    if u._memo_dict:
        v = u._memo_dict.get(idx)
        if v is not None or idx in u._memo_dict:
            return <PyObject *>v   # kept alive by the dict
    return NULL


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
    """The memo as a new {index: object} dict."""
    cdef dict d = {}
    cdef Py_ssize_t i
    for i in range(u._memo_top):
        if u._memo[i] != NULL:
            d[i] = <object>u._memo[i]
    if u._memo_dict:
        d.update(u._memo_dict)
    return d


cdef int _push_memo_slow(Unpickler u, Py_ssize_t idx) except -1:
    """Slow path of _push_memo(): a dict entry, or none."""
    cdef PyObject *v = _memo_get(u, idx)
    if v == NULL:
        raise UnpicklingError("Memo value not found at index %d" % idx)
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


cdef inline int _memo_put_top(Unpickler u, Py_ssize_t idx) except -1:
    """memo[idx] = the top of the stack (PUT, BINPUT, LONG_BINPUT)."""
    if u._stack_len <= u._fence:
        return _underflow_nx(u)
    return _memo_put_nx(u, idx, u._stack[u._stack_len - 1])


# ---------------------------------------------------------------------------
# Opcodes

cdef int load_get(Unpickler u) except -1:
    cdef Py_ssize_t n, idx
    cdef char *s = _readline_z(u, &n)
    key = _steal(R_Long_FromString(s, NULL, 10))
    idx = key
    return _push_memo(u, idx)


cdef inline int load_binget(Unpickler u) except -1:
    cdef const char *s = _read(u, 1)
    return _push_memo(u, <unsigned char>s[0])


cdef inline int load_long_binget(Unpickler u) except -1:
    cdef const char *s = _read(u, 4)
    return _push_memo(u, calc_binsize(s, 4))


cdef int load_put(Unpickler u) except -1:
    cdef Py_ssize_t n, idx
    cdef char *s = _readline_z(u, &n)
    if u._stack_len <= u._fence:
        _underflow(u)
    key = _steal(R_Long_FromString(s, NULL, 10))
    idx = key
    if idx < 0:
        raise ValueError("negative PUT argument")
    return _memo_put(u, idx, u._stack[u._stack_len - 1])


cdef inline int load_binput(Unpickler u) except -1:
    cdef const char *s = _read(u, 1)
    return _memo_put_top(u, <unsigned char>s[0])


cdef int load_long_binput(Unpickler u) except -1:
    cdef const char *s = _read(u, 4)
    cdef Py_ssize_t idx
    if u._stack_len <= u._fence:
        _underflow(u)
    idx = calc_binsize(s, 4)
    if idx < 0:
        raise ValueError("negative LONG_BINPUT argument")
    return _memo_put(u, idx, u._stack[u._stack_len - 1])


cdef inline int load_memoize(Unpickler u) except -1:
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
