# cython: language_level=3, binding=True, embedsignature=True, auto_pickle=False
"""The pickler's output buffer.

The storage is a ``bytes`` object created uninitialised and resized with
``_PyBytes_Resize`` (a ``realloc``): growth is geometric (x1.5, as in CPython)
for the stream of small opcodes, and exact when a large payload of known size
that is at least as large as the buffer's content is about to be copied in
(see ``reserve_exact``), so that an in-band ``dumps()`` of a large array
peaks near the size of its result instead of 1.5 times it.  ``detach()``
sets the object's size to its length (shrinking the storage unless only a
few KiB of slack remain) and gives it away; the buffer never writes into
storage it has handed out.
"""
from cpython.object cimport PyObject
from cpython.ref cimport Py_XDECREF

cdef extern from "Python.h":
    PyObject *PyBytes_FromStringAndSize(const char *, Py_ssize_t) except NULL
    bytes new_bytes "PyBytes_FromStringAndSize" (const char *, Py_ssize_t)
    char *PyBytes_AS_STRING(PyObject *)
    int _PyBytes_Resize(PyObject **, Py_ssize_t) except -1
    void Py_SET_SIZE(PyObject *, Py_ssize_t)
    const Py_ssize_t PY_SSIZE_T_MAX

cdef enum:
    WRITE_BUF_SIZE = 4096
    # detach() leaves the slack of results at least this large in place, and
    # take_result() starts the next storage at their size.
    KEEP_SLACK_MIN_LENGTH = 1024 * 1024
    # take_result() and drop_large_storage() keep no storage larger than this
    # between two dumps() calls.
    SPARE_CAPACITY_MAX = 64 * 1024


cdef class WriteBuffer:

    def __cinit__(self):
        self.data = NULL
        self.ptr = NULL
        self.length = 0
        self.capacity = 0
        self.initial_capacity = WRITE_BUF_SIZE

    def __dealloc__(self):
        self.release()

    cdef void release(self) noexcept:
        Py_XDECREF(self.data)
        self.data = NULL
        self.ptr = NULL
        self.length = 0
        self.capacity = 0

    cdef int allocate(self, Py_ssize_t capacity) except -1:
        """Start a fresh, empty storage of `capacity` bytes."""
        self.release()
        self.data = PyBytes_FromStringAndSize(NULL, capacity)
        self.ptr = PyBytes_AS_STRING(self.data)
        self.capacity = capacity
        return 0

    cdef int reset(self) except -1:
        """Empty the buffer, keeping (or creating) its storage."""
        if self.data == NULL:
            self.allocate(self.initial_capacity)
        self.length = 0
        return 0

    cdef int _resize(self, Py_ssize_t new_capacity) except -1:
        if self.data == NULL:
            self.allocate(new_capacity)
            return 0
        # On failure _PyBytes_Resize releases the object and sets it to NULL.
        if _PyBytes_Resize(&self.data, new_capacity) < 0:
            self.ptr = NULL
            self.length = 0
            self.capacity = 0
            return -1
        self.ptr = PyBytes_AS_STRING(self.data)
        self.capacity = new_capacity
        return 0

    cdef int grow(self, Py_ssize_t extra) except -1:
        """Make room for `extra` more bytes, growing by at least half."""
        cdef Py_ssize_t needed
        if extra > PY_SSIZE_T_MAX - self.length:
            raise MemoryError()
        needed = self.length + extra
        if needed <= self.capacity:
            return 0
        if needed <= PY_SSIZE_T_MAX // 3 * 2:
            needed = needed // 2 * 3
        return self._resize(needed)

    cdef int reserve_exact(self, Py_ssize_t extra) except -1:
        """Make room for exactly `extra` more bytes plus a little slack.

        Used before copying a large payload: growing geometrically there
        would leave up to half of the buffer allocated and unused.  Exact
        only when the payload is at least the size of the content so far.
        """
        cdef Py_ssize_t needed
        if extra > PY_SSIZE_T_MAX - self.length - WRITE_BUF_SIZE:
            raise MemoryError()
        needed = self.length + extra + WRITE_BUF_SIZE
        if needed > self.capacity + WRITE_BUF_SIZE:
            # A payload smaller than what the buffer already holds is not
            # the bulk of the result: grow geometrically then, so that a
            # series of medium payloads does not reallocate for each one.
            if extra < self.length and needed < self.capacity // 2 * 3:
                needed = self.capacity // 2 * 3
            self._resize(needed)
        return 0

    cdef object take_result(self, Py_ssize_t small_result):
        """The bytes written, as dumps() returns them: up to `small_result`
        bytes copied out (the storage is kept for the next call), more
        handed out whole.

        A result of 1 MiB or more also sets the size of the next storage:
        the next dumps() of data of the same size then allocates once,
        instead of growing through a chain of reallocs (4 KiB, 6 KiB, ...,
        1.5 times the result), and detach() hands the block out without
        a realloc.  One block of the same size per call is what glibc's
        allocator serves from memory already mapped and touched; a chain of
        reallocs of blocks above its mmap threshold costs fresh pages, each
        a page fault, on every call.  The size is a hint only: a different
        result grows or shrinks the storage as usual, and the hint follows
        the last result.
        """
        cdef Py_ssize_t n = self.length
        if n <= small_result:
            result = self.copy_out()
            self.drop_large_storage()
            return result
        if n >= KEEP_SLACK_MIN_LENGTH and n <= PY_SSIZE_T_MAX - WRITE_BUF_SIZE:
            self.initial_capacity = n + WRITE_BUF_SIZE
        else:
            self.initial_capacity = WRITE_BUF_SIZE
        return self.detach()

    cdef void drop_large_storage(self) noexcept:
        """Free a storage too large to keep between calls (one sized for a
        large result that did not come, or left by an error), and go back
        to small first storages."""
        if self.capacity > SPARE_CAPACITY_MAX:
            self.release()
            self.initial_capacity = WRITE_BUF_SIZE

    cdef object copy_out(self):
        """A new `bytes` with the bytes written; the storage is kept for reuse."""
        cdef bytes result = new_bytes(self.ptr, self.length)
        self.length = 0
        return result

    cdef object detach(self):
        """Shrink the storage to the bytes written and hand it out as `bytes`."""
        cdef object result
        if self.data == NULL:
            return b""
        if self.length != self.capacity:
            if (self.length >= KEEP_SLACK_MIN_LENGTH
                    and self.capacity - self.length <= 2 * WRITE_BUF_SIZE):
                # A large result keeps the few KiB of slack left by exact
                # growth: its size is set without a realloc.  Shrinking
                # would cost an mremap, and would hand back a smaller
                # block than the next call of the same size asks for,
                # which keeps glibc mapping fresh (page-faulting) memory
                # for every call instead of reusing its heap.
                Py_SET_SIZE(self.data, self.length)
                self.ptr[self.length] = 0
            else:
                self._resize(self.length)
        result = <object>self.data
        # `result` now owns a reference; drop ours without freeing the object.
        Py_XDECREF(self.data)
        self.data = NULL
        self.ptr = NULL
        self.length = 0
        self.capacity = 0
        return result
