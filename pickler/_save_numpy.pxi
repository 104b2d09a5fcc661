# numpy's fast paths: the reduce value of a C-contiguous ndarray without
# numpy's imports (ndarray_reduce), and the reduce values of builtin dtypes
# kept (dtype_reduce).  Included by _pickler.pyx; used only by
# reduce_value_of() in _save_reduce.pxi.  numpy is never imported here.
# To remove these fast paths, delete this file, its include in _pickler.pyx
# and the ndarray/dtype branch in reduce_value_of() (and the tests' checks
# of _numpy_shortcut_state()): every array and dtype then takes numpy's own
# __reduce_ex__, with the same bytes.


#
# numpy.ndarray.__reduce_ex__(proto >= 5) of a C-contiguous array without
# Python objects returns
#
#     (numpy._core.numeric._frombuffer, (PickleBuffer(arr), arr.dtype, arr.shape, 'C'))
#
# but pays for two module imports on every call ("pickle" for the PickleBuffer
# class, the numeric module for _frombuffer): 1.5 us of the 5 us a dumps of
# one array costs.  ndarray_reduce() builds the same tuple from the same
# objects without them.  Nothing about it is assumed from numpy's version:
# the first C-contiguous array seen is reduced by numpy itself, twice, and
# the shortcut is enabled only if the results have exactly that shape, the
# function is found again as module.__name__, and the order string is one
# shared object (memo identity).  Every other array (subclasses, F-order or
# strided, object dtypes, zero itemsize, protocol < 5, a buffer numpy refuses
# to export) takes numpy's own __reduce_ex__.

cdef object _ndarray_type = None        # numpy.ndarray once recognised
cdef int _ndarray_state = 0             # 0 unchecked, 1 shortcut on, -1 off
cdef object _frombuffer_module = None   # module holding the rebuild function
cdef object _frombuffer_name = None     # its name there ("_frombuffer")
cdef object _order_c = None             # the 'C' numpy returns


cdef inline bint has_numpy_name(type t, const char *name) noexcept:
    """tp_name is `name` (first character first: most types reaching the
    reduce path are not numpy's)."""
    return ((<PyTypeObject *>t).tp_name[0] == name[0]
            and strcmp((<PyTypeObject *>t).tp_name, name) == 0)


cdef int is_ndarray_type(type t) except -1:
    """`t` is numpy.ndarray itself: recognised by name, confirmed once
    against the imported numpy (which is never imported here)."""
    global _ndarray_type
    if _ndarray_state < 0:
        return False
    if t is _ndarray_type:
        return True
    if _ndarray_type is not None or not has_numpy_name(t, "numpy.ndarray"):
        return False
    numpy = sys.modules.get("numpy")
    if numpy is None or getattr(numpy, "ndarray", None) is not t:
        return False
    _ndarray_type = t
    return True


cdef object ndarray_reduce(object arr, int proto):
    """numpy's reduce value for `arr` without its imports, or None when
    numpy's own __reduce_ex__ must be called."""
    cdef const Py_buffer *view
    if proto < 5:
        return None
    dtype = arr.dtype
    if dtype.hasobject or dtype.itemsize == 0:
        return None
    try:
        buf = PyPickleBuffer_FromObject(arr)
    except Exception:
        return None          # numpy's own reduce falls back to bytes then
    view = PyPickleBuffer_GetBuffer(buf)
    if not PyBuffer_IsContiguous(view, b'C'):
        return None
    if _ndarray_state == 0:
        return ndarray_reduce_first(arr, proto)
    if _ndarray_state < 0:
        # another thread's first array turned the shortcut off meanwhile
        return None
    func = getattr(_frombuffer_module, _frombuffer_name)
    return (func, (buf, dtype, arr.shape, _order_c))


def _numpy_shortcut_state():
    """Diagnostics for the tests: 1 when ndarray_reduce() is in use, -1 when
    numpy's own reduce is always called, 0 before the first array."""
    return _ndarray_state


cdef object ndarray_reduce_first(object arr, int proto):
    """The first C-contiguous array: numpy reduces it; its result decides
    whether the shortcut is used for later arrays."""
    global _ndarray_state, _frombuffer_module, _frombuffer_name, _order_c
    rv = arr.__reduce_ex__(proto)
    again = arr.__reduce_ex__(proto)
    _ndarray_state = -1
    if not (type(rv) is tuple and len(rv) == 2 and type(rv[1]) is tuple
            and len(rv[1]) == 4 and type(again) is tuple and len(again) == 2
            and type(again[1]) is tuple and len(again[1]) == 4):
        return rv
    func, args = rv
    if not (type(args[0]) is _PickleBuffer and args[1] is arr.dtype
            and args[2] == arr.shape and type(args[2]) is tuple
            and type(args[3]) is str and args[3] == "C"
            and args[3] is again[1][3] and again[0] is func):
        return rv
    module = sys.modules.get(getattr(func, "__module__", None))
    name = getattr(func, "__name__", None)
    if module is None or type(name) is not str or getattr(module, name, None) is not func:
        return rv
    _frombuffer_module = module
    _frombuffer_name = name
    _order_c = args[3]
    _ndarray_state = 1
    return rv


# numpy.dtype.__reduce__ imports numpy's core module on every call (0.5 of
# its 0.9 us).  The reduce value of a builtin dtype (np.dtype('f8'),
# isbuiltin == 1: one of numpy's shared, immutable instances, no fields, no
# metadata, native byte order) never changes, so numpy's own result for it
# is kept and handed out again.  It is pickled at most once per pickle (the
# dtype itself is memoized), and its strings are fresh objects of numpy's
# as on every call (one-character ones are CPython's shared singletons
# either way), so the bytes are the same as with a new call.

cdef enum:
    DTYPE_CACHE_SIZE = 32
cdef PyObject *_dtype_cache_key[32]    # builtin dtypes seen (strong references)
cdef PyObject *_dtype_cache_value[32]  # numpy's reduce value for each (strong)
cdef int _dtype_cache_used = 0
cdef object _dtype_metaclass = None    # numpy._DTypeMeta once recognised


cdef int is_dtype_metaclass(type meta) except -1:
    """`meta` is numpy's dtype metaclass: recognised by name, confirmed once
    against the imported numpy."""
    global _dtype_metaclass
    if meta is _dtype_metaclass:
        return True
    if _dtype_metaclass is not None or not has_numpy_name(meta, "numpy._DTypeMeta"):
        return False
    numpy = sys.modules.get("numpy")
    if numpy is None or type(getattr(numpy, "dtype", None)) is not meta:
        return False
    _dtype_metaclass = meta
    return True


cdef object dtype_reduce(object descr, int proto):
    """numpy's reduce value for the dtype `descr`: kept for builtin dtypes."""
    global _dtype_cache_used
    cdef int i
    for i in range(_dtype_cache_used):
        if _dtype_cache_key[i] == <PyObject *>descr:
            return <object>_dtype_cache_value[i]
    rv = descr.__reduce_ex__(proto)
    if (_dtype_cache_used < DTYPE_CACHE_SIZE and type(rv) is tuple
            and descr.isbuiltin == 1):
        Py_INCREF(descr)
        Py_INCREF(rv)
        _dtype_cache_key[_dtype_cache_used] = <PyObject *>descr
        _dtype_cache_value[_dtype_cache_used] = <PyObject *>rv
        _dtype_cache_used += 1
    return rv
