# cython: language_level=3, binding=True, embedsignature=True, auto_pickle=False
"""The allowlist loader: ``safe_loads``, ``safe_load`` and ``SafeUnpickler``.

A ``SafeUnpickler`` is the compiled Unpickler with a ``SafePolicy`` in its
``_policy`` slot.  The core consults the policy only at the steps that can
run code (resolving a global, calling a callable, applying BUILD state,
filling a container other than an exact list/dict/set); every other opcode
runs exactly as in ``pickler.loads``.  A policy is compiled once per
allowlist (names resolved to objects, ids indexed) and shared by the loads
that use it, so a check is a dict lookup.
"""

cimport cython
from cpython.ref cimport PyObject
from cpython.mem cimport PyMem_Calloc, PyMem_Free
from ._unpickler cimport Unpickler, LoadPolicy, open_memory_input, release_input
from ._protocol cimport (
    REDUCE, NEWOBJ, NEWOBJ_EX, INST, OBJ, BUILD, APPENDS, SETITEMS, ADDITEMS,
    GLOBAL, STACK_GLOBAL, EXT1, EXT2, EXT4,
)

import copyreg as _copyreg
import importlib as _importlib
import pickle as _pickle_mod
import sys
import types as _types
import _compat_pickle
from codecs import lookup as _codecs_lookup

from cpython.object cimport PyTypeObject

cdef extern from "Python.h":
    int PySys_Audit(const char *, const char *, ...) except -1
    bint PyType_Check(object)
    PyTypeObject *Py_TYPE(object)


# ---------------------------------------------------------------------------
# The refusal

class UnpicklingRefused(_pickle_mod.UnpicklingError):
    """A pickle asked for something the allowlist does not permit.

    Raised before the refused step runs.  Attributes: ``opcode`` (its name,
    e.g. ``"REDUCE"``), ``offset`` (of that opcode in the stream, or None
    when the file cannot tell), ``module`` and ``name`` (of the global
    involved, or None) and ``reason``.
    """

    def __init__(self, message, *, opcode=None, offset=None, module=None,
                 name=None, reason=None):
        super().__init__(message)
        self.opcode = opcode
        self.offset = offset
        self.module = module
        self.name = name
        self.reason = reason


# Names of the opcodes the core passes to the policy's checks.
cdef dict _OPNAMES = {REDUCE: "REDUCE", NEWOBJ: "NEWOBJ", NEWOBJ_EX: "NEWOBJ_EX",
                      INST: "INST", OBJ: "OBJ", BUILD: "BUILD", APPENDS: "APPENDS",
                      SETITEMS: "SETITEMS", ADDITEMS: "ADDITEMS", GLOBAL: "GLOBAL",
                      STACK_GLOBAL: "STACK_GLOBAL", EXT1: "EXT1", EXT2: "EXT2",
                      EXT4: "EXT4"}


cdef object _stream_offset(Unpickler u, Py_ssize_t back):
    """Offset in the stream of the byte `back` bytes before the next unread
    one: exact for in-memory input; for a file, from its tell()."""
    cdef Py_ssize_t pos = u._pos - back
    if u._file_read is None:
        return pos if pos >= 0 else None
    f = (<SafeUnpickler>u)._src_file if isinstance(u, SafeUnpickler) else None
    if f is None:
        return None
    try:
        tell = f.tell()
    except Exception:
        return None
    if u._peeked:
        return tell + pos
    return tell - (u._buflen - u._pos) - back


cdef Py_ssize_t _line_pair_len(object module, object name) except -1:
    """Bytes from a GLOBAL/INST opcode to the end of its two name lines."""
    return (len((<str>module).encode("utf-8", "surrogatepass")) +
            len((<str>name).encode("utf-8", "surrogatepass")) + 3)


cdef object _home_name(object obj, str name):
    """The name pickle writes for *obj* (``__module__.__qualname__``) when
    it differs from *name* (pandas 2 writes pandas.core.frame.DataFrame for
    the class pandas 3 writes as pandas.DataFrame) and leads to the very
    same object through module and class __dict__s; else None."""
    if not isinstance(obj, type) and type(obj) not in _CALLABLE_TYPES:
        return None
    mod = getattr(obj, "__module__", None)
    qn = getattr(obj, "__qualname__", None)
    if not isinstance(mod, str) or not isinstance(qn, str) or "<" in qn:
        return None
    home = mod + "." + qn
    if home == name or _resolve_name(home) is not obj:
        return None
    return home


cdef str _describe(object obj):
    mod = getattr(obj, "__module__", None)
    qn = getattr(obj, "__qualname__", None)
    if isinstance(mod, str) and isinstance(qn, str):
        return "%s.%s" % (mod, qn)
    return "a %s object" % type(obj).__name__


# ---------------------------------------------------------------------------
# The never-allowed set

# Modules (and their submodules) whose callables can run code, import,
# touch files, processes or the network, or load pickles: never allowed,
# even by name, without unsafe_allow_code_execution.
NEVER_ALLOWED_MODULES = frozenset("""
    os posix nt posixpath ntpath sys subprocess _posixsubprocess _winapi
    importlib _imp imp zipimport pkgutil runpy modulefinder
    marshal pickle _pickle pickletools pickler copyreg shelve dbm dill
    cloudpickle joblib io _io codecs _codecs fileinput tempfile shutil glob
    ctypes _ctypes types inspect gc weakref _weakref operator _operator
    functools code codeop pdb bdb cProfile profile trace timeit doctest
    pydoc idlelib ensurepip venv pip setuptools distutils site sysconfig
    platform webbrowser socket _socket ssl _ssl select selectors asyncio
    multiprocessing _multiprocessing concurrent threading _thread signal
    pty tty termios fcntl resource mmap urllib http ftplib smtplib imaplib
    poplib nntplib telnetlib xmlrpc socketserver logging tarfile zipfile
    sqlite3 _sqlite3 _osx_support _aix_support lib2to3
    numpy.testing numpy.f2py numpy.distutils numpy.ctypeslib numpy.lib.format
    numpy.lib.npyio numpy.lib._npyio_impl numpy.lib._datasource
""".split())

# builtins that evaluate, import, reach attributes by name, do I/O or
# create classes and descriptors.
NEVER_ALLOWED_BUILTINS = frozenset("""
    eval exec compile getattr setattr delattr hasattr __import__ open input
    breakpoint globals locals vars dir help exit quit print super type
    classmethod staticmethod property memoryview __build_class__ __loader__
    __spec__ __builtins__ id hash iter next aiter anext callable isinstance
    issubclass format repr ascii
""".split())

# A few names outside those modules that run code or read files.
NEVER_ALLOWED_NAMES = frozenset("""
    numpy.load numpy.save numpy.savez numpy.savez_compressed numpy.fromfile
    numpy.loadtxt numpy.genfromtxt numpy.memmap numpy.fromregex
    numpy.core.memmap numpy._core.memmap numpy.lib.utils.runstring
    pandas.read_pickle pandas.io.pickle.read_pickle pandas.eval pandas.read_csv
    uuid._get_command_stdout uuid._popen
""".split())


