# cython: language_level=3
"""Declarations of the pickler's memo table (see _memo.pyx)."""
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF


cdef struct MemoEntry:
    PyObject *key        # the memoized object (strong reference), NULL = empty slot
    Py_ssize_t value     # its memo index, in insertion order 0, 1, 2, ...


cdef class MemoTable:
    # Open-addressing hash table keyed by object identity.  Entries are never
    # deleted one by one (only the whole table is cleared), so a lookup stops
    # at the first empty slot.  Keys hold strong references so that an object
    # pickled once stays alive, and its id() is not reused, until the memo is
    # cleared.
    cdef MemoEntry *table    # `mask + 1` slots, a power of two, 64-byte aligned
    cdef void *table_mem     # the allocation `table` lies in (what is freed)
    cdef Py_ssize_t mask     # number of slots minus one
    cdef Py_ssize_t used     # number of keys stored; also the next memo index

    cdef int set(self, PyObject *key, Py_ssize_t value) except -1
    cdef int resize(self, Py_ssize_t min_used) except -1
    cdef void clear(self) noexcept
    cdef void release_keys(self) noexcept
    cdef MemoTable copy(self)
    cdef dict as_dict(self)


cdef inline MemoEntry *memo_slot(MemoEntry *table, size_t mask, PyObject *key) noexcept:
    """The slot holding `key`, or the empty slot where it belongs.

    The first probe is the object's address divided by 16 (objects are
    16-byte aligned): objects allocated one after the other, as the parts of
    a data structure usually are, land in neighbouring slots, so a large
    memo is walked through the cache in order instead of at random (a hash
    that scattered them made big dumps() up to 30% slower than _pickle
    although they ran fewer instructions).  On a collision the other three
    slots of the probed slot's group of four (one 64-byte cache line, the
    line just loaded) are tried first; then the probe jumps with CPython's
    dict recurrence (i = 5i + 1 + perturb, perturb shifted right by 5 each
    time) and tries that slot's group the same way.  The jumps leave the
    neighbourhood at once, so runs of neighbours do not pile up into long
    probe sequences as with linear probing, and the recurrence visits every
    slot once perturb reaches 0, so an empty slot is always found.  Inserts
    and lookups follow the same sequence, and slots are never emptied one
    by one, so a lookup may stop at the first empty slot."""
    cdef size_t perturb = <size_t>key >> 4
    cdef size_t i = perturb & mask
    cdef size_t group, k
    cdef MemoEntry *entry = &table[i]
    if entry.key == key or entry.key == NULL:
        return entry
    while True:
        group = i & ~(<size_t>3)
        for k in range(1, 4):
            entry = &table[group | ((i + k) & 3)]
            if entry.key == key or entry.key == NULL:
                return entry
        perturb >>= 5
        i = (i * 5 + perturb + 1) & mask
        entry = &table[i]
        if entry.key == key or entry.key == NULL:
            return entry


cdef inline Py_ssize_t memo_lookup(MemoTable memo, PyObject *key) noexcept:
    """The memo index of `key`, or -1 when it is not memoized."""
    cdef MemoEntry *entry = memo_slot(memo.table, <size_t>memo.mask, key)
    return entry.value if entry.key != NULL else -1


cdef inline MemoEntry *memo_find(MemoTable memo, PyObject *key) noexcept:
    """The entry of `key` (compared by address only, never dereferenced),
    or NULL when it is not memoized."""
    cdef MemoEntry *entry = memo_slot(memo.table, <size_t>memo.mask, key)
    return entry if entry.key != NULL else NULL


cdef inline int memo_set(MemoTable memo, PyObject *key, Py_ssize_t value) except -1:
    """Store `key` -> `value`, replacing the value if `key` is present;
    inline, so the save path's memoize costs no call."""
    cdef MemoEntry *entry = memo_slot(memo.table, <size_t>memo.mask, key)
    if entry.key == key:
        entry.value = value
        return 0
    Py_INCREF(<object>key)
    entry.key = key
    entry.value = value
    memo.used += 1
    # Keep the load factor at or below 2/3 so that probe runs stay short.
    if 3 * memo.used >= 2 * (memo.mask + 1):
        memo.resize(memo.used * 2)
    return 0
