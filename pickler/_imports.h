/* C helper of _imports.pyx: a module from sys.modules without importing it.
   No state. */
#ifndef PICKLER_IMPORTS_H
#define PICKLER_IMPORTS_H
#include <Python.h>

/* sys.modules[name] once its import has finished (PyImport_GetModule waits
   for another thread's import as __import__ does), or None when sys.modules
   has no such entry; NULL with an exception set on error. */
static PyObject *pickler_imported_module(PyObject *name) {
    PyObject *m = PyImport_GetModule(name);
    if (m == NULL && !PyErr_Occurred()) {
        Py_RETURN_NONE;
    }
    return m;
}

#endif