cdef str _never_reason(str module, str qualname, object obj):
    """Why (module, qualname) -> obj may never be allowed, or None."""
    if module == "builtins" and qualname in NEVER_ALLOWED_BUILTINS:
        return "builtins.%s can run code or reach arbitrary attributes" % qualname
    full = module + "." + qualname
    if full in NEVER_ALLOWED_NAMES:
        return "%s runs code or reads files" % full
    for part in qualname.split("."):
        if part.startswith("__") and part.endswith("__"):
            return "dunder attributes (%s) are never allowed" % full
    for name in (module, full):
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            if ".".join(parts[:i]) in NEVER_ALLOWED_MODULES:
                if not (module == "copyreg" and qualname == "_reconstructor") and \
                        not (module == "_codecs" and qualname == "encode"):
                    return "module %s can run code, import or do I/O" % ".".join(parts[:i])
    if obj is not None:
        if isinstance(obj, _types.ModuleType):
            return "modules are never allowed"
        omod = getattr(obj, "__module__", None)
        if isinstance(omod, str) and omod != module:
            # An alias: judge the object by where it really lives.
            oqn = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
            if isinstance(oqn, str):
                r = _never_reason(omod, oqn, None)
                if r is not None:
                    return r
        for x in _NEVER_OBJECTS:
            if obj is x:
                return "%s can run code" % full
    return None


cdef tuple _NEVER_OBJECTS = tuple(
    getattr(__builtins__, n) if not isinstance(__builtins__, dict) else __builtins__[n]
    for n in ("eval", "exec", "compile", "getattr", "setattr", "delattr",
              "__import__", "open", "input", "breakpoint", "globals", "locals",
              "vars", "type", "super", "print"))


cdef enum:
    # argument rules of the allowlist entries (see _apply_rule)
    R_NONE = 0
    R_ANY = 1
    R_ARRAY_RECONSTRUCTOR = 2
    R_BYTEARRAY = 3
    R_BYTES = 4
    R_CODECS_ENCODE = 5
    R_CONTAINER = 6
    R_DECIMAL = 7
    R_DEFAULTDICT = 8
    R_EMPTY = 9
    R_FRACTION = 10
    R_INTS = 11
    R_NO_KWARGS_NUMBERS = 12
    R_NP_DTYPE = 13
    R_NP_FROMBUFFER = 14
    R_NP_RECONSTRUCT = 15
    R_NP_SCALAR = 16
    R_PATH = 17
    R_PD_INDEX_CTOR = 18
    R_PD_NDARRAY_BACKED = 19
    R_RECONSTRUCTOR = 20
    R_REFUSE_CALL = 21
    R_SLICE = 22
    R_STR_ONLY = 23
    R_STRS = 24
    R_PYTZ = 100
    R_ZONEINFO = 25


# ---------------------------------------------------------------------------
# Argument rules, C functions selected by the R_* code of an entry (see
# _apply_rule): called with args (a tuple) and kwargs (a dict or None);
# return None to accept or a reason string to refuse.

cdef bint _python_code(object f) except -1:
    """f is a function or method written in Python."""
    return type(f) is _types.FunctionType or (type(f) is _types.MethodType and
                                              type(f.__func__) is _types.FunctionType)


cdef tuple _C_METHOD_TYPES = (_types.MethodDescriptorType, _types.WrapperDescriptorType)


cdef bint _all_ints(tuple seq) noexcept:
    for x in seq:
        if type(x) is not int:
            return False
    return True


cdef bint _all_types(object seq, tuple types):
    for x in seq:
        if type(x) not in types:
            return False
    return True


cdef object _rule_no_kwargs_numbers(tuple args, object kwargs):
    if kwargs:
        return "keyword arguments"
    if not _all_types(args, (int, float, bool)):
        return "arguments must be numbers"
    return None


cdef object _rule_ints(tuple args, object kwargs):
    if kwargs or not _all_types(args, (int, bool)):
        return "arguments must be ints"
    return None


cdef object _rule_slice(tuple args, object kwargs):
    if kwargs or not _all_types(args, (int, bool, type(None))):
        return "arguments must be ints or None"
    return None


cdef object _rule_str_only(tuple args, object kwargs):
    if kwargs or not _all_types(args, (str,)) or len(args) > 1:
        return "only one str argument"
    return None


cdef object _rule_strs(tuple args, object kwargs):
    if kwargs or not _all_types(args, (str,)):
        return "arguments must be str"
    return None


cdef object _rule_empty(tuple args, object kwargs):
    if args or kwargs:
        return "no arguments allowed"
    return None


cdef object _rule_container(tuple args, object kwargs):
    if kwargs or len(args) > 1:
        return "at most one argument"
    if args and type(args[0]) not in (list, tuple, dict, set, frozenset, str, bytes):
        return "the argument must be a built-in container"
    return None


cdef object _rule_bytes(tuple args, object kwargs):
    if kwargs:
        return "keyword arguments"
    if args == () or (len(args) == 1 and type(args[0]) in (bytes, bytearray)):
        return None
    return "bytes() only of bytes (protocols 0-2 use _codecs.encode)"


cdef object _rule_bytearray(tuple args, object kwargs):
    if kwargs:
        return "keyword arguments"
    if args == () or (len(args) == 1 and type(args[0]) in (bytes, bytearray)):
        return None
    if (len(args) == 2 and type(args[0]) is str and type(args[1]) is str
            and args[1] in ("latin-1", "latin1")):
        return None
    return "bytearray() only of bytes or (str, 'latin-1')"


cdef object _rule_codecs_encode(tuple args, object kwargs):
    if (not kwargs and len(args) == 2 and type(args[0]) is str
            and type(args[1]) is str and args[1] == "latin1"):
        return None
    return "_codecs.encode only as pickle writes bytes: (str, 'latin1')"


cdef object _rule_decimal(tuple args, object kwargs):
    if kwargs or len(args) != 1 or type(args[0]) not in (str, int):
        return "Decimal only of one str or int"
    return None


cdef object _rule_fraction(tuple args, object kwargs):
    # Fraction('1e999999999') computes 10**999999999: only the form
    # str(Fraction) writes ('-n/d') and ints.
    if kwargs or not 1 <= len(args) <= 2:
        return "Fraction only of one str or two ints"
    if len(args) == 2 or type(args[0]) is int:
        if not _all_types(args, (int,)):
            return "Fraction only of one str or two ints"
        return None
    s = args[0]
    if type(s) is not str or len(s) > 10000:
        return "Fraction only of 'n/d' text"
    body = s[1:] if s[:1] == "-" else s
    num, _, den = body.partition("/")
    if not (num.isdigit() and num.isascii()) or (den and not (den.isdigit() and den.isascii())):
        return "Fraction only of 'n/d' text"
    return None


cdef object _rule_defaultdict(tuple args, object kwargs):
    if kwargs or len(args) > 1:
        return "defaultdict only of a default factory"
    if args and args[0] is not None and not isinstance(args[0], type):
        return "the default factory must be None or an allowed class"
    return None


cdef object _rule_reconstructor(tuple args, object kwargs):
    # copyreg._reconstructor(cls, base, state): base.__new__(cls, state) and
    # base.__init__(obj, state); cls and base are checked as allowed classes
    # by the generic argument check.
    if kwargs or len(args) != 3 or not isinstance(args[0], type) or not isinstance(args[1], type):
        return "_reconstructor(cls, base, state) with classes"
    if not issubclass(args[0], args[1]):
        return "cls is not a subclass of base"
    if _python_code(getattr(args[1], "__new__", None)) or \
            _python_code(getattr(args[1], "__init__", None)):
        return "base must be a built-in type"
    return None


