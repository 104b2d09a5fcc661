/* C helpers of the compiled unpickler (pickler/_unpickler.pyx and its
   load_*.pxi files), declared in _load_capi.pxi.  Only C that Cython cannot
   express as well lives here: version shims for C-API names that moved,
   BINFLOAT's byte swap, the short-ASCII str fast path, the list item-array
   exchange of APPENDS and the thread id of the re-entrancy check.  No state,
   no Python-level behaviour of its own. */
#ifndef PICKLER_UNPICKLER_C_H
#define PICKLER_UNPICKLER_C_H
#include <Python.h>
#include <errno.h>
#include <float.h>
#include <stdint.h>
#include <string.h>

/* Version shims for the few C-API names that moved between 3.10 and 3.13. */
#if PY_VERSION_HEX >= 0x030D0000
#define PKL_LookupAttr(o, n, r) PyObject_GetOptionalAttr((o), (n), (r))
#else
#define PKL_LookupAttr(o, n, r) _PyObject_LookupAttr((o), (n), (r))
#endif
#if PY_VERSION_HEX >= 0x030B0000
#define PKL_Unpack8BE(p) PyFloat_Unpack8((p), 0)
#else
#define PKL_Unpack8BE(p) _PyFloat_Unpack8((const unsigned char *)(p), 0)
#endif

/* BINFLOAT's big-endian IEEE double.  On a little-endian machine with IEEE
   doubles (what CPython's own unpacking checks for, and then does the same
   byte reversal) swap the bytes in a register; elsewhere ask CPython. */
#if defined(__GNUC__) && PY_LITTLE_ENDIAN && DBL_MANT_DIG == 53 && DBL_MAX_EXP == 1024
static inline double PKL_BinFloat(const char *p, int *err) {
    uint64_t x;
    double d;
    (void)err;
    memcpy(&x, p, 8);
    x = __builtin_bswap64(x);
    memcpy(&d, &x, 8);
    return d;
}
#else
static inline double PKL_BinFloat(const char *p, int *err) {
    double d = PKL_Unpack8BE(p);
    *err = (d == -1.0 && PyErr_Occurred());
    return d;
}
#endif

/* errno around strtol (INT's text argument). */
#define PKL_errno_reset() (errno = 0)
#define PKL_errno() (errno)

/* LONG1/LONG4's argument: a signed little-endian integer of n bytes. */
#define PKL_LongFromLE(p, n) _PyLong_FromByteArray((const unsigned char *)(p), (size_t)(n), 1, 1)

/* A str from n UTF-8 bytes (surrogates allowed, as pickle writes them).
   Short ASCII text, most keys and values, is copied into a new compact
   ASCII string directly; anything else goes through the decoder.  The
   empty and one-character strings go through the decoder too: it returns
   the interpreter's shared instances of those, as it does for _pickle
   (loads(dumps('A')) is 'A'). */
static PyObject *PKL_DecodeStr(const char *s, Py_ssize_t n) {
    if (n > 1 && n <= 64) {
        unsigned char high = 0;
        Py_ssize_t i;
        PyObject *u;
        for (i = 0; i < n; i++) {
            high |= (unsigned char)s[i];
        }
        if (!(high & 0x80)) {
            u = PyUnicode_New(n, 127);
            if (u != NULL) {
                memcpy(PyUnicode_1BYTE_DATA(u), s, (size_t)n);
            }
            return u;
        }
    }
    return PyUnicode_DecodeUTF8(s, n, "surrogatepass");
}

/* Give the items of the exact list `src` to the empty exact list `target`
   by exchanging their item arrays (`src` is left empty with the target's
   old array, which its deallocation frees). */
static void pickler_list_adopt_items(PyObject *target, PyObject *src) {
    PyListObject *t = (PyListObject *)target;
    PyListObject *s = (PyListObject *)src;
    PyObject **items = t->ob_item;
    Py_ssize_t allocated = t->allocated;
    t->ob_item = s->ob_item;
    t->allocated = s->allocated;
    Py_SET_SIZE(t, Py_SIZE(s));
    s->ob_item = items;
    s->allocated = allocated;
    Py_SET_SIZE(s, 0);
}

/* The data and the resizing of a bytes or bytearray object being filled
   from a file (a large payload read in growing chunks): the object's own
   type says which of the two it is. */
static inline char *pickler_bytes_like_data(PyObject *o) {
    return PyByteArray_CheckExact(o) ? PyByteArray_AS_STRING(o) : PyBytes_AS_STRING(o);
}

static inline int pickler_bytes_like_resize(PyObject **o, Py_ssize_t n) {
    return PyByteArray_CheckExact(*o) ? PyByteArray_Resize(*o, n) : _PyBytes_Resize(o, n);
}

/* An id of the running thread, unique among running threads. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && defined(__linux__) \
    && (defined(__x86_64__) || defined(__aarch64__))
/* the thread's control block: one instruction */
#define pickler_thread_id() ((unsigned long)__builtin_thread_pointer())
#elif defined(__linux__) || defined(__APPLE__)
#include <pthread.h>
#define pickler_thread_id() ((unsigned long)pthread_self())
#else
#define pickler_thread_id() PyThread_get_thread_ident()
#endif

#endif
