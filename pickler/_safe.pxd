# Declarations of the allowlist loader (pickler/_safe.pyx).

from ._unpickler cimport Unpickler, LoadPolicy


cdef class SafePolicy(LoadPolicy):
    # One compiled allowlist: the default set plus the caller's entries,
    # resolved to objects once, shared by every load that uses it.
    cdef dict _names         # "module.qualname" -> object, for GLOBAL/STACK_GLOBAL/INST/EXT
    cdef dict _calls         # id(callable) -> argument rule (None: any arguments)
    cdef dict _build         # id(class) -> class: exact instances may receive BUILD state
    cdef tuple _build_bases  # classes whose subclasses' instances may receive BUILD state
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
    cdef Py_ssize_t _inst_pos # window position of the last INST opcode (its offset)