cdef object _rule_array_reconstructor(tuple args, object kwargs):
    import array
    if kwargs or len(args) != 4 or not isinstance(args[0], type) or \
            not issubclass(args[0], array.array):
        return "_array_reconstructor only of array classes"
    return None


cdef object _rule_path(tuple args, object kwargs):
    if kwargs or not _all_types(args, (str,)):
        return "path parts must be str"
    return None


cdef object _rule_refuse_call(tuple args, object kwargs):
    return "this class is only reconstructed, never called"


cdef object _rule_any(tuple args, object kwargs):
    return None


# ---------------------------------------------------------------------------
# Allowlists

cdef class Allowlist:
    """An immutable list of allowed globals, combinable with ``+``.

    Entries are ``(name, source, rule, flags)``: *name* is the
    ``"module.qualname"`` a pickle uses, *source* the object or the
    ``"module.qualname"`` it is resolved from (numpy's two module spellings
    name one object), *rule* an argument-rule code (R_*, internal) or None,
    *flags* a set of ``"build-subclasses"``.  Users combine the ready-made
    ones, with each other or with classes, functions and names:
    ``pickler.safe.numpy + pickler.safe.pandas``,
    ``pickler.safe.numpy + (MyClass, "mymod.MyOther")``, or pass a tuple:
    ``allow=(pickler.safe.numpy, MyClass, "mymod.MyOther")``.
    """

    cdef readonly tuple entries
    cdef readonly str label
    cdef object _compiled      # SafePolicy once compiled (without the opt-out)

    def __init__(self, entries=(), label="allowlist"):
        self.entries = tuple(entries)
        self.label = label
        self._compiled = None

    def __add__(self, other):
        # Cython passes the operands in order, either may be the Allowlist
        if not isinstance(self, Allowlist):
            return Allowlist(_flatten(self), "extra") + other
        if isinstance(other, Allowlist):
            o = <Allowlist>other
        else:
            o = Allowlist(_flatten(other), "extra")
        seen = {e[0] for e in (<Allowlist>self).entries}
        return Allowlist((<Allowlist>self).entries +
                         tuple(e for e in o.entries if e[0] not in seen),
                         "%s + %s" % ((<Allowlist>self).label, o.label))

    def __radd__(self, other):
        return Allowlist(_flatten(other), "extra") + self

    def __iter__(self):
        return iter(e[0] for e in self.entries)

    def __len__(self):
        return len(self.entries)

    def __contains__(self, name):
        return any(e[0] == name for e in self.entries)

    def __repr__(self):
        return "<Allowlist %s: %d names>" % (self.label, len(self.entries))


def _entry(name, source=None, rule=None, flags=()):
    return (name, source if source is not None else name, rule, frozenset(flags))


cdef object _resolve_name(str dotted):
    """The object a "module.qualname" string names, found through the
    module's own __dict__ (never a module __getattr__), or None."""
    parts = dotted.split(".")
    for i in range(len(parts) - 1, 0, -1):
        modname = ".".join(parts[:i])
        mod = sys.modules.get(modname)
        if mod is None:
            try:
                mod = _importlib.import_module(modname)
            except ImportError:
                continue
            except Exception:
                return None
        obj = mod
        for part in parts[i:]:
            d = getattr(obj, "__dict__", None)
            if d is None or part not in d:
                return None
            raw = d[part]
            if isinstance(raw, (classmethod, staticmethod, _types.ClassMethodDescriptorType)):
                raw = getattr(obj, part)      # bound to its class, as pickled
            obj = raw
        return obj
    return None


# The default set: plain value types of the standard library.  Each is safe
# to construct with any arguments its rule lets through: constructing it
# runs only its own C or pure-Python value code, imports nothing, touches no
# file and calls nothing taken from the stream (docs/security.md, "The
# default set").
DEFAULT = Allowlist([
    _entry("builtins.set", rule=R_CONTAINER),
    _entry("builtins.frozenset", rule=R_CONTAINER),
    _entry("builtins.list", rule=R_CONTAINER),
    _entry("builtins.tuple", rule=R_CONTAINER),
    _entry("builtins.dict", rule=R_CONTAINER),
    _entry("builtins.complex", rule=R_NO_KWARGS_NUMBERS),
    _entry("builtins.int", rule=R_INTS),
    _entry("builtins.float", rule=R_NO_KWARGS_NUMBERS),
    _entry("builtins.bool", rule=R_INTS),
    _entry("builtins.str", rule=R_STR_ONLY),
    _entry("builtins.bytes", rule=R_BYTES),
    _entry("builtins.bytearray", rule=R_BYTEARRAY),
    _entry("builtins.range", rule=R_INTS),
    _entry("builtins.slice", rule=R_SLICE),
    _entry("builtins.object", rule=R_EMPTY),
    _entry("builtins.Ellipsis"),
    _entry("builtins.NotImplemented"),
    _entry("copyreg._reconstructor", rule=R_RECONSTRUCTOR),
    _entry("_codecs.encode", rule=R_CODECS_ENCODE),
    _entry("collections.OrderedDict", rule=R_CONTAINER),
    _entry("collections.deque", rule=R_ANY),
    _entry("collections.Counter", rule=R_CONTAINER),
    _entry("collections.defaultdict", rule=R_DEFAULTDICT),
    _entry("datetime.date", rule=R_ANY),
    _entry("datetime.time", rule=R_ANY),
    _entry("datetime.datetime", rule=R_ANY),
    _entry("datetime.timedelta", rule=R_ANY),
    _entry("datetime.timezone", rule=R_ANY),
    _entry("decimal.Decimal", rule=R_DECIMAL),
    _entry("fractions.Fraction", rule=R_FRACTION),
    _entry("uuid.UUID", rule=R_ANY),
    _entry("uuid.SafeUUID", rule=R_ANY),
    _entry("array.array", rule=R_ANY),
    _entry("array._array_reconstructor", rule=R_ARRAY_RECONSTRUCTOR),
    _entry("pathlib.PurePosixPath", rule=R_PATH),
    _entry("pathlib.PureWindowsPath", rule=R_PATH),
    # Python 3.13 moved them (and pickles name) to pathlib._local
    _entry("pathlib._local.PurePosixPath", rule=R_PATH),
    _entry("pathlib._local.PureWindowsPath", rule=R_PATH),
], "default")


cdef class _PtrMap:
    """Identity table (see _safe.pxd)."""

    def __cinit__(self):
        self._mask = 63
        self._keys = <void **>PyMem_Calloc(64, sizeof(void *))
        self._vals = <int *>PyMem_Calloc(64, sizeof(int))
        if self._keys == NULL or self._vals == NULL:
            raise MemoryError()

    def __dealloc__(self):
        PyMem_Free(self._keys)
        PyMem_Free(self._vals)

    cdef int get(self, void *key) noexcept:
        cdef size_t x = <size_t>key
        cdef Py_ssize_t i = <Py_ssize_t>(((x >> 4) ^ (x >> 13)) & <size_t>self._mask)
        while self._keys[i] != NULL:
            if self._keys[i] == key:
                return self._vals[i]
            i = (i + 1) & self._mask
        return -1

    cdef int set(self, void *key, int value) except -1:
        cdef size_t x = <size_t>key
        cdef Py_ssize_t i, n, j
        cdef void **old_keys
        cdef int *old_vals
        if (self._used + 1) * 2 > self._mask + 1:
            old_keys, old_vals, n = self._keys, self._vals, self._mask + 1
            self._keys = <void **>PyMem_Calloc(n * 2, sizeof(void *))
            self._vals = <int *>PyMem_Calloc(n * 2, sizeof(int))
            if self._keys == NULL or self._vals == NULL:
                PyMem_Free(self._keys)
                PyMem_Free(self._vals)
                self._keys, self._vals = old_keys, old_vals
                raise MemoryError()
            self._mask = n * 2 - 1
            self._used = 0
            for j in range(n):
                if old_keys[j] != NULL:
                    self.set(old_keys[j], old_vals[j])
            PyMem_Free(old_keys)
            PyMem_Free(old_vals)
        i = <Py_ssize_t>(((x >> 4) ^ (x >> 13)) & <size_t>self._mask)
        while self._keys[i] != NULL and self._keys[i] != key:
            i = (i + 1) & self._mask
        if self._keys[i] == NULL:
            self._used += 1
        self._keys[i] = key
        self._vals[i] = value
        return 0


