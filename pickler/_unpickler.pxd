# Declarations of the compiled Unpickler (pickler/_unpickler.pyx and the
# load_*.pxi files it includes).
#
# The loader keeps three C-level structures: an input window (a Py_buffer
# over in-memory data or a bytes chunk read from a file; _load_input.pxi),
# an object stack with a separate array of mark positions (_load_stack.pxi),
# and an array memo with a dict fallback for sparse indices (_load_memo.pxi).
# The capability modules (pickler/_safe.pyx) cimport the class; no state of
# the protocol itself is declared here (see _protocol.pxd).

from cpython.ref cimport PyObject


cdef class LoadPolicy


cdef class Unpickler:
    # --- input source (_load_input.pxi) --------------------------------
    cdef object _file_read       # bound file.read, None when loading from memory
    cdef object _file_readline   # bound file.readline (required with a file)
    cdef object _file_readinto   # bound file.readinto, or None
    # bound file.peek, or None (also once it raised NotImplementedError)
    cdef object _file_peek
    cdef Py_buffer _view         # buffer of the in-memory input given to loads()
    cdef bint _has_view          # True while _view holds a buffer to release
    cdef object _chunk           # bytes owning the current window (file input)
    cdef const char *_buf        # start of the current input window
    cdef Py_ssize_t _buflen      # number of bytes in the window
    cdef Py_ssize_t _pos         # index of the next unread byte in the window
    cdef bint _peeked            # window came from peek(): the file is not past it
    # NUL-terminated copy of the last text line (INT, LONG, FLOAT, GET, PUT)
    cdef char *_line
    cdef Py_ssize_t _line_cap    # allocated size of _line

    # --- object stack and marks (_load_stack.pxi) ----------------------
    cdef PyObject **_stack       # owned references, bottom at index 0
    cdef Py_ssize_t _stack_len   # number of objects on the stack
    cdef Py_ssize_t _stack_cap   # allocated slots in _stack
    cdef Py_ssize_t _fence       # stack length at the innermost MARK (0 without marks)
    cdef Py_ssize_t *_marks      # stack lengths saved by MARK, innermost last
    cdef Py_ssize_t _num_marks   # number of active marks
    cdef Py_ssize_t _marks_cap   # allocated slots in _marks

    # --- memo (_load_memo.pxi) -----------------------------------------
    cdef PyObject **_memo        # owned references (or NULL) indexed by memo key
    cdef Py_ssize_t _memo_cap    # allocated slots in _memo
    # 1 + highest array index filled since the last clear; slots from here
    # up are NULL
    cdef Py_ssize_t _memo_top
    cdef Py_ssize_t _memo_len    # number of entries (array + dict); next MEMOIZE index
    cdef dict _memo_dict         # entries too sparse for the array, or None

    # --- BUILD keys (_load_build.pxi) ----------------------------------
    # Direct-mapped by address: a str key BUILD found not interned (strong
    # reference, NULL = empty slot) and the interned str it stands for
    # (strong reference).  The same memoized key object comes back for
    # every instance of a class; this skips PyUnicode_InternInPlace's
    # lookup for it.  Holding the key keeps its address from being reused.
    cdef PyObject *_intern_from[8]
    cdef PyObject *_intern_to[8]

    # --- options and hooks --------------------------------------------
    cdef int _proto              # protocol announced by PROTO in this load (0 before)
    cdef bint _fix_imports       # map Python 2 names (_compat_pickle) when _proto < 3
    cdef bytes _encoding_b       # encoding for Python 2 str, as UTF-8 bytes
    cdef bytes _errors_b         # error handler for Python 2 str, as UTF-8 bytes
    cdef bint _enc_bytes         # encoding == "bytes": keep Python 2 str as bytes
    cdef object _buffers         # iterator over out-of-band buffers, or None
    cdef object _pers_assigned   # persistent_load assigned on the instance, or None
    cdef object _pers_func       # persistent_load of the running load(), or None
    cdef int _depth              # nesting depth of running load() calls on this object
    cdef unsigned long _thread   # the thread running load() while _depth > 0
    cdef bint _ready             # __init__ (or loads/load) set the input up
    cdef LoadPolicy _policy      # checks of an allowlist loader (_safe.pyx), or None


# Input setup (_load_input.pxi), for loaders built on the Unpickler that
# take in-memory input themselves (pickler/_safe.pyx: safe_loads).
cdef int open_memory_input(Unpickler u, object data) except -1  # one buffer over data
cdef int release_input(Unpickler u) except -1   # forget the window, buffer and file


cdef class LoadPolicy:
    # What an Unpickler with a policy (pickler/_safe.pyx: SafeUnpickler)
    # asks before each step that could run code: the handlers that resolve
    # a global, call a callable, apply BUILD state or fill a container
    # other than an exact list/dict/set call these only when
    # Unpickler._policy is not None (a plain Unpickler never does).
    # Each raises to refuse; *op* is the opcode asking.  builtin_extend and
    # builtin_setitem return the built-in (C) method the loader calls as
    # method(target, ...) instead of looking one up on the target.
    cdef object find_global(self, Unpickler u, object module_name, object global_name)
    cdef object extension(self, Unpickler u, long code, int nbytes)
    cdef int check_call(self, Unpickler u, int op, object func, object args,
                        object kwargs) except -1
    cdef int check_build(self, Unpickler u, object inst, object state) except -1
    cdef object builtin_extend(self, Unpickler u, object target)
    cdef object builtin_setitem(self, Unpickler u, object target)
    cdef int check_additems(self, Unpickler u, object target) except -1
