# Persistent ids in the unpickler (part of _unpickler.pyx): the PERSID and
# BINPERSID opcodes and the persistent_load hook they call.
#
# The hook is resolved once per load() (_resolve_persistent_load, called
# by _load in _unpickler.pyx) into Unpickler._pers_func; None stands for
# the default hook, which refuses.


# Wording of the running version's _pickle (3.12 joined the two lines).
cdef str _NO_PERSISTENT_LOAD_MSG = (
    "A load persistent id instruction was encountered,%sbut no "
    "persistent_load function was specified." % (" " if PY312 else "\n"))


cdef int _no_persistent_load() except -1:
    raise UnpicklingError(_NO_PERSISTENT_LOAD_MSG)


cdef object _resolve_persistent_load(Unpickler u):
    """persistent_load to use for this load(), or None (the default hook)."""
    cdef PyObject *f = NULL
    if type(u) is Unpickler:
        return u._pers_assigned
    PKL_LookupAttr(<PyObject *>u, <PyObject *>_S_PERSISTENT_LOAD, &f)
    if f == NULL:
        return None
    func = _steal(f)
    if (P_Method_Check(f) and P_Method_GET_SELF(f) == <PyObject *>u and
            P_Method_GET_FUNCTION(f) == <PyObject *>_DEFAULT_PERSISTENT_LOAD):
        return None
    return func


cdef int load_persid(Unpickler u) except -1:
    cdef const char *s
    cdef Py_ssize_t n
    # Before 3.13 the missing hook is reported before reading the argument;
    # from 3.13 on the default hook is called with it (as in _pickle).
    if u._pers_func is None and not PY313:
        _no_persistent_load()
    n = _readline(u, &s)
    try:
        pid = _steal(R_Unicode_DecodeASCII(s, n - 1, "strict"))
    except UnicodeDecodeError:
        raise UnpicklingError("persistent IDs in protocol 0 must be ASCII strings")
    func = u._pers_func
    if func is None:
        _no_persistent_load()
    return _push(u, func(pid))


cdef int load_binpersid(Unpickler u) except -1:
    if u._pers_func is None and not PY313:
        _no_persistent_load()
    pid = _pop(u)
    func = u._pers_func
    if func is None:
        _no_persistent_load()
    return _push(u, func(pid))
