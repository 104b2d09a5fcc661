# cython: language_level=3, binding=True, embedsignature=True, auto_pickle=False
"""The pickler's memo: which objects were already written, and under which index.

CPython's C pickler keeps a purpose-built identity hash table instead of a
dict of ``id(obj) -> (index, obj)`` (what the pure-Python pickler uses); we do
the same: a power-of-two table kept at most two-thirds full, probed from the
object's address (see ``memo_slot`` in _memo.pxd for the order of probes).
The probing scheme does not influence the pickle: memo indices are assigned
in insertion order.
"""
from cpython.mem cimport PyMem_Calloc, PyMem_Free
from cpython.ref cimport Py_INCREF, Py_DECREF, Py_XDECREF
from cpython.object cimport PyObject

cdef enum:
    MEMO_MIN_SIZE = 8


cdef MemoEntry *alloc_table(Py_ssize_t size, void **mem) noexcept:
    """A zeroed table of `size` slots starting on a 64-byte boundary, so that
    each group of four slots memo_slot() probes together is one cache line
    (allocations are only 16-byte aligned); *mem receives the pointer to
    free.  NULL when out of memory."""
    cdef char *raw = <char *>PyMem_Calloc(<size_t>size + 3, sizeof(MemoEntry))
    mem[0] = raw
    if raw == NULL:
        return NULL
    return <MemoEntry *>(raw + ((-<Py_ssize_t>raw) & 63))


cdef class MemoTable:

    def __cinit__(self):
        self.table = alloc_table(MEMO_MIN_SIZE, &self.table_mem)
        if self.table == NULL:
            raise MemoryError()
        self.mask = MEMO_MIN_SIZE - 1
        self.used = 0

    def __dealloc__(self):
        self.release_keys()
        PyMem_Free(self.table_mem)
        self.table = NULL
        self.table_mem = NULL

    def __len__(self):
        return self.used

    cdef int resize(self, Py_ssize_t min_used) except -1:
        # Grow to the smallest power of two that holds `min_used` keys at a
        # load factor of at most 1/2 right after the resize.
        cdef Py_ssize_t new_size = MEMO_MIN_SIZE
        cdef MemoEntry *old_table = self.table
        cdef void *old_mem = self.table_mem
        cdef void *new_mem
        cdef Py_ssize_t old_size = self.mask + 1
        cdef MemoEntry *new_table
        cdef Py_ssize_t i
        cdef size_t new_mask
        while new_size < 2 * min_used:
            new_size <<= 1
        new_table = alloc_table(new_size, &new_mem)
        if new_table == NULL:
            raise MemoryError()
        new_mask = <size_t>(new_size - 1)
        for i in range(old_size):
            if old_table[i].key != NULL:
                memo_slot(new_table, new_mask, old_table[i].key)[0] = old_table[i]
        self.table = new_table
        self.table_mem = new_mem
        self.mask = new_size - 1
        PyMem_Free(old_mem)
        return 0

    cdef int set(self, PyObject *key, Py_ssize_t value) except -1:
        """Store `key` -> `value`, replacing the value if `key` is present."""
        return memo_set(self, key, value)

    cdef void clear(self) noexcept:
        """Drop every entry (and the references they hold); keep the table size.

        Dropping a key can run user code (a __del__, or a finalizer the
        garbage collector runs then) that replaces or clears this memo, or
        memoizes, or grows the table: a reference to the table is held
        meanwhile, and release_keys() reads the table afresh after each
        key."""
        Py_INCREF(self)
        self.release_keys()
        Py_DECREF(self)

    cdef void release_keys(self) noexcept:
        # As in _pickle, `used` (the next memo index) is left alone while
        # the keys are dropped, so that what user code pickles meanwhile
        # gets indices no earlier pickle used.  Keys it memoizes meanwhile
        # (`used` grew) are dropped by another pass (at most 100: a __del__
        # that memoizes a new such object each time could go on for ever).
        # The table is read afresh after each key dropped.
        cdef MemoEntry *table
        cdef Py_ssize_t i, n, start
        cdef int passes = 0
        cdef PyObject *key
        while passes < 100:
            passes += 1
            start = self.used
            table = self.table
            n = self.mask + 1
            i = 0
            while i < n:
                key = table[i].key
                if key != NULL:
                    table[i].key = NULL
                    Py_XDECREF(key)
                    table = self.table
                    if table == NULL:
                        return
                    n = self.mask + 1
                i += 1
            if self.used == start:
                self.used = 0
                return
        n = 0
        for i in range(self.mask + 1):
            if self.table[i].key != NULL:
                n += 1
        self.used = n

    cdef MemoTable copy(self):
        cdef MemoTable other = MemoTable.__new__(MemoTable)
        cdef Py_ssize_t i
        other.resize(self.used)
        for i in range(self.mask + 1):
            if self.table[i].key != NULL:
                other.set(self.table[i].key, self.table[i].value)
        return other

    cdef dict as_dict(self):
        """The memo as the pure-Python pickler shows it: {id(obj): (index, obj)}.

        Building the items allocates, and so may run the garbage collector
        and user code that changes this memo: each key is referenced before
        anything is allocated, and the table is read afresh each time."""
        cdef dict result = {}
        cdef Py_ssize_t i = 0
        cdef Py_ssize_t value
        cdef object obj
        cdef MemoTable _keep = self      # held while user code may run
        while i <= self.mask:
            if self.table[i].key != NULL:
                obj = <object>self.table[i].key
                value = self.table[i].value
                result[id(obj)] = (value, obj)
            i += 1
        return result