cdef bint _callable_kind(object a) noexcept:
    """a is a class, function, method or method descriptor."""
    cdef PyTypeObject *t = Py_TYPE(a)
    cdef int i
    if PyType_Check(a):
        return True
    for i in range(_n_callable_types):
        if t == _callable_type_ptrs[i]:
            return True
    return False


cdef frozenset _CALLABLE_TYPES = frozenset((
    _types.FunctionType, _types.BuiltinFunctionType, _types.MethodType,
    _types.BuiltinMethodType, _types.MethodWrapperType, _types.WrapperDescriptorType,
    _types.MethodDescriptorType, _types.ClassMethodDescriptorType))
cdef PyTypeObject *_callable_type_ptrs[16]
cdef int _n_callable_types = 0
for _t in _CALLABLE_TYPES:
    _callable_type_ptrs[_n_callable_types] = <PyTypeObject *>_t
    _n_callable_types += 1
del _t
cdef object _NO_RULE = object()   # allowed callable, any arguments
cdef dict _policy_cache = {}      # allow value -> SafePolicy


cdef SafePolicy _policy_for(object allow, object unsafe):
    """The compiled policy for an ``allow=`` value (cached when hashable)."""
    cdef Allowlist al
    if not unsafe:
        if isinstance(allow, Allowlist):
            al = <Allowlist>allow
            if al._compiled is None:
                al._compiled = SafePolicy(allow, ())
            return <SafePolicy>al._compiled
        try:
            p = _policy_cache.get(allow)
        except TypeError:
            return SafePolicy(allow, ())
        if p is None:
            p = SafePolicy(allow, ())
            if len(_policy_cache) > 64:
                _policy_cache.clear()
            _policy_cache[allow] = p
        return <SafePolicy>p
    return SafePolicy(allow, unsafe)


cdef list _flatten(object allow):
    """Entries of an ``allow=`` value: an Allowlist, an object, a
    "module.qualname" string, or a tuple/list of those."""
    out = []
    if allow is None:
        return out
    if isinstance(allow, Allowlist):
        out.extend((<Allowlist>allow).entries)
    elif isinstance(allow, str):
        if "." not in allow:
            raise ValueError("allow entry %r is not a 'module.qualname' name" % allow)
        out.append(_entry(allow))
    elif isinstance(allow, (tuple, list, set, frozenset)):
        for item in allow:
            out.extend(_flatten(item))
    else:
        mod = getattr(allow, "__module__", None)
        qn = getattr(allow, "__qualname__", None)
        if not isinstance(mod, str) or not isinstance(qn, str):
            raise TypeError("allow entry %r has no __module__/__qualname__: "
                            "give it as a 'module.qualname' string" % (allow,))
        out.append(_entry("%s.%s" % (mod, qn), allow, _NO_RULE))
    return out


