# Objects saved by reference: save_global (module and qualified name,
# checked to lead back to the very object; extension codes; STACK_GLOBAL,
# GLOBAL with Python 2 names, the nested-name forms below protocol 4),
# whichmodule, get_deep_attribute, and save_type.  Included by
# _pickler.pyx.  The error messages are _pickle's (pickle._Pickler's for a
# subclass using the pure-Python surface): tests compare them.  An override
# of save_global is called only through save_global_or_override()
# (_pickler.pxd).


cdef int save_type(Pickler self, object obj) except -1:
    if obj is _NoneType:
        return save_reduce_or_override(self, (type, (None,)), obj)
    if obj is _EllipsisType:
        return save_reduce_or_override(self, (type, (Ellipsis,)), obj)
    if obj is _NotImplementedType:
        return save_reduce_or_override(self, (type, (NotImplemented,)), obj)
    return save_global_or_override(self, obj, None)


cdef int save_global(Pickler self, object obj, object name) except -1:
    """Pickle `obj` by reference: module and qualified name."""
    cdef Framer framer = self.framer
    cdef long code
    if name is None:
        name = getattr(obj, "__qualname__", None)
        if name is None:
            name = obj.__name__
    dotted_path = name.split(".")
    if "<locals>" in dotted_path and not self.surface_mode:
        raise AttributeError(LOCAL_OBJECT_MSG % (name,))
    module_name = whichmodule(obj, dotted_path)
    if self.surface_mode:
        # A subclass written against pickle._Pickler: its save_global
        # turns every failed lookup (local objects too) into a
        # PicklingError, which such subclasses catch (joblib's Hasher).
        try:
            module = import_module(module_name)
            if "<locals>" in dotted_path:
                raise AttributeError(name)
            found, parent = get_deep_attribute(module, dotted_path)
            if found is _MISSING:
                raise AttributeError(name)
        except (ImportError, KeyError, AttributeError):
            raise _PicklingError("Can't pickle %r: it's not found as %s.%s"
                                 % (obj, module_name, name)) from None
    else:
        try:
            module = import_module(module_name)
        except BaseException:
            raise _PicklingError("Can't pickle %r: import of module %r failed"
                                 % (obj, module_name))
        found, parent = get_deep_attribute(module, dotted_path)
        if found is _MISSING:
            raise _PicklingError("Can't pickle %r: attribute lookup %s on %s failed"
                                 % (obj, name, module_name))
    lastname = dotted_path[len(dotted_path) - 1]
    if found is not obj:
        raise _PicklingError("Can't pickle %r: it's not the same object as %s.%s"
                             % (obj, module_name, name))

    if self.proto >= 2:
        code_obj = _extension_registry.get((module_name, name), _MISSING)
        if code_obj is not _MISSING and PY313:
            # 3.13 checks the code like the pure-Python pickler does.
            code = PyLong_AsLong(code_obj)
            if code <= 0 or code > 0x7fffffff:
                raise RuntimeError("extension code %d is out of range" % code)
        if code_obj is not _MISSING:
            if not isinstance(code_obj, int):
                raise _PicklingError("Can't pickle %r: extension code %r isn't "
                                     "an integer" % (obj, code_obj))
            code = code_obj
            if code <= 0 or code > 0x7fffffff:
                raise _PicklingError("Can't pickle %r: extension code %d is "
                                     "out of range" % (obj, code))
            return write_sized_opcode(framer, <char>EXT1, <char>EXT2, <char>EXT4, code)

    if parent is module:
        name = lastname
    if self.proto >= 4:
        save(self, module_name, 0)
        save(self, name, 0)
        buf_write_byte(framer, STACK_GLOBAL)
    elif parent is not module:
        if NESTED_GETATTR_CHAIN:
            # getattr(getattr(top, a), b): top by GLOBAL, names by value.
            for _ in range(1, len(dotted_path)):
                save(self, _getattr, 0)
                if self.proto < 2:
                    buf_write_byte(framer, MARK)
            write_GLOBAL(self, module_name, dotted_path[0])
            for attr in dotted_path[1:]:
                save(self, attr, 0)
                buf_write_byte(framer, <char>(TUPLE if self.proto < 2 else TUPLE2))
                buf_write_byte(framer, REDUCE)
        else:
            save_reduce_or_override(self, (_getattr, (parent, lastname)), None)
    else:
        write_GLOBAL(self, module_name, name)
    return memoize_or_override(self, obj)


cdef int write_GLOBAL(Pickler self, object module_name, object name) except -1:
    """GLOBAL module\\nname\\n, with Python 2 names below protocol 3."""
    cdef Framer framer = self.framer
    if self.proto < 3 and self.fix_imports:
        mapped = _name_mapping_3to2.get((module_name, name))
        if mapped is not None:
            if not isinstance(mapped, tuple) or len(<tuple>mapped) != 2:
                raise RuntimeError("_compat_pickle.REVERSE_NAME_MAPPING values "
                                   "should be 2-tuples, not %.200s"
                                   % type(mapped).__name__)
            module_name, name = mapped
        else:
            mapped = _import_mapping_3to2.get(module_name)
            if mapped is not None:
                module_name = mapped
    encoding = "utf-8" if self.proto == 3 else "ascii"
    try:
        module_bytes = (<str>module_name).encode(encoding)
    except UnicodeEncodeError:
        raise _PicklingError("can't pickle module identifier '%s' using "
                             "pickle protocol %d" % (module_name, self.proto))
    try:
        name_bytes = (<str>name).encode(encoding)
    except UnicodeEncodeError:
        raise _PicklingError("can't pickle global identifier '%s' using "
                             "pickle protocol %d" % (name, self.proto))
    buf_write_byte(framer, GLOBAL)
    buf_write(framer, PyBytes_AS_STRING(module_bytes), PyBytes_GET_SIZE(module_bytes))
    buf_write_byte(framer, NEWLINE)
    buf_write(framer, PyBytes_AS_STRING(name_bytes), PyBytes_GET_SIZE(name_bytes))
    buf_write_byte(framer, NEWLINE)
    return 0


# Name lookup helpers for save_global.

cdef tuple get_deep_attribute(object obj, list names):
    """(obj.a.b.c, obj.a.b) for names [a, b, c]; (_MISSING, None) if a lookup fails."""
    parent = None
    for name in names:
        parent = obj
        try:
            obj = getattr(parent, name)
        except Exception:
            return _MISSING, None
    return obj, parent


cdef object whichmodule(object obj, list dotted_path):
    """The name of the module `obj` can be imported from."""
    module_name = getattr(obj, "__module__", None)
    if module_name is not None:
        return module_name
    for module_name, module in list(sys.modules.items()):
        if module is None or module_name == "__main__":
            continue
        found, _ = get_deep_attribute(module, dotted_path)
        if found is obj:
            return module_name
    return "__main__"
