/* C helpers of the compiled Pickler (_pickler.pyx and its .pxi files) for
   what Cython cannot say: reading type and int internals, and calling a
   save() override with its arguments on the C stack.  Each is declared in
   the .pxi that uses it.  No state, no Python objects of its own. */
#ifndef PICKLER_PICKLER_H
#define PICKLER_PICKLER_H
#include "_protocol.h"
#include <string.h>
#if !PICKLER_PY311
#include "longintrepr.h"
#endif

/* -- _save.pxi ----------------------------------------------------------- */

/* The value of an int of at most one 30-bit digit (|v| < 2**30), read from
   the object itself; 0 for a larger one. */
#if PICKLER_PY312
static inline int pickler_compact_long(PyObject *o, long *v) {
    if (PyUnstable_Long_IsCompact((PyLongObject *)o)) {
        *v = (long)PyUnstable_Long_CompactValue((PyLongObject *)o);
        return 1;
    }
    return 0;
}
#else
static inline int pickler_compact_long(PyObject *o, long *v) {
    Py_ssize_t size = Py_SIZE(o);
    if (size == 0) { *v = 0; return 1; }
    if (size == 1) { *v = (long)((PyLongObject *)o)->ob_digit[0]; return 1; }
    if (size == -1) { *v = -(long)((PyLongObject *)o)->ob_digit[0]; return 1; }
    return 0;
}
#endif

/* -- _save_containers.pxi ------------------------------------------------ */

#if PICKLER_PY313
/* Exported by every supported version, declared by Python.h up to 3.12. */
PyAPI_FUNC(int) _PySet_NextEntry(PyObject *, Py_ssize_t *, PyObject **, Py_hash_t *);
#endif

/* -- _save_reduce.pxi ---------------------------------------------------- */

static inline Py_ssize_t pickler_type_weaklistoffset(PyTypeObject *t) {
    return t->tp_weaklistoffset;
}

/* The type's attribute lookup is object's own, and its instances have no
   __dict__ (nothing on an instance can shadow a class attribute). */
static int pickler_plain_lookup_no_dict(PyTypeObject *t) {
    return t->tp_getattro == PyObject_GenericGetAttr && t->tp_dictoffset == 0
        && Py_IS_TYPE((PyObject *)t, &PyType_Type);
}

/* What type.__name__ of `t` (whose metaclass is exactly `type`) says about
   save_reduce's NEWOBJ forms: 1 for "__newobj__", 2 for "__newobj_ex__", 0
   for any other name; the name is read as type.__name__ returns it (a heap
   type's own name, a static type's tp_name after its last dot) without
   building the str. */
static int pickler_type_newobj_kind(PyTypeObject *t) {
    if (t->tp_flags & Py_TPFLAGS_HEAPTYPE) {
        PyObject *n = ((PyHeapTypeObject *)t)->ht_name;
        if (PyUnicode_CompareWithASCIIString(n, "__newobj__") == 0) return 1;
        if (PyUnicode_CompareWithASCIIString(n, "__newobj_ex__") == 0) return 2;
        return 0;
    } else {
        const char *dot = strrchr(t->tp_name, '.');
        const char *name = dot ? dot + 1 : t->tp_name;
        if (strcmp(name, "__newobj__") == 0) return 1;
        if (strcmp(name, "__newobj_ex__") == 0) return 2;
        return 0;
    }
}

/* -- _pickler_surface.pxi ------------------------------------------------ */

/* f(arg), a new reference or NULL with the exception set; a bound method
   (a hook defined on the subclass) as its function called with the
   instance and `arg` on the C stack, so the call costs no bound-method
   layer.  The per-object call of persistent_id and reducer_override. */
static inline PyObject *pickler_call_one(PyObject *f, PyObject *arg) {
    if (PyMethod_Check(f)) {
        PyObject *args[3] = {NULL, PyMethod_GET_SELF(f), arg};
        return PyObject_Vectorcall(PyMethod_GET_FUNCTION(f), args + 1,
                                   2 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    }
    PyObject *args[2] = {NULL, arg};
    return PyObject_Vectorcall(f, args + 1, 1 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
}

/* The vectorcall entry of a callable (NULL when it has none), looked up
   once per dump() for a save() override. */
static inline vectorcallfunc pickler_vectorcall_of(PyObject *f) {
    return PyVectorcall_Function(f);
}

/* f(self, obj) or f(self, obj, False): the per-object call of a save()
   override's function, with the arguments on the C stack (no tuple, no
   bound method), through f's vectorcall entry `vc` when it has one (saves
   looking it up again on every call).  Returns 0, or -1 with the exception
   set. */
static int pickler_call_save_override(vectorcallfunc vc, PyObject *f,
                                      PyObject *self, PyObject *obj,
                                      int no_persistent_id) {
    PyObject *args[4] = {NULL, self, obj, Py_False};
    size_t nargsf = (no_persistent_id ? 3 : 2) | PY_VECTORCALL_ARGUMENTS_OFFSET;
    PyObject *res = vc ? vc(f, args + 1, nargsf, NULL)
                       : PyObject_Vectorcall(f, args + 1, nargsf, NULL);
    if (res == NULL) {
        return -1;
    }
    Py_DECREF(res);
    return 0;
}

#endif