@cython.final
cdef class SafePolicy(LoadPolicy):
    """A compiled allowlist (the default set plus *allow*)."""

    def __init__(self, allow=(), unsafe=()):
        self._names = {}
        self._by_module = {}
        self._calls = _PtrMap()
        self._build = _PtrMap()
        self._setitem = {}
        self._keep = []
        bases = []
        unsafe_entries = _flatten(unsafe)
        unsafe_names = {e[0] for e in unsafe_entries}
        entries = []
        for e in list(DEFAULT.entries) + _flatten(allow) + unsafe_entries:
            if isinstance(e[1], _DTypeClasses):
                entries.extend(e[1].expand())
            else:
                entries.append(e)
        for name, source, rule, flags in entries:
            if name in self._names:
                if rule is not _NO_RULE:
                    continue
                # an object given by the caller: any arguments
            if name not in unsafe_names:
                # by name first: a never-allowed module is not even imported
                reason = self._never_full(name, None)
                if reason is not None:
                    raise ValueError(
                        "%s is never allowed (%s); if you really mean to let the "
                        "pickle run it, pass it in unsafe_allow_code_execution=" % (name, reason))
            obj = source
            if isinstance(source, _Spellings):
                obj = source.resolve()
                if obj is None:
                    continue
            elif isinstance(source, str):
                obj = _resolve_name(source)
                if obj is None:
                    continue      # not installed here, or gone: stays refused
            if name not in unsafe_names:
                # checked at every module/qualname split of the name
                reason = self._never_full(name, obj)
                if reason is not None:
                    raise ValueError(
                        "%s is never allowed (%s); if you really mean to let the "
                        "pickle run it, pass it in unsafe_allow_code_execution=" % (name, reason))
            self._keep.append(obj)
            for n in (name, _home_name(obj, name)):
                if n is None:
                    continue
                self._names[n] = obj
                parts = n.split(".")
                for i in range(1, len(parts)):
                    # every module/qualname split of the whole name: the
                    # stream says where the module part ends, the object is
                    # the same
                    self._by_module.setdefault(".".join(parts[:i]), {})[".".join(parts[i:])] = obj
            if callable(obj):
                self._calls.set(<void *>obj, R_NONE if rule is None or rule is _NO_RULE or
                                rule == R_ANY else rule)
            if isinstance(obj, type):
                self._build.set(<void *>obj, 0)
                if "build-subclasses" in flags:
                    bases.append(obj)
        self._build_bases = tuple(bases)
        self.names = tuple(sorted(self._names))
        # bytes at protocols 0-2 (_codecs.encode, bytearray) use the latin-1
        # codec: look it up now, so that a load never imports its module.
        "".encode("latin-1")
        _codecs_lookup("latin-1")
        # builtins.getattr, as pickles of methods use it (getattr(cls,
        # 'name')), only reaches a name the allowlist has.
        ga = _SafeGetattr(self)
        self._names["builtins.getattr"] = ga
        self._by_module.setdefault("builtins", {})["getattr"] = ga
        self._keep.append(ga)
        self._calls.set(<void *>ga, R_NONE)

    cdef object _never_full(self, str name, object obj):
        # module/qualname split at every dot (the name's module part may
        # itself contain dots)
        parts = name.split(".")
        for i in range(1, len(parts)):
            r = _never_reason(".".join(parts[:i]), ".".join(parts[i:]), obj)
            if r is not None:
                return r
        return None

    def __repr__(self):
        return "<SafePolicy: %d names>" % len(self.names)

    def names_of(self, obj):
        """The allowed names of *obj*."""
        return [k for k, v in self._names.items() if v is obj]

    cdef int _refuse(self, Unpickler u, str what, str opname, Py_ssize_t back,
                     str reason, object module, object name) except -1:
        offset = _stream_offset(u, back)
        raise UnpicklingRefused(
            "refused %s (%s at offset %s): %s" % (what, opname, offset, reason),
            opcode=opname, offset=offset, module=module, name=name, reason=reason)

    cdef object find_global(self, Unpickler u, object module_name, object global_name):
        PySys_Audit("pickle.find_class", "OO", <PyObject *>module_name, <PyObject *>global_name)
        if isinstance(u, SafeUnpickler):
            # an INST refused later reports its offset from these
            (<SafeUnpickler>u)._last_module = module_name
            (<SafeUnpickler>u)._last_name = global_name
        raw_module, raw_name = module_name, global_name
        if u._proto < 3 and u._fix_imports:
            item = _compat_pickle.NAME_MAPPING.get((module_name, global_name))
            if item is not None:
                module_name, global_name = item
            else:
                item = _compat_pickle.IMPORT_MAPPING.get(module_name)
                if item is not None:
                    module_name = item
        d = self._by_module.get(module_name)
        if d is not None:
            obj = (<dict>d).get(global_name, _NO_RULE)
            if obj is not _NO_RULE:
                return obj
        # refused: which opcode asked, and where (the window still holds it)
        cdef Py_ssize_t back = 1
        cdef unsigned char last = 0
        if u._buf != NULL and u._pos >= 1:
            last = <unsigned char>u._buf[u._pos - 1]
        opname = "STACK_GLOBAL"
        if last != STACK_GLOBAL and type(raw_module) is str and type(raw_name) is str:
            back = _line_pair_len(raw_module, raw_name)
            opname = "GLOBAL"
            if u._buf != NULL and u._pos >= back and <unsigned char>u._buf[u._pos - back] == INST:
                opname = "INST"
        return self._lookup(u, module_name, global_name, opname, back)

    cdef object _lookup(self, Unpickler u, object module_name, object global_name,
                        str opname, Py_ssize_t back):
        if type(module_name) is not str or type(global_name) is not str:
            self._refuse(u, "a global with non-str names", opname, back,
                         "names must be str", None, None)
        key = "%s.%s" % (module_name, global_name)
        obj = self._names.get(key, _NO_RULE)
        if obj is _NO_RULE:
            reason = self._never_full(key, None)
            self._refuse(u, "global '%s'" % key, opname, back,
                         "never allowed: " + reason if reason is not None
                         else "not in the allowlist", module_name, global_name)
        return obj

    cdef object extension(self, Unpickler u, long code, int nbytes):
        opname = "EXT%d" % nbytes
        pair = _copyreg._inverted_registry.get(code)
        if (type(pair) is not tuple or len(pair) != 2):
            self._refuse(u, "extension code %d" % code, opname, 1 + nbytes,
                         "not registered", None, None)
        return self._lookup(u, pair[0], pair[1], opname, 1 + nbytes)

    cdef int check_call(self, Unpickler u, int op, object func, object args,
                        object kwargs) except -1:
        cdef Py_ssize_t back = 1
        cdef int code = self._calls.get(<void *>func)
        if code == R_NONE or (code > 0 and _apply_rule(code, <tuple>args, kwargs) is None):
            if not _rule_types_all_args(code):
                self._check_callable_args(u, op, func, args, kwargs)
            return 0
        # refused: say where
        if op == INST and isinstance(u, SafeUnpickler):
            # INST: its opcode is before the two lines of the global's names
            back = _line_pair_len((<SafeUnpickler>u)._last_module,
                                  (<SafeUnpickler>u)._last_name)
        reason = "not an allowed callable" if code < 0 else \
            _apply_rule(code, <tuple>args, kwargs)
        return self._refuse(u, "calling %s" % _describe(func), _OPNAMES.get(op, "?"), back,
                            reason, None, None)

    cdef int _check_callable_args(self, Unpickler u, int op, object func,
                                  object args, object kwargs) except -1:
        # Classes and functions passed as arguments (a class to reconstruct,
        # a default factory) must be allowed themselves: an allowed callable
        # that calls its argument must not reach anything else.
        for a in <tuple>args:
            if _callable_kind(a) and self._calls.get(<void *>a) < 0:
                self._refuse(u, "calling %s with %s" % (_describe(func), _describe(a)),
                             _OPNAMES.get(op, "?"), 1 if op != INST else 0,
                             "argument is not an allowed callable",
                             None, None)
        if kwargs:
            for a in (<dict>kwargs).values():
                if _callable_kind(a) and self._calls.get(<void *>a) < 0:
                    self._refuse(u, "calling %s with %s" % (_describe(func), _describe(a)),
                                 _OPNAMES.get(op, "?"), 1,
                                 "argument is not an allowed callable", None, None)
        return 0

    cdef int check_build(self, Unpickler u, object inst, object state) except -1:
        t = type(inst)
        # classes, modules and functions never get state (their types are
        # never allowed; a metaclass someone allowed is caught here)
        if PyType_Check(inst) or t in _CALLABLE_TYPES or t is _types.ModuleType:
            return self._refuse(u, "BUILD on %s" % _describe(inst), "BUILD", 1,
                                "state is only applied to instances", None, None)
        cdef int info = self._build.get(<void *>t)
        if info < 0:
            if not (self._build_bases and isinstance(inst, self._build_bases)):
                return self._refuse(u, "BUILD on an instance of %s" % _describe(t), "BUILD",
                                    1, "its class is not allowed", None, None)
            self._keep.append(t)
            info = 0
        if info == 0:
            info = 1 if getattr(t, "__setstate__", None) is not None else 2
            self._build.set(<void *>t, info)
        if info == 1:
            if Py_TYPE(inst).tp_dictoffset == 0:
                return 0
            d = getattr(inst, "__dict__", None)
            if type(d) is dict and "__setstate__" in <dict>d:
                return self._refuse(u, "BUILD on %s" % _describe(t), "BUILD", 1,
                                    "instance shadows __setstate__", None, None)
            return 0
        slotstate = None
        if type(state) is tuple and len(<tuple>state) == 2:
            state, slotstate = state
        for d in (state, slotstate):
            if d is None:
                continue
            if type(d) is not dict:
                return self._refuse(u, "BUILD state of %s" % type(d).__name__, "BUILD", 1,
                                    "state must be a dict", None, None)
            for k in <dict>d:
                if type(k) is not str or ((<str>k).startswith("__") and (<str>k).endswith("__")):
                    return self._refuse(u, "BUILD attribute %r" % (k,), "BUILD", 1,
                                        "dunder and non-str attributes are never set",
                                        None, None)
        return 0

    cdef object _builtin_method(self, object target, str method, str opname):
        # The first C implementation of the method in the target's MRO
        # (list.extend, deque.extend, OrderedDict.__setitem__, ...),
        # provided its class is allowed (or is list/dict): never a method a
        # Python class defines, however the subclass overrides it.
        for base in type(target).__mro__:
            f = (<type>base).__dict__.get(method)
            if f is None:
                continue
            if type(f) in _C_METHOD_TYPES:
                if base is list or base is dict or self._calls.get(<void *>base) >= 0:
                    return f
                return None
        return None

    cdef object builtin_extend(self, Unpickler u, object target):
        f = self._builtin_method(target, "extend", "APPENDS")
        if f is None:
            self._refuse(u, "APPENDS to %s" % _describe(type(target)), "APPENDS", 1,
                         "only built-in list-like types are extended", None, None)
        return f

    cdef object builtin_setitem(self, Unpickler u, object target):
        t = type(target)
        f = self._setitem.get(id(t))
        if f is None:
            f = self._builtin_method(target, "__setitem__", "SETITEMS")
            if f is None:
                self._refuse(u, "SETITEMS on %s" % _describe(t), "SETITEMS", 1,
                             "only built-in mapping types are filled", None, None)
            self._setitem[id(t)] = f
            self._keep.append(t)
        return f

    cdef int check_additems(self, Unpickler u, object target) except -1:
        return self._refuse(u, "ADDITEMS to %s" % _describe(type(target)), "ADDITEMS", 1,
                            "only sets are filled", None, None)


