# The C API as the unpickler calls it (included first by _unpickler.pyx).
#
# Declarations only: CPython functions under names that say how their
# result is used (R_: a new reference returned as a raw pointer, moved onto
# the stack without an incref/decref pair; N_: no error check by Cython, for
# loops that drop a reference before propagating the error; P_: macros on
# raw pointers) and the helpers of _unpickler_c.h.

cdef extern from "Python.h":
    # Reference counting on raw pointers (the typed stack and memo).
    void P_INCREF "Py_INCREF"(PyObject *)
    void P_DECREF "Py_DECREF"(PyObject *)
    void P_XDECREF "Py_XDECREF"(PyObject *)
    PyTypeObject *P_TYPE "Py_TYPE"(PyObject *)
    const Py_ssize_t PY_SSIZE_T_MAX

    # Constructors returning new references as raw pointers, so that the
    # result can be moved onto the stack without an extra incref/decref.
    PyObject *R_Long_FromLong "PyLong_FromLong"(long) except NULL
    PyObject *R_Long_FromString "PyLong_FromString"(
        const char *, char **, int) except NULL
    PyObject *R_Float_FromDouble "PyFloat_FromDouble"(double) except NULL
    PyObject *R_Unicode_DecodeUTF8 "PyUnicode_DecodeUTF8"(
        const char *, Py_ssize_t, const char *) except NULL
    PyObject *R_Unicode_Decode "PyUnicode_Decode"(
        const char *, Py_ssize_t, const char *, const char *) except NULL
    PyObject *R_Unicode_DecodeASCII "PyUnicode_DecodeASCII"(
        const char *, Py_ssize_t, const char *) except NULL
    PyObject *R_Unicode_DecodeRawUnicodeEscape "PyUnicode_DecodeRawUnicodeEscape"(
        const char *, Py_ssize_t, const char *) except NULL
    PyObject *R_Unicode_FromEncodedObject "PyUnicode_FromEncodedObject"(
        PyObject *, const char *, const char *) except NULL
    PyObject *R_Bytes_FromStringAndSize "PyBytes_FromStringAndSize"(
        const char *, Py_ssize_t) except NULL
    PyObject *R_Bytes_DecodeEscape "PyBytes_DecodeEscape"(
        const char *, Py_ssize_t, const char *, Py_ssize_t, const char *) except NULL
    PyObject *R_ByteArray_FromStringAndSize "PyByteArray_FromStringAndSize"(
        const char *, Py_ssize_t) except NULL
    PyObject *R_List_New "PyList_New"(Py_ssize_t) except NULL
    PyObject *R_Tuple_New "PyTuple_New"(Py_ssize_t) except NULL
    PyObject *R_Dict_New "PyDict_New"() except NULL
    PyObject *R_Set_New "PySet_New"(PyObject *) except NULL
    PyObject *R_FrozenSet_New "PyFrozenSet_New"(PyObject *) except NULL
    PyObject *R_Iter_Next "PyIter_Next"(PyObject *)
    PyObject *R_MemoryView_FromObject "PyMemoryView_FromObject"(PyObject *) except NULL
    PyObject *R_Object_Call "PyObject_Call"(
        PyObject *, PyObject *, PyObject *) except NULL
    void R_List_SET_ITEM "PyList_SET_ITEM"(PyObject *, Py_ssize_t, PyObject *)
    void R_Tuple_SET_ITEM "PyTuple_SET_ITEM"(PyObject *, Py_ssize_t, PyObject *)
    Py_ssize_t R_List_GET_SIZE "PyList_GET_SIZE"(PyObject *)
    Py_ssize_t R_Tuple_GET_SIZE "PyTuple_GET_SIZE"(PyObject *)
    PyObject *R_Tuple_GET_ITEM "PyTuple_GET_ITEM"(PyObject *, Py_ssize_t)
    int R_List_SetSlice "PyList_SetSlice"(
        PyObject *, Py_ssize_t, Py_ssize_t, PyObject *) except -1
    int R_Dict_SetItem "PyDict_SetItem"(PyObject *, PyObject *, PyObject *) except -1
    int R_Object_SetItem "PyObject_SetItem"(
        PyObject *, PyObject *, PyObject *) except -1
    # The same two without Cython's error check, for loops that must drop a
    # reference before propagating the error.
    int N_Dict_SetItem "PyDict_SetItem"(PyObject *, PyObject *, PyObject *) noexcept
    int N_Object_SetItem "PyObject_SetItem"(PyObject *, PyObject *, PyObject *) noexcept
    int R_Set_Add "PySet_Add"(PyObject *, PyObject *) except -1
    int R_Dict_Next "PyDict_Next"(PyObject *, Py_ssize_t *, PyObject **, PyObject **)
    void R_Unicode_InternInPlace "PyUnicode_InternInPlace"(PyObject **)
    bint R_Unicode_CHECK_INTERNED "PyUnicode_CHECK_INTERNED"(PyObject *)
    int N_Object_SetAttr "PyObject_SetAttr"(PyObject *, PyObject *, PyObject *) noexcept
    char *R_Bytes_AS_STRING "PyBytes_AS_STRING"(PyObject *)
    char *R_ByteArray_AS_STRING "PyByteArray_AS_STRING"(PyObject *)

    bint P_List_CheckExact "PyList_CheckExact"(PyObject *)
    bint P_Dict_CheckExact "PyDict_CheckExact"(PyObject *)
    bint P_Dict_Check "PyDict_Check"(PyObject *)
    bint P_Set_Check "PySet_Check"(PyObject *)
    bint P_Tuple_Check "PyTuple_Check"(PyObject *)
    bint P_Type_Check "PyType_Check"(PyObject *)
    bint P_Unicode_CheckExact "PyUnicode_CheckExact"(PyObject *)
    bint P_Method_Check "PyMethod_Check"(PyObject *)
    PyObject *P_Method_GET_FUNCTION "PyMethod_GET_FUNCTION"(PyObject *)
    PyObject *P_Method_GET_SELF "PyMethod_GET_SELF"(PyObject *)

    object PyMemoryView_FromMemory(char *, Py_ssize_t, int)
    int PyBUF_WRITE
    int PySys_Audit(const char *, const char *, ...) except -1
    double PyOS_string_to_double(const char *, char **, PyObject *) except? -1.0
    PyObject *PyExc_OverflowError
    PyObject *PyErr_Occurred()


cdef extern from "_unpickler_c.h":
    int PKL_LookupAttr(PyObject *, PyObject *, PyObject **) except -1
    double PKL_BinFloat(const char *, int *err) noexcept
    PyObject *PKL_LongFromLE(const char *, Py_ssize_t) except NULL
    void PKL_errno_reset()
    int PKL_errno()
    PyObject *PKL_DecodeStr(const char *, Py_ssize_t) except NULL
    void list_adopt_items "pickler_list_adopt_items" (
        PyObject *target, PyObject *src) noexcept
    char *bytes_like_data "pickler_bytes_like_data" (PyObject *) noexcept
    int bytes_like_resize "pickler_bytes_like_resize" (
        PyObject **, Py_ssize_t) except -1
    unsigned long _thread_id "pickler_thread_id" () noexcept nogil
