# cython: language_level=3
"""PyImport_Import without the cost of calling __import__ for a module that
is already imported.

Both picklers resolve globals by module name: the Pickler's save_global
checks that ``module.qualname`` is the object it pickles, the Unpickler's
find_class fetches it.  CPython's C pickler calls ``PyImport_Import(name)``
for each of these, which calls the running frame's ``__import__`` with a
``fromlist`` and then reads ``sys.modules[name]``.  For a module that is
already imported that call has no effect beyond the lookup, yet it costs
about a microsecond (argument parsing, name resolution, the package check
and, for packages, importlib's ``_handle_fromlist`` in Python): as much as
the rest of pickling a small numpy array or a datetime.

``import_module`` returns the same module without the call when the call
could not do anything else:

* the running frame's ``__builtins__`` holds the interpreter's own
  ``__import__`` (an import hook installed by replacing it is always called,
  as PyImport_Import calls it);
* ``sys.modules`` already holds the module.  ``PyImport_GetModule`` reads
  it as the import system does: it waits, as ``__import__`` would, for a
  module another thread is still initializing.

Anything else (no Python frame, a replaced ``__import__``, a module not yet
imported, ``None`` in ``sys.modules``) goes through ``PyImport_Import``, so
imports, import errors and their exception types are the C pickler's.
"""
import builtins as _builtins_module

from cpython.object cimport PyObject

cdef extern from "Python.h":
    PyObject *PyEval_GetGlobals()
    object PyImport_Import(object name)
    PyObject *PyDict_GetItemWithError(object, object) except? NULL
    bint PyDict_Check(object)
    bint PyModule_Check(object)
    PyObject *PyModule_GetDict(object)     # borrowed
    bint PyCFunction_Check(object)

cdef extern from "_imports.h":
    # sys.modules[name] after its import finished, None if absent.
    object imported_module "pickler_imported_module" (object name)


# The interpreter's own builtins.__import__, or None when something had
# already replaced it before pickler was imported (then every import takes
# the full path, which calls whatever is installed).
cdef object _builtin_import = _builtins_module.__dict__.get("__import__")
if not (PyCFunction_Check(_builtin_import)
        and getattr(_builtin_import, "__self__", None) is _builtins_module):
    _builtin_import = None


cdef inline bint _frame_uses_builtin_import() except -1:
    """True when PyImport_Import would call the interpreter's __import__."""
    cdef PyObject *g = PyEval_GetGlobals()      # borrowed; NULL without a frame
    cdef PyObject *b
    cdef PyObject *imp
    if g == NULL or _builtin_import is None or not PyDict_Check(<object>g):
        return False
    b = PyDict_GetItemWithError(<object>g, "__builtins__")
    if b == NULL:
        return False      # PyImport_Import raises the KeyError itself
    if PyDict_Check(<object>b):
        imp = PyDict_GetItemWithError(<object>b, "__import__")
    elif PyModule_Check(<object>b):
        imp = PyDict_GetItemWithError(<object>PyModule_GetDict(<object>b), "__import__")
    else:
        return False
    return imp == <PyObject *>_builtin_import


cdef object import_module(object name):
    if _frame_uses_builtin_import():
        mod = imported_module(name)
        if mod is not None:
            return mod
    return PyImport_Import(name)