class _SafeGetattr:
    """What builtins.getattr resolves to in a SafeUnpickler: getattr(cls,
    name) of an allowed class gives the allowed object "<cls>.<name>" and
    refuses any other name (it reads the allowlist, never the class)."""

    def __init__(self, policy):
        self.policy = policy

    def __call__(self, obj, name, *default):
        cdef SafePolicy p = self.policy
        if type(name) is str and not default and isinstance(obj, type) and \
                p._build.get(<void *>obj) >= 0:
            for base in p.names_of(obj):
                r = p._names.get(base + "." + name, _NO_RULE)
                if r is not _NO_RULE:
                    return r
        raise UnpicklingRefused(
            "refused getattr(%s, %r): only names the allowlist has" % (_describe(obj), name),
            opcode="REDUCE", reason="getattr only reaches allowed names")


# ---------------------------------------------------------------------------
# Public API

class _NoFile:
    """Stand-in file for safe_loads' in-memory input."""
    def read(self, n=-1):
        return b""

    def readline(self):
        return b""


cdef object _NOFILE = _NoFile()
cdef object _NO_BUFFERS = object()


# The class docstring carries its own text signature (up to the `--` line;
# it may span lines), as Unpickler's does, for inspect.signature().
@cython.embedsignature(False)
cdef class SafeUnpickler(Unpickler):
    """SafeUnpickler(file, *, allow=(), fix_imports=True, encoding='ASCII',
                  errors='strict', buffers=None, unsafe_allow_code_execution=())
--

    An Unpickler that loads only plain data and what *allow* names.

    *allow* is an Allowlist (``pickler.safe.numpy``, ``pickler.safe.pandas``,
    combined with ``+``), a class or function, a ``"module.qualname"``
    string, or a tuple of those.  A pickle that asks for anything else
    raises ``UnpicklingRefused`` (an ``UnpicklingError``) before that step
    runs.  ``unsafe_allow_code_execution`` lifts the never-allowed set for
    the entries it lists (they are allowed too): only for trusted data.
    """

    def __init__(self, file, *, allow=(), fix_imports=True, encoding="ASCII",
                 errors="strict", buffers=None, unsafe_allow_code_execution=()):
        policy = _policy_for(allow, unsafe_allow_code_execution)
        Unpickler.__init__(self, file, fix_imports=fix_imports, encoding=encoding,
                           errors=errors, buffers=buffers)
        self._policy = <SafePolicy>policy
        self._src_file = file if hasattr(file, "tell") else None

    def find_class(self, module_name, global_name, /):
        """The allowed object named (module_name, global_name); raises
        UnpicklingRefused for any other name.  Never imports."""
        return (<SafePolicy>self._policy)._lookup(self, module_name, global_name,
                                                  "find_class", 0)

    @property
    def allowed(self):
        """The names this unpickler allows (sorted)."""
        return (<SafePolicy>self._policy).names


def safe_load(file, /, *, allow=(), buffers=None, fix_imports=True,
              encoding="ASCII", errors="strict", unsafe_allow_code_execution=()):
    """Load a pickle from *file*, allowing only plain data and *allow*.

    See ``SafeUnpickler`` for *allow* and docs/security.md for what is
    allowed by default and what is never allowed.
    """
    return SafeUnpickler(file, allow=allow, buffers=buffers, fix_imports=fix_imports,
                         encoding=encoding, errors=errors,
                         unsafe_allow_code_execution=unsafe_allow_code_execution).load()


def safe_loads(data, /, *, allow=(), buffers=None, fix_imports=True,
               encoding="ASCII", errors="strict", unsafe_allow_code_execution=()):
    """Load a pickle from the bytes-like *data*, allowing only plain data
    and *allow* (see ``SafeUnpickler``).

    Raises ``UnpicklingRefused`` (a ``pickle.UnpicklingError``) naming the
    refused global or opcode and its offset, before that step runs.
    """
    global _spare
    cdef SafeUnpickler u = _spare
    cdef bint default_text = encoding == "ASCII" and errors == "strict"
    # One SafeUnpickler is kept between calls, as pickler.loads keeps its
    # Unpickler: its stack and memo arrays keep the size earlier loads grew
    # them to, and with the default text options it needs no __init__ (it
    # is left as __init__ leaves it, with no input).  A nested call finds
    # the spare taken and makes its own.
    if u is not None:
        _spare = None
    if u is not None and default_text:
        u._policy = _policy_for(allow, unsafe_allow_code_execution)
        u._fix_imports = bool(fix_imports)
        u._buffers = None if buffers is None else iter(buffers)
    else:
        if u is None:
            u = SafeUnpickler.__new__(SafeUnpickler)
        SafeUnpickler.__init__(u, _NOFILE, allow=allow, buffers=buffers,
                               fix_imports=fix_imports, encoding=encoding, errors=errors,
                               unsafe_allow_code_execution=unsafe_allow_code_execution)
    try:
        # In-memory input, as pickler.loads reads it: one buffer over *data*.
        release_input(u)
        u._src_file = None
        open_memory_input(u, data)
        return u.load()
    finally:
        release_input(u)
        u.memo = _EMPTY_MEMO       # drop the references the memo holds
        u._policy = None
        u._buffers = None
        u._proto = 0
        u._pers_func = None
        if default_text:           # keep only a spare with the default options
            _spare = u


cdef dict _EMPTY_MEMO = {}
cdef SafeUnpickler _spare = None     # reused by safe_loads when not in use


# ---------------------------------------------------------------------------
# Ready-made allowlists: numpy and pandas

cdef object _rule_np_dtype(tuple args, object kwargs):
    # dtype(str, align, copy) as numpy's reduce writes it: a str spec parses
    # without importing or calling anything.
    if kwargs or not 1 <= len(args) <= 3 or type(args[0]) is not str:
        return "numpy.dtype only of a str spec"
    if not _all_types(args[1:], (bool, int)):
        return "numpy.dtype flags must be bools"
    return None


cdef object _np = None
cdef object _np_dtype = None        # numpy.dtype, once a numpy rule ran
cdef object _np_ndarray = None
cdef object _dtype_ok = None       # the last dtype found to hold no objects


cdef object _numpy():
    global _np, _np_dtype, _np_ndarray
    if _np is None:
        import numpy
        _np_dtype = numpy.dtype
        _np_ndarray = numpy.ndarray
        _np = numpy
    return _np


cdef bint _plain_dtype(object d) except -1:
    """d is a numpy dtype without object fields."""
    global _dtype_ok
    if d is _dtype_ok:
        return True
    _numpy()
    if not isinstance(d, _np_dtype) or d.hasobject:
        return False
    _dtype_ok = d
    return True


