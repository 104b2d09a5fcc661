# Globals in the unpickler (part of _unpickler.pyx): find_class, the
# GLOBAL and STACK_GLOBAL opcodes, and extension codes (EXT1, EXT2, EXT4,
# through copyreg's registry).
#
# Every global a pickle names is resolved by find_class() here: the
# Unpickler's policy when it has one, else a subclass's find_class method,
# else default_find_class (what Unpickler.find_class runs): the audit
# event, Python 2 name mapping, import and attribute lookup.


cdef object find_class(Unpickler u, object module_name, object global_name):
    """The object a pickle names as module_name.global_name."""
    if u._policy is not None:
        return u._policy.find_global(u, module_name, global_name)
    # The base class is immutable and its instances have no __dict__, so for
    # exact instances the attribute lookup would always find our method.
    if type(u) is Unpickler:
        return default_find_class(u, module_name, global_name)
    return u.find_class(module_name, global_name)


cdef int _no_attribute(object module, object name) except -1:
    raise AttributeError("Can't get attribute %r on %r" % (name, module))


cdef object _getattribute(object module, object name):
    """module's attribute at the dotted path *name* (protocol 4+ qualnames)."""
    cdef PyObject *r = NULL
    dotted = name.split(".")
    if "<locals>" in dotted:
        raise AttributeError("Can't get local attribute %r on %r" % (name, module))
    obj = module
    for sub in dotted:
        parent = obj
        PKL_LookupAttr(<PyObject *>parent, <PyObject *>sub, &r)
        if r == NULL:
            _no_attribute(module, name)
        obj = _steal(r)
    return obj


cdef object default_find_class(Unpickler u, object module_name, object global_name):
    """Unpickler.find_class: import the module and get the attribute,
    mapping Python 2 names (before protocol 3, with fix_imports)."""
    cdef PyObject *r = NULL
    PySys_Audit("pickle.find_class", "OO",
                <PyObject *>module_name, <PyObject *>global_name)
    if u._proto < 3 and u._fix_imports:
        item = _NAME_MAPPING.get((module_name, global_name))
        if item is not None:
            if type(item) is not tuple or len(item) != 2:
                raise RuntimeError("_compat_pickle.NAME_MAPPING values should be "
                                   "2-tuples, not %s" % _tpname(item))
            module_name, global_name = item
            if not isinstance(module_name, str) or not isinstance(global_name, str):
                raise RuntimeError("_compat_pickle.NAME_MAPPING values should be "
                                   "pairs of str, not (%s, %s)"
                                   % (_tpname(module_name), _tpname(global_name)))
        else:
            item = _IMPORT_MAPPING.get(module_name)
            if item is not None:
                if not isinstance(item, str):
                    raise RuntimeError("_compat_pickle.IMPORT_MAPPING values should be "
                                       "strings, not %s" % _tpname(item))
                module_name = item
    module = import_module(module_name)
    if u._proto >= 4:
        return _getattribute(module, global_name)
    PKL_LookupAttr(<PyObject *>module, <PyObject *>global_name, &r)
    if r == NULL:
        _no_attribute(module, global_name)
    return _steal(r)


# ---------------------------------------------------------------------------
# Opcodes

cdef int load_global(Unpickler u) except -1:
    cdef const char *s
    cdef Py_ssize_t n = _readline(u, &s)
    if n < 2:
        _raise_truncated()
    module_name = _steal(R_Unicode_DecodeUTF8(s, n - 1, "strict"))
    n = _readline(u, &s)
    if n < 2:
        _raise_truncated()
    global_name = _steal(R_Unicode_DecodeUTF8(s, n - 1, "strict"))
    return _push(u, find_class(u, module_name, global_name))


cdef int load_stack_global(Unpickler u) except -1:
    if not PY311 and u._stack_len - u._fence < 2:
        # 3.10's _pickle reports a short stack as a type error here.
        _clear_stack_to(u, u._fence)
        raise UnpicklingError("STACK_GLOBAL requires str")
    global_name = _pop(u)
    module_name = _pop(u)
    if type(module_name) is not str or type(global_name) is not str:
        raise UnpicklingError("STACK_GLOBAL requires str")
    return _push(u, find_class(u, module_name, global_name))


cdef object _MISSING = object()


cdef int _load_extension(Unpickler u, long code, int nbytes) except -1:
    """EXT1, EXT2 and EXT4 after their code (nbytes long): copyreg's
    registered global, cached in copyreg._extension_cache."""
    if code <= 0:
        raise UnpicklingError("EXT specifies code <= 0")
    if u._policy is not None:
        return _push(u, u._policy.extension(u, code, nbytes))
    py_code = code
    obj = _extension_cache.get(py_code, _MISSING)
    if obj is not _MISSING:
        return _push(u, obj)
    pair = _inverted_registry.get(py_code, _MISSING)
    if pair is _MISSING:
        raise ValueError("unregistered extension code %d" % code)
    if (not isinstance(pair, tuple) or len(pair) != 2 or
            not isinstance(pair[0], str) or not isinstance(pair[1], str)):
        raise ValueError("_inverted_registry[%d] isn't a 2-tuple of strings" % code)
    obj = find_class(u, pair[0], pair[1])
    _extension_cache[py_code] = obj
    return _push(u, obj)


cdef int load_ext1(Unpickler u) except -1:
    cdef const char *s = _read(u, 1)
    return _load_extension(u, <unsigned char>s[0], 1)


cdef int load_ext2(Unpickler u) except -1:
    cdef const char *s = _read(u, 2)
    return _load_extension(u, <long>get_le(s, 2), 2)


cdef int load_ext4(Unpickler u) except -1:
    cdef const char *s = _read(u, 4)
    return _load_extension(u, get_le_signed32(s), 4)
