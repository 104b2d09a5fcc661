# cython: language_level=3
"""Declarations of the pickler's output buffer (see _buffer.pyx)."""
from cpython.object cimport PyObject
from libc.string cimport memcpy


cdef class WriteBuffer:
    # A growable byte buffer whose storage is a `bytes` object: when the
    # pickle is complete the object is shrunk in place and handed out, so
    # dumps() returns without a final copy.  Invariant: 0 <= length <=
    # capacity, and `ptr` points into `data` whenever `data` is not NULL.
    cdef PyObject *data              # owned bytes object used as raw storage, or NULL
    cdef char *ptr                   # start of the storage inside `data`
    cdef Py_ssize_t length           # bytes written so far
    cdef Py_ssize_t capacity         # bytes available in `data`
    cdef Py_ssize_t initial_capacity  # size of a freshly allocated storage
                                      # (dumps: the last large result)

    cdef int allocate(self, Py_ssize_t capacity) except -1
    cdef int _resize(self, Py_ssize_t new_capacity) except -1
    cdef int grow(self, Py_ssize_t extra) except -1
    cdef int reserve_exact(self, Py_ssize_t extra) except -1
    cdef int reset(self) except -1
    cdef object copy_out(self)
    cdef object take_result(self, Py_ssize_t small_result)
    cdef void drop_large_storage(self) noexcept
    cdef object detach(self)
    cdef void release(self) noexcept


cdef inline char *buf_reserve(WriteBuffer buf, Py_ssize_t n) except NULL:
    """Claim the next `n` bytes of the buffer and return where they start."""
    cdef char *p
    if n > buf.capacity - buf.length:
        buf.grow(n)
    p = buf.ptr + buf.length
    buf.length += n
    return p


cdef inline int buf_write(WriteBuffer buf, const char *s, Py_ssize_t n) except -1:
    memcpy(buf_reserve(buf, n), s, n)
    return 0


cdef inline int buf_write_byte(WriteBuffer buf, char c) except -1:
    if buf.length >= buf.capacity:
        buf.grow(1)
    buf.ptr[buf.length] = c
    buf.length += 1
    return 0