cdef object _rule_np_reconstruct(tuple args, object kwargs):
    _numpy()
    if kwargs or len(args) != 3 or not isinstance(args[0], type) or \
            not issubclass(args[0], _np_ndarray):
        return "_reconstruct only of allowed array classes"
    if type(args[1]) is not tuple or not _all_ints(<tuple>args[1]) or \
            type(args[2]) not in (bytes, str):
        return "_reconstruct(cls, shape, typecode) only"
    return None


cdef object _rule_np_frombuffer(tuple args, object kwargs):
    if kwargs or len(args) != 4 or not _plain_dtype(args[1]):
        return "_frombuffer(buffer, dtype, shape, order) of a dtype without objects only"
    if type(args[2]) is not tuple or not _all_ints(<tuple>args[2]) or type(args[3]) is not str:
        return "_frombuffer(buffer, dtype, shape, order) only"
    return None


cdef object _rule_np_scalar(tuple args, object kwargs):
    _numpy()
    if kwargs or not 1 <= len(args) <= 2 or not isinstance(args[0], _np_dtype):
        return "scalar(dtype, data) only"
    if len(args) == 2 and type(args[1]) is not bytes and not args[0].hasobject:
        return "scalar data must be bytes"
    return None


cdef object _pd_index = None       # pandas.Index, once a pandas rule ran
cdef object _pd_ndbacked = None    # pandas._libs.arrays.NDArrayBacked


cdef int _pandas() except -1:
    global _pd_index, _pd_ndbacked
    if _pd_index is None:
        import pandas
        from pandas._libs.arrays import NDArrayBacked
        _pd_ndbacked = NDArrayBacked
        _pd_index = pandas.Index
    return 0


cdef object _rule_pd_index_ctor(tuple args, object kwargs):
    _pandas()
    if kwargs or len(args) != 2 or not isinstance(args[0], type) or \
            not issubclass(args[0], _pd_index) or type(args[1]) is not dict:
        return "only (allowed Index class, dict)"
    return None


cdef object _rule_pd_ndarray_backed(tuple args, object kwargs):
    _pandas()
    if kwargs or len(args) != 3 or not isinstance(args[0], type) or \
            not issubclass(args[0], _pd_ndbacked):
        return "only of allowed array classes"
    return None


cdef object _rule_pytz(tuple args, object kwargs):
    # pytz._p(zone, utcoffset, dstoffset, tzname): pytz.timezone(zone) only
    # opens zones its own database lists; the offsets are ints.
    if kwargs or not 1 <= len(args) <= 4 or _rule_zoneinfo(args[:1], None) is not None:
        return "pytz._p only of a zone key, offsets and a name"
    if not _all_types(args[1:3], (int, type(None))) or \
            (len(args) == 4 and type(args[3]) not in (str, type(None))):
        return "pytz._p only of a zone key, offsets and a name"
    return None


cdef object _rule_zoneinfo(tuple args, object kwargs):
    # ZoneInfo reads the time zone database by key: keys as the database
    # spells them (zoneinfo itself also rejects absolute and '..' paths).
    if kwargs or not 1 <= len(args) <= 2 or type(args[0]) is not str:
        return "ZoneInfo only of a key"
    key = args[0]
    if not key or len(key) > 255 or key.startswith("/") or ".." in key or not all(
            c.isascii() and (c.isalnum() or c in "_+-/") for c in key):
        return "not a time zone key"
    if len(args) == 2 and type(args[1]) not in (int, bool):
        return "ZoneInfo only of a key"
    return None


cdef list _numpy_entries():
    out = [
        _entry("numpy.ndarray", rule=R_REFUSE_CALL),
        _entry("numpy.dtype", rule=R_NP_DTYPE, flags=("build-subclasses",)),
    ]
    for core in ("numpy._core", "numpy.core"):
        # numpy 2 writes numpy._core, numpy 1 numpy.core: both names map to
        # the object of the installed numpy, never through numpy.core's
        # module __getattr__ shim.
        for name, rule in (("multiarray._reconstruct", R_NP_RECONSTRUCT),
                           ("multiarray.scalar", R_NP_SCALAR),
                           ("numeric._frombuffer", R_NP_FROMBUFFER)):
            out.append(_entry("%s.%s" % (core, name),
                              _Spellings("numpy._core.%s" % name, "numpy.core.%s" % name),
                              rule))
    out.append(_entry("numpy.dtypes.*", _DTypeClasses(), R_ANY))
    return out


class _DTypeClasses:
    """The numpy.dtypes.*DType classes of the installed numpy (listed when
    the allowlist is compiled, so that importing pickler imports no numpy)."""

    def expand(self):
        try:
            import numpy.dtypes as nd
        except ImportError:
            return []
        return [_entry("numpy.dtypes." + n, rule=R_ANY)
                for n in sorted(vars(nd)) if n.endswith("DType")]


class _Spellings:
    """Where a numpy name is resolved from: the first of several spellings
    that exists in the installed numpy."""
    def __init__(self, *names):
        self.names = names

    def resolve(self):
        for n in self.names:
            obj = _resolve_name(n)
            if obj is not None:
                return obj
        return None


NUMPY = Allowlist(_numpy_entries(), "numpy")

_PANDAS_CLASSES = """
    pandas.DataFrame pandas.Series pandas.Index pandas.RangeIndex pandas.MultiIndex
    pandas.DatetimeIndex pandas.TimedeltaIndex pandas.PeriodIndex pandas.IntervalIndex
    pandas.CategoricalIndex pandas.Categorical pandas.Interval pandas.Period
    pandas.CategoricalDtype pandas.DatetimeTZDtype pandas.PeriodDtype pandas.IntervalDtype
    pandas.SparseDtype pandas.StringDtype pandas.BooleanDtype pandas.Int8Dtype
    pandas.Int16Dtype pandas.Int32Dtype pandas.Int64Dtype pandas.UInt8Dtype
    pandas.UInt16Dtype pandas.UInt32Dtype pandas.UInt64Dtype pandas.Float32Dtype
    pandas.Float64Dtype pandas.ArrowDtype
    pandas.arrays.BooleanArray pandas.arrays.DatetimeArray pandas.arrays.IntegerArray
    pandas.arrays.FloatingArray pandas.arrays.PeriodArray pandas.arrays.SparseArray
    pandas.arrays.StringArray pandas.arrays.TimedeltaArray pandas.arrays.IntervalArray
    pandas.arrays.NumpyExtensionArray
    pandas.core.internals.managers.BlockManager
    pandas.core.internals.managers.SingleBlockManager
    pandas._libs.sparse.IntIndex pandas._libs.sparse.BlockIndex
    pandas._libs.tslibs.offsets.BusinessDay pandas._libs.tslibs.offsets.Day
    pandas._libs.tslibs.offsets.Hour pandas._libs.tslibs.offsets.Minute
    pandas._libs.tslibs.offsets.Second pandas._libs.tslibs.offsets.Milli
    pandas._libs.tslibs.offsets.Micro pandas._libs.tslibs.offsets.Nano
    pandas._libs.tslibs.offsets.MonthEnd pandas._libs.tslibs.offsets.MonthBegin
    pandas._libs.tslibs.offsets.YearEnd pandas._libs.tslibs.offsets.YearBegin
    pandas._libs.tslibs.offsets.QuarterEnd pandas._libs.tslibs.offsets.QuarterBegin
    pandas._libs.tslibs.offsets.Week pandas._libs.tslibs.offsets.DateOffset
    pandas._libs.tslibs.offsets.BusinessMonthEnd pandas._libs.tslibs.offsets.BusinessHour
""".split()


