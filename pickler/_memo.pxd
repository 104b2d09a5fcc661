# cython: language_level=3
"""Declarations of the pickler's memo table (see _memo.pyx)."""
from cpython.object cimport PyObject


cdef struct MemoEntry:
    PyObject *key        # the memoized object (strong reference), NULL = empty slot
    Py_ssize_t value     # its memo index, in insertion order 0, 1, 2, ...


cdef class MemoTable:
    # Open-addressing hash table keyed by object identity.  Entries are never
    # deleted one by one (only the whole table is cleared), so a lookup stops
    # at the first empty slot.  Keys hold strong references so that an object
    # pickled once stays alive, and its id() is not reused, until the memo is
    # cleared.
    cdef MemoEntry *table    # `mask + 1` slots, a power of two
    cdef Py_ssize_t mask     # number of slots minus one
    cdef Py_ssize_t used     # number of keys stored; also the next memo index

    cdef Py_ssize_t get(self, PyObject *key) noexcept
    cdef int set(self, PyObject *key, Py_ssize_t value) except -1
    cdef int resize(self, Py_ssize_t min_used) except -1
    cdef void clear(self) noexcept
    cdef MemoTable copy(self)
    cdef dict as_dict(self)


cdef inline size_t memo_hash(PyObject *key) noexcept:
    # Objects are at least 16-byte aligned: drop the always-zero low bits,
    # then spread the rest over the word (Fibonacci hashing).
    return (<size_t>key >> 4) * <size_t>0x9E3779B97F4A7C15ULL


cdef inline Py_ssize_t memo_lookup(MemoTable memo, PyObject *key) noexcept:
    """The memo index of `key`, or -1 when it is not memoized."""
    cdef size_t i = memo_hash(key) & <size_t>memo.mask
    cdef MemoEntry *entry
    while True:
        entry = &memo.table[i]
        if entry.key == key:
            return entry.value
        if entry.key == NULL:
            return -1
        i = (i + 1) & <size_t>memo.mask


cdef inline MemoEntry *memo_find(MemoTable memo, PyObject *key) noexcept:
    """The entry of `key` (compared by address only, never dereferenced),
    or NULL when it is not memoized."""
    cdef size_t i = memo_hash(key) & <size_t>memo.mask
    cdef MemoEntry *entry
    while True:
        entry = &memo.table[i]
        if entry.key == key:
            return entry
        if entry.key == NULL:
            return NULL
        i = (i + 1) & <size_t>memo.mask
