# Protocol-level opcodes of the unpickler (part of _unpickler.pyx): PROTO,
# FRAME, and protocol 5's out-of-band buffers (NEXT_BUFFER,
# READONLY_BUFFER).
#
# A frame needs no state of its own: FRAME only makes sure its bytes are in
# the input window (_prefetch, _load_input.pxi), and the opcodes inside it
# are read from there like any others.


cdef int load_proto(Unpickler u) except -1:
    cdef const char *s = _read(u, 1)
    cdef int i = <unsigned char>s[0]
    if i > HIGHEST_PROTOCOL:
        raise ValueError("unsupported pickle protocol: %d" % i)
    u._proto = i
    return 0


cdef inline int load_frame(Unpickler u) except -1:
    cdef const char *s = _read(u, 8)
    cdef Py_ssize_t n = calc_binsize(s, 8)
    if n < 0:
        raise OverflowError("FRAME length exceeds system's maximum of %d bytes"
                            % PY_SSIZE_T_MAX)
    return _prefetch(u, n)


cdef int load_next_buffer(Unpickler u) except -1:
    cdef PyObject *b
    if u._buffers is None:
        raise UnpicklingError("pickle stream refers to out-of-band data "
                              "but no *buffers* argument was given")
    it = u._buffers
    b = R_Iter_Next(<PyObject *>it)
    if b == NULL:
        if PyErr_Occurred() != NULL:
            return -1      # the iterator raised: propagate its exception
        raise UnpicklingError("not enough out-of-band buffers")
    return _push_steal(u, b)


cdef int load_readonly_buffer(Unpickler u) except -1:
    cdef PyObject *obj
    cdef PyObject *view
    if u._stack_len <= u._fence:
        _underflow(u)
    obj = u._stack[u._stack_len - 1]
    view = R_MemoryView_FromObject(obj)
    if not PyMemoryView_GET_BUFFER(<object>view).readonly:
        # Same exporter, but the view refuses writes.
        PyMemoryView_GET_BUFFER(<object>view).readonly = 1
        u._stack[u._stack_len - 1] = view
        P_DECREF(obj)
    else:
        P_DECREF(view)
    return 0
