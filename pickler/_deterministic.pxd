# cython: language_level=3
"""Declarations of the deterministic Pickler (see _deterministic.pyx)."""
from cpython.object cimport PyObject

from ._pickler cimport Pickler


cdef struct ValueEntry:
    PyObject *key               # owned reference; NULL: empty slot
    Py_hash_t hash              # the key's hash
    Py_ssize_t idx              # memo index of the value


cdef class ValueTable:
    cdef ValueEntry *table      # mask + 1 slots (a power of two), or NULL
    cdef size_t mask
    cdef Py_ssize_t used
    cdef PyObject *last_key     # the key of the last lookup() (borrowed, compared only)
    cdef Py_hash_t last_hash    # and its hash, for the insert() that follows

    cdef void clear(self) noexcept
    cdef Py_ssize_t lookup(self, object key) except -2
    cdef int insert(self, object key, Py_ssize_t idx) except -1
    cdef int resize(self) except -1


cdef class DeterministicPickler(Pickler):
    cdef public bint sort_keys  # dicts (exact type) written in canonical key order
    cdef ValueTable vtable      # value -> memo index: a str or bytes itself, or the
                                # value_key() of a tuple or frozenset
    cdef dict tokens            # key of a tuple or frozenset -> its token (object())
    cdef dict by_id             # id(obj) -> (obj, token): tokens already computed, and
                                # identity tokens of other objects (obj kept alive)
    cdef list keep_alive        # objects made during this dump whose id must stay unique
    cdef dict array_copies      # id(view) -> its contiguous copy (numpy)
    cdef object ndarray         # numpy.ndarray when numpy is imported, else None
    cdef DeterministicPickler order_pickler   # pickles set elements for their order
    cdef list ordering          # containers whose items are being ordered (shared by
                                # the order picklers they use)

    cdef int begin(self) except -1
    cdef void end(self) noexcept
    cdef object key_of(self, object obj)
    cdef object value_key(self, object obj)
    cdef object token_of(self, object obj)
    cdef object identity_token(self, object obj)
    cdef int write_memo_ref(self, object key) except -1
    cdef int record(self, object obj, object key) except -1
    cdef list canonical_order(self, list items, object owner)
    cdef bytes order_key(self, object item)
    cdef int save_tuple_by_value(self, tuple obj, object key) except -1
    cdef int save_reference(self, object obj) except -1
    cdef int save_set_canonical(self, object obj) except -1
    cdef int save_frozenset_canonical(self, object obj) except -1
    cdef int save_dict_sorted(self, dict obj) except -1
    cdef int save_array_copy(self, object obj) except -1
