# Declarations of the allowlist loader (pickler/_safe.pyx).

from ._unpickler cimport Unpickler, LoadPolicy


cdef class _PtrMap:
    # An identity table: object address -> small int, open addressing.  The
    # policy holds every key (SafePolicy._keep), so an address stays valid.
    cdef void **_keys            # object addresses, NULL = empty slot
    cdef int *_vals              # the value of the key in the same slot
    cdef Py_ssize_t _mask        # capacity - 1 (capacity a power of two)
    cdef Py_ssize_t _used
    cdef int get(self, void *key) noexcept     # -1 when absent
    cdef int set(self, void *key, int value) except -1


cdef class SafePolicy(LoadPolicy):
    # One compiled allowlist: the default set plus the caller's entries,
    # resolved to objects once, shared by every load that uses it.
    cdef dict _names         # "module.qualname" -> object (the allowed names)
    cdef dict _by_module     # module -> {qualname: object}, at every split of a name
    cdef _PtrMap _calls      # allowed callable -> argument-rule code (R_NONE: any)
    # class whose exact instances may receive BUILD state -> 0 (not looked at
    # yet), 1 (has __setstate__), 2 (has not)
    cdef _PtrMap _build
    cdef tuple _build_bases  # classes whose subclasses' instances may get BUILD state
    cdef dict _setitem       # id(dict subclass) -> the built-in __setitem__ to use
    cdef list _keep          # every allowed object (keeps the ids above valid)
    cdef readonly tuple names   # the allowed names, sorted (for repr and docs)

    cdef int _refuse(self, Unpickler u, str what, str opname, Py_ssize_t back,
                     str reason, object module, object name) except -1
    cdef object _never_full(self, str name, object obj)
    cdef object _lookup(self, Unpickler u, object module_name, object global_name,
                        str opname, Py_ssize_t back)
    cdef object _builtin_method(self, object target, str method, str opname)
    cdef int _check_callable_args(self, Unpickler u, int op, object func,
                                  object args, object kwargs) except -1


cdef class SafeUnpickler(Unpickler):
    cdef object _src_file     # the file given to __init__ (for stream offsets), or None
    cdef object _last_module  # names of the last global resolved (INST offsets)
    cdef object _last_name
