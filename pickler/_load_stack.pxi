# The unpickler's object stack and marks (part of _unpickler.pyx), and the
# opcodes that only move stack items: MARK, POP, POP_MARK, DUP.
#
# The stack is a C array of owned references (Unpickler._stack); MARK saves
# its length in a separate array (Unpickler._marks) and `_fence` caches the
# innermost saved length, so "is there an item above the mark" is one
# comparison.  Nothing here reads input or touches the memo.  Every
# handler keeps the stack consistent before it drops a reference: a decref
# may run __del__, which may look at (or load with) this Unpickler.


cdef int _grow_stack(Unpickler u, PyObject *pending) except -1:
    """Enlarge the stack; on failure drop *pending* (a reference being pushed)."""
    cdef Py_ssize_t cap = u._stack_cap
    cdef Py_ssize_t new_cap = cap + (cap >> 1) + STACK_INITIAL
    cdef PyObject **p
    if new_cap > PY_SSIZE_T_MAX // <Py_ssize_t>sizeof(PyObject *):
        P_XDECREF(pending)
        raise MemoryError()
    p = <PyObject **>PyMem_Realloc(u._stack, new_cap * sizeof(PyObject *))
    if p == NULL:
        P_XDECREF(pending)
        raise MemoryError()
    u._stack = p
    u._stack_cap = new_cap
    return 0


cdef int _push_slow(Unpickler u, PyObject *o) except -1:
    """Slow path of _push_steal(): the stack is full."""
    _grow_stack(u, o)
    u._stack[u._stack_len] = o
    u._stack_len += 1
    return 0


# The hot helpers (_read, _push_steal, _push_memo, load_memoize) have their slow
# paths called through these pointers, typed without an exception spec: the
# slow path sets the exception and returns the error value as usual, and the
# helper passes that value on without error handling of its own.  That keeps
# each helper a few instructions long, so the C compiler inlines it in the
# dispatch loop (with the error handling it is not inlined: measured with
# callgrind, 12% of the loop's instructions on json_records loads).
ctypedef int (*_push_slow_t)(Unpickler, PyObject *) noexcept
cdef _push_slow_t _push_slow_nx = <_push_slow_t>_push_slow


cdef inline int _push_steal(Unpickler u, PyObject *o) except -1:
    """Push a new reference, which the stack takes over."""
    if u._stack_len == u._stack_cap:
        return _push_slow_nx(u, o)
    u._stack[u._stack_len] = o
    u._stack_len += 1
    return 0


cdef inline int _push(Unpickler u, object o) except -1:
    """Push *o*, adding a reference."""
    P_INCREF(<PyObject *>o)
    return _push_steal(u, <PyObject *>o)


cdef int _underflow(Unpickler u) except -1:
    """Raise the error of a pop below the innermost mark."""
    if u._num_marks:
        raise UnpicklingError("unexpected MARK found")
    raise UnpicklingError("unpickling stack underflow")


ctypedef int (*_underflow_t)(Unpickler) noexcept
cdef _underflow_t _underflow_nx = <_underflow_t>_underflow


cdef inline object _steal(PyObject *p):
    """Turn a new reference into a Python object (no net refcount change)."""
    o = <object>p
    P_DECREF(p)
    return o


cdef inline object _pop(Unpickler u):
    """Pop the top of the stack (above the innermost mark) as an owned object."""
    cdef PyObject *p
    if u._stack_len <= u._fence:
        _underflow(u)
    u._stack_len -= 1
    p = u._stack[u._stack_len]
    o = <object>p
    P_DECREF(p)
    return o


cdef int _clear_stack_to(Unpickler u, Py_ssize_t n) except -1:
    """Drop the stack items above index *n*, keeping the state consistent
    while the decrefs run (they may call __del__ and re-enter)."""
    cdef PyObject *p
    while u._stack_len > n:
        u._stack_len -= 1
        p = u._stack[u._stack_len]
        P_DECREF(p)
    return 0


cdef Py_ssize_t pop_mark(Unpickler u) except -1:
    """Forget the innermost mark; return the stack length it saved."""
    cdef Py_ssize_t m
    if u._num_marks < 1:
        raise UnpicklingError("could not find MARK")
    u._num_marks -= 1
    m = u._marks[u._num_marks]
    u._fence = u._marks[u._num_marks - 1] if u._num_marks else 0
    return m


cdef PyObject *_poptuple(Unpickler u, Py_ssize_t start) except NULL:
    """Pop stack[start:] into a new tuple (new reference)."""
    cdef Py_ssize_t n, i
    cdef PyObject *t
    if start < u._fence:
        _underflow(u)
    n = u._stack_len - start
    t = R_Tuple_New(n)
    for i in range(n):
        R_Tuple_SET_ITEM(t, i, u._stack[start + i])
    u._stack_len = start
    return t


cdef PyObject *_poplist(Unpickler u, Py_ssize_t start) except NULL:
    """Pop stack[start:] into a new list (new reference)."""
    cdef Py_ssize_t n, i
    cdef PyObject *lst
    n = u._stack_len - start
    lst = R_List_New(n)
    for i in range(n):
        R_List_SET_ITEM(lst, i, u._stack[start + i])
    u._stack_len = start
    return lst


# ---------------------------------------------------------------------------
# Opcodes

cdef int load_mark(Unpickler u) except -1:
    cdef Py_ssize_t new_cap
    cdef Py_ssize_t *p
    if u._num_marks >= u._marks_cap:
        new_cap = u._num_marks * 2 + 20
        p = <Py_ssize_t *>PyMem_Realloc(u._marks, new_cap * sizeof(Py_ssize_t))
        if p == NULL:
            raise MemoryError()
        u._marks = p
        u._marks_cap = new_cap
    u._fence = u._stack_len
    u._marks[u._num_marks] = u._stack_len
    u._num_marks += 1
    return 0


cdef int load_pop(Unpickler u) except -1:
    """POP: drop the top item, or the innermost mark when nothing is above it."""
    cdef Py_ssize_t n = u._stack_len
    if u._num_marks > 0 and u._marks[u._num_marks - 1] == n:
        u._num_marks -= 1
        u._fence = u._marks[u._num_marks - 1] if u._num_marks else 0
    elif n <= u._fence:
        _underflow(u)
    else:
        _clear_stack_to(u, n - 1)
    return 0


cdef int load_pop_mark(Unpickler u) except -1:
    cdef Py_ssize_t i = pop_mark(u)
    return _clear_stack_to(u, i)


cdef int load_dup(Unpickler u) except -1:
    if u._stack_len <= u._fence:
        _underflow(u)
    return _push(u, <object>u._stack[u._stack_len - 1])