cdef list _pandas_entries():
    out = list(NUMPY.entries)
    out += [_entry(n, rule=R_ANY) for n in _PANDAS_CLASSES]
    out += [
        _entry("pandas.NA"), _entry("pandas.NaT"),
        _entry("pandas._libs.missing.NA"),
        _entry("pandas._libs.arrays.__pyx_unpickle_NDArrayBacked",
               "pandas._libs.arrays.__pyx_unpickle_NDArrayBacked", R_PD_NDARRAY_BACKED),
        _entry("pandas._libs.internals._unpickle_block", rule=R_ANY),
        _entry("pandas._libs.tslibs.nattype._nat_unpickle", rule=R_ANY),
        _entry("pandas._libs.tslibs.nattype.__nat_unpickle", rule=R_ANY),   # pandas 2
        _entry("pandas._libs.tslibs.timedeltas._timedelta_unpickle", rule=R_ANY),
        _entry("pandas._libs.tslibs.timestamps._unpickle_timestamp", rule=R_ANY),
        _entry("pandas.core.indexes.base._new_Index", rule=R_PD_INDEX_CTOR),
        _entry("pandas.core.indexes.datetimes._new_DatetimeIndex", rule=R_PD_INDEX_CTOR),
        _entry("pandas.core.indexes.interval._new_IntervalIndex", rule=R_PD_INDEX_CTOR),
        _entry("pandas.core.indexes.period._new_PeriodIndex", rule=R_PD_INDEX_CTOR),
        _entry("zoneinfo.ZoneInfo", rule=R_ZONEINFO),
        _entry("zoneinfo.ZoneInfo._unpickle", rule=R_ZONEINFO),
        # pandas 2 keeps time zones as pytz objects
        _entry("pytz._p", rule=R_PYTZ),
        _entry("pytz._UTC", rule=R_EMPTY),
        # Arrow-backed arrays: pandas 3 stores every string column this way
        # when pyarrow is installed (and any "...[pyarrow]" dtype).  Their
        # pickles rebuild pyarrow arrays from the stream's buffers; the
        # rebuilt array is validated in full before pandas sees it.
        _entry("pandas.arrays.ArrowStringArray", rule=R_ANY),
        _entry("pandas.arrays.ArrowExtensionArray", rule=R_ANY),
        _entry("pandas.core.arrays.string_arrow.ArrowStringArrayNumpySemantics", rule=R_ANY),
        _entry("pyarrow.lib.type_for_alias", rule=R_STR_ONLY),
        _entry("pyarrow.lib.py_buffer", rule=R_ANY),
        _entry("pyarrow.lib._restore_array", _ValidatedArrowRestore("pyarrow.lib._restore_array"),
               R_ANY),
    ]
    return out


class _ValidatedArrowRestore(_Spellings):
    """pyarrow.lib._restore_array behind a full validation.

    _restore_array builds an arrow array from the type, lengths, offsets
    and buffers a pickle gives, trusting them; a crafted stream could then
    make later reads (by pandas or arrow kernels) go past a buffer's end.
    The allowed object is a function that rebuilds the array the same way
    and then runs arrow's full validation (offsets within their buffers,
    lengths, UTF-8 of strings), raising pickle.UnpicklingError before the
    array is used."""

    def resolve(self):
        restore = _Spellings.resolve(self)
        if restore is None:
            return None

        def _restore_array(data):
            arr = restore(data)
            try:
                arr.validate(full=True)
            except Exception as exc:
                raise _pickle_mod.UnpicklingError(
                    "invalid arrow array in the pickle: %s" % exc) from exc
            return arr

        # The name pickles use for it, so that the policy's name checks and
        # error messages speak of the function the stream asked for.
        _restore_array.__module__ = "pyarrow.lib"
        _restore_array.__qualname__ = "_restore_array"
        return _restore_array


PANDAS = Allowlist(_pandas_entries(), "pandas")


cdef inline bint _rule_types_all_args(int code) noexcept:
    """Rule *code* accepts only arguments of listed plain types (or, for
    _frombuffer, a buffer it never calls), so no argument can be a callable
    to check."""
    return (code == R_NP_FROMBUFFER or code == R_NP_DTYPE or code == R_CODECS_ENCODE or
            code == R_INTS or code == R_NO_KWARGS_NUMBERS or code == R_SLICE or
            code == R_STR_ONLY or code == R_STRS or code == R_EMPTY or code == R_BYTES or
            code == R_BYTEARRAY or code == R_DECIMAL or code == R_FRACTION or code == R_PATH)


cdef object _apply_rule(int code, tuple args, object kwargs):
    """Run argument rule *code*: None to accept, else the reason to refuse."""
    if code == R_NONE:
        return None
    elif code == R_PYTZ:
        return _rule_pytz(args, kwargs)
    elif code == R_ANY:
        return _rule_any(args, kwargs)
    elif code == R_ARRAY_RECONSTRUCTOR:
        return _rule_array_reconstructor(args, kwargs)
    elif code == R_BYTEARRAY:
        return _rule_bytearray(args, kwargs)
    elif code == R_BYTES:
        return _rule_bytes(args, kwargs)
    elif code == R_CODECS_ENCODE:
        return _rule_codecs_encode(args, kwargs)
    elif code == R_CONTAINER:
        return _rule_container(args, kwargs)
    elif code == R_DECIMAL:
        return _rule_decimal(args, kwargs)
    elif code == R_DEFAULTDICT:
        return _rule_defaultdict(args, kwargs)
    elif code == R_EMPTY:
        return _rule_empty(args, kwargs)
    elif code == R_FRACTION:
        return _rule_fraction(args, kwargs)
    elif code == R_INTS:
        return _rule_ints(args, kwargs)
    elif code == R_NO_KWARGS_NUMBERS:
        return _rule_no_kwargs_numbers(args, kwargs)
    elif code == R_NP_DTYPE:
        return _rule_np_dtype(args, kwargs)
    elif code == R_NP_FROMBUFFER:
        return _rule_np_frombuffer(args, kwargs)
    elif code == R_NP_RECONSTRUCT:
        return _rule_np_reconstruct(args, kwargs)
    elif code == R_NP_SCALAR:
        return _rule_np_scalar(args, kwargs)
    elif code == R_PATH:
        return _rule_path(args, kwargs)
    elif code == R_PD_INDEX_CTOR:
        return _rule_pd_index_ctor(args, kwargs)
    elif code == R_PD_NDARRAY_BACKED:
        return _rule_pd_ndarray_backed(args, kwargs)
    elif code == R_RECONSTRUCTOR:
        return _rule_reconstructor(args, kwargs)
    elif code == R_REFUSE_CALL:
        return _rule_refuse_call(args, kwargs)
    elif code == R_SLICE:
        return _rule_slice(args, kwargs)
    elif code == R_STR_ONLY:
        return _rule_str_only(args, kwargs)
    elif code == R_STRS:
        return _rule_strs(args, kwargs)
    elif code == R_ZONEINFO:
        return _rule_zoneinfo(args, kwargs)
    return None
