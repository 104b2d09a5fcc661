# cython: language_level=3
"""Deterministic pickles and content hashes (docs/hashing.md).

`DeterministicPickler` is the compiled Pickler with one more per-object hook,
`save_deterministic()`, which the core calls after persistent_id and a
subclass's `dispatch` entries (see `det_mode` in _pickler.pxd).  It takes
the objects whose standard pickle depends on more than their value:

- str and bytes: memoized by value as well as by identity, so equal strings
  are written once and then fetched, whether or not they are the same object;
- tuples and frozensets: memoized by value through a token per distinct
  value (a tuple's token is computed from its items' keys: atoms by value,
  tuples and frozensets by their own tokens, anything else by identity), so
  equal tuples of atoms give the same bytes and shared tuple DAGs stay
  linear;
- sets and frozensets: items written in a canonical order (sorted for
  all-str, all-bytes or all-int items, else by each item's own deterministic
  pickle);
- dicts with sort_keys: items in the same canonical order of their keys;
- numpy arrays that are neither C- nor F-contiguous: pickled as their
  C-contiguous copy, so a view hashes as the copy.

Everything else goes through the core's save path unchanged (identity memo,
reduce, hooks).  Every dump() starts from an empty memo.
"""
import hashlib
import sys
from pickle import PickleBuffer

cimport cython
from cpython.object cimport PyObject, PyTypeObject, Py_TYPE
from cpython.float cimport PyFloat_AS_DOUBLE
from cpython.mem cimport PyMem_Calloc, PyMem_Free
from cpython.pyport cimport PY_SSIZE_T_MAX
from cpython.object cimport PyObject_Hash, PyObject_RichCompareBool, Py_EQ
from cpython.ref cimport Py_INCREF, Py_XDECREF
from cpython.tuple cimport PyTuple_GET_SIZE
from libc.string cimport memcpy

from ._pickler cimport (Pickler, Py_LeaveRecursiveCall, enter_recursive_call, setup_to_bytes,
                        run_dump, release_memo,
                        save, memo_get, save_str, save_bytes, memoize_or_override,
                        save_reduce_or_override, batch_setitems_or_override)
from ._memo cimport memo_lookup
from ._buffer cimport buf_write, buf_write_byte
from ._protocol cimport (MARK, POP, POP_MARK, TUPLE, TUPLE1, EMPTY_SET, ADDITEMS,
                         FROZENSET, EMPTY_DICT, BATCHSIZE)


# The protocol used when none is given: fixed, so that a hash does not change
# with the interpreter's DEFAULT_PROTOCOL.  5 is the highest on 3.8 to 3.13,
# and the one that writes numpy arrays' data straight from their memory.
DETERMINISTIC_PROTOCOL = 5

cdef enum:
    SMALL_RESULT = 4096     # results up to this size are copied out of the buffer

# Private sentinels inside value keys (never equal to any user value).
cdef object _TRUE_KEY = object()
cdef object _FALSE_KEY = object()
cdef object _FLOAT_KEY = object()
cdef object _FROZENSET_KEY = object()


@cython.final
cdef class ValueTable:
    """Values already written -> their memo index: an open-addressing hash
    table on the keys' own hash and equality (str and bytes themselves, the
    value_key() of tuples and frozensets), holding a reference to each key.
    Keys only ever meet keys of the same type, and those are built from
    atoms and private sentinels: comparing them runs no user code.  (A dict
    costs a PyLong per index and twice the instructions per insertion.)"""

    def __cinit__(self):
        self.table = NULL
        self.mask = 0
        self.used = 0
        self.last_key = NULL

    def __dealloc__(self):
        self.clear()

    cdef void clear(self) noexcept:
        cdef size_t i
        cdef ValueEntry *table = self.table
        if table == NULL:
            return
        self.table = NULL
        for i in range(self.mask + 1):
            Py_XDECREF(table[i].key)
        PyMem_Free(table)
        self.mask = 0
        self.used = 0
        self.last_key = NULL

    cdef Py_ssize_t lookup(self, object key) except -2:
        """The memo index stored for a value equal to `key`, or -1."""
        cdef Py_hash_t h = PyObject_Hash(key)
        cdef size_t i
        cdef ValueEntry *entry
        cdef int eq
        self.last_key = <PyObject *>key
        self.last_hash = h
        if self.table == NULL:
            return -1
        i = <size_t>h & self.mask
        while True:
            entry = &self.table[i]
            if entry.key == NULL:
                return -1
            if entry.key == <PyObject *>key:
                return entry.idx
            if entry.hash == h and Py_TYPE(<object>entry.key) == Py_TYPE(key):
                eq = PyObject_RichCompareBool(<object>entry.key, key, Py_EQ)
                if eq < 0:
                    return -2
                if eq:
                    return entry.idx
            i = (i + 1) & self.mask

    cdef int insert(self, object key, Py_ssize_t idx) except -1:
        """Store `key` (not present) with memo index `idx`."""
        cdef Py_hash_t h
        cdef size_t i
        if self.last_key == <PyObject *>key:
            h = self.last_hash
        else:
            h = PyObject_Hash(key)
        if self.table == NULL or <size_t>(self.used + 1) * 3 >= (self.mask + 1) * 2:
            self.resize()
        i = <size_t>h & self.mask
        while self.table[i].key != NULL:
            i = (i + 1) & self.mask
        Py_INCREF(key)
        self.table[i].key = <PyObject *>key
        self.table[i].hash = h
        self.table[i].idx = idx
        self.used += 1
        return 0

    cdef int resize(self) except -1:
        cdef size_t size = 64 if self.table == NULL else 2 * (self.mask + 1)
        cdef size_t old_size = self.mask + 1
        cdef ValueEntry *old = self.table
        cdef ValueEntry *table
        cdef size_t i, j
        if size > (<size_t>PY_SSIZE_T_MAX) / sizeof(ValueEntry):
            raise MemoryError()
        table = <ValueEntry *>PyMem_Calloc(size, sizeof(ValueEntry))
        if table == NULL:
            raise MemoryError()
        if old != NULL:
            for i in range(old_size):
                if old[i].key != NULL:
                    j = <size_t>old[i].hash & (size - 1)
                    while table[j].key != NULL:
                        j = (j + 1) & (size - 1)
                    table[j] = old[i]
            PyMem_Free(old)
        self.table = table
        self.mask = size - 1
        return 0


@cython.final
cdef class _HashSink:
    """The "file" a hash is pickled into: write() feeds the hash's update().
    Frames arrive as bytes; a large payload arrives as the object that holds
    it (bytes, bytearray, or a PickleBuffer over an array's memory), which
    is handed over as a flat byte view of that memory, not a copy: some
    hashes (blake3) refuse a buffer whose items are not bytes."""
    cdef object update

    def __init__(self, update):
        self.update = update

    def write(self, data):
        if type(data) is not bytes:
            if type(data) is PickleBuffer:
                data = (<object>data).raw()
            else:
                data = memoryview(data).cast("B")
        self.update(data)


cdef class DeterministicPickler(Pickler):
    """DeterministicPickler(file, protocol=None, fix_imports=True,
    buffer_callback=None, *, sort_keys=False)

    A Pickler whose output depends only on the value of the object graph
    (docs/hashing.md).  protocol=None means protocol 5 on every Python
    version.  sort_keys=True writes dicts in a canonical key order instead of
    insertion order.  Every dump() starts with an empty memo.  The hooks
    (persistent_id, reducer_override, dispatch_table, the `dispatch`
    surface) work as with Pickler.
    """

    def __init__(self, file, protocol=None, fix_imports=True, buffer_callback=None,
                 *, sort_keys=False):
        if protocol is None:
            protocol = DETERMINISTIC_PROTOCOL
        Pickler.__init__(self, file, protocol, fix_imports, buffer_callback)
        self.det_mode = True
        self.sort_keys = bool(sort_keys)
        self.order_pickler = None

    def dump(self, obj):
        """Write the deterministic pickle of `obj` to the file."""
        if self.running:
            raise RuntimeError("Pickler object is already used")
        if self.initialized:
            Pickler.clear_memo(self)
        self.begin()
        try:
            Pickler.dump(self, obj)
        finally:
            self.end()

    def clear_memo(self):
        """Clears the memo, and the values written (which refer to it)."""
        Pickler.clear_memo(self)
        if self.vtable is not None:
            self.vtable.clear()

    # -- per-dump state -----------------------------------------------------

    cdef int begin(self) except -1:
        self.vtable = ValueTable.__new__(ValueTable)
        self.tokens = {}
        self.by_id = {}
        self.keep_alive = []
        self.array_copies = {}
        self.ordering = []
        numpy = sys.modules.get("numpy")
        self.ndarray = getattr(numpy, "ndarray", None) if numpy is not None else None
        if not isinstance(self.ndarray, type):
            self.ndarray = None
        return 0

    cdef void end(self) noexcept:
        self.vtable = None
        self.tokens = None
        self.by_id = None
        self.keep_alive = None
        self.array_copies = None
        self.ordering = None
        self.ndarray = None
        self.order_pickler = None

    # -- the hook -----------------------------------------------------------

    cdef int save_deterministic(self, object obj) except -1:
        cdef PyTypeObject *t = Py_TYPE(obj)
        cdef Py_ssize_t idx
        if self.vtable is None:
            # A subclass's dump() that calls Pickler.dump() directly: the
            # per-dump state is made here (and kept until our dump() or
            # deterministic_dumps() ends one).
            self.begin()
        if t == <PyTypeObject *>str or t == <PyTypeObject *>bytes:
            if self.fast:
                return 0
            idx = memo_lookup(self.memo_table, <PyObject *>obj)
            if idx >= 0:
                memo_get(self, idx)
                return 1
            idx = self.vtable.lookup(obj)
            if idx >= 0:
                memo_get(self, idx)
                return 1
            if t == <PyTypeObject *>str:
                save_str(self, obj)
            else:
                save_bytes(self, obj)
            self.record(obj, obj)
            return 1
        if (t == <PyTypeObject *>int or t == <PyTypeObject *>float
                or t == <PyTypeObject *>bool or obj is None):
            return 0
        if t == <PyTypeObject *>tuple:
            if PyTuple_GET_SIZE(obj) == 0 or self.fast:
                return 0
            idx = memo_lookup(self.memo_table, <PyObject *>obj)
            if idx >= 0:
                memo_get(self, idx)
                return 1
            key = self.value_key(obj)
            if self.write_memo_ref(key):
                return 1
            enter_recursive_call(self.stack_floor)
            try:
                self.save_tuple_by_value(obj, key)
            finally:
                Py_LeaveRecursiveCall()
            self.record(obj, key)
            return 1
        if t == <PyTypeObject *>dict:
            if self.sort_keys:
                return self.save_dict_sorted(obj)
            return 0
        if t == <PyTypeObject *>set:
            return self.save_set_canonical(obj)
        if t == <PyTypeObject *>frozenset:
            return self.save_frozenset_canonical(obj)
        if self.ndarray is not None and t == <PyTypeObject *>self.ndarray:
            return self.save_array_copy(obj)
        return 0

    # -- value keys ---------------------------------------------------------

    cdef object key_of(self, object obj):
        """A hashable key equal for equal values (of the canonicalised kinds)
        and for the same object (of any other kind), and only then."""
        cdef double d
        cdef unsigned long long bits
        t = type(obj)
        if t is str or t is bytes or t is int or obj is None:
            return obj
        if t is float:
            d = PyFloat_AS_DOUBLE(obj)
            memcpy(&bits, &d, sizeof(double))
            return (_FLOAT_KEY, bits)
        if obj is True:
            return _TRUE_KEY
        if obj is False:
            return _FALSE_KEY
        if t is tuple or t is frozenset:
            return self.token_of(obj)
        return self.identity_token(obj)

    cdef object value_key(self, object obj):
        """The key of a tuple's or frozenset's value: a tuple of atoms
        (exact str, bytes, int or None: equal only to an equal value of the
        same types) is its own key; any other tuple, the tuple of its items'
        keys; a frozenset, its tag and the frozenset of its items' keys.
        Keys hold tokens for nested tuples and frozensets, so they stay flat
        and hash in time proportional to their length."""
        if type(obj) is tuple:
            for item in <tuple>obj:
                t = type(item)
                if not (t is str or t is int or t is bytes or item is None):
                    break
            else:
                return obj
        enter_recursive_call(self.stack_floor)
        try:
            if type(obj) is tuple:
                return tuple([self.key_of(item) for item in <tuple>obj])
            return (_FROZENSET_KEY, frozenset([self.key_of(item) for item in obj]))
        finally:
            Py_LeaveRecursiveCall()

    cdef object token_of(self, object obj):
        """The token of a tuple's or frozenset's value: one object per
        distinct value in this dump.  Computed once per object (by_id), so
        a DAG of shared tuples costs its number of objects, not of paths."""
        oid = id(obj)
        entry = self.by_id.get(oid)
        if entry is not None:
            return (<tuple>entry)[1]
        key = self.value_key(obj)
        token = self.tokens.get(key)
        if token is None:
            token = object()
            self.tokens[key] = token
        self.by_id[oid] = (obj, token)
        return token

    cdef object identity_token(self, object obj):
        oid = id(obj)
        entry = self.by_id.get(oid)
        if entry is not None:
            return (<tuple>entry)[1]
        token = object()
        self.by_id[oid] = (obj, token)     # keeps obj alive: its id stays unique
        return token

    cdef int write_memo_ref(self, object key) except -1:
        """A memo reference to the value of `key`, if it was written: 1, else 0."""
        cdef Py_ssize_t idx = self.vtable.lookup(key)
        if idx < 0:
            return 0
        memo_get(self, idx)
        return 1

    cdef int record(self, object obj, object key) except -1:
        """After `obj` was written: its memo index is the value's."""
        cdef Py_ssize_t idx
        if self.fast:
            return 0
        idx = memo_lookup(self.memo_table, <PyObject *>obj)
        if idx >= 0:
            self.vtable.insert(key, idx)
        return 0

    # -- canonical order ----------------------------------------------------

    cdef list canonical_order(self, list items, object owner):
        """Items of a set (or keys of a dict) in an order that depends on
        their values only: sorted when they are all str, all bytes or all
        int, else by each item's own deterministic pickle."""
        cdef Py_ssize_t n = len(items)
        if n < 2:
            return items
        t0 = type(items[0])
        if t0 is str or t0 is bytes or t0 is int:
            for item in items:
                if type(item) is not t0:
                    break
            else:
                items.sort()
                return items
        # While its items' keys are pickled, `owner` is on the stack of
        # containers being ordered (shared with the pickler that pickles
        # them), so that an item leading back to it ends there.
        self.ordering.append(owner)
        try:
            keys = [self.order_key(item) for item in items]
        finally:
            self.ordering.pop()
        order = sorted(range(n), key=keys.__getitem__)
        return [items[i] for i in order]

    cdef bytes order_key(self, object item):
        """The deterministic pickle of `item` alone, by a pickler of this
        one's class with its protocol, hooks and attributes."""
        cdef DeterministicPickler sub = self.order_pickler
        if sub is None or sub.running:
            cls = type(self)
            sub = cls.__new__(cls)
            setup_to_bytes(sub, self.proto, self.fix_imports, None)
            sub.initialized = True
            sub.det_mode = True
            sub.sort_keys = self.sort_keys
            sub.pers_func_attr = self.pers_func_attr
            sub.dispatch_table_attr = self.dispatch_table_attr
            sub.has_dispatch_table = self.has_dispatch_table
            attrs = getattr(self, "__dict__", None)
            if attrs:
                sub.__dict__.update(attrs)
            self.order_pickler = sub
        sub.begin()
        sub.ordering = self.ordering
        try:
            run_dump(sub, item, 1)
            return sub.framer.take_result(SMALL_RESULT)
        except BaseException:
            sub.framer.drop_large_storage()
            raise
        finally:
            sub.end()
            release_memo(sub)

    # -- containers ---------------------------------------------------------

    cdef int save_tuple_by_value(self, tuple obj, object key) except -1:
        """The core's tuple writer, except that a tuple found memoized after
        its items were written (a recursive tuple) is looked up by value
        too: an equal tuple memoized meanwhile is the same value."""
        cdef Py_ssize_t n = PyTuple_GET_SIZE(obj)
        cdef Py_ssize_t i
        cdef Py_ssize_t idx
        cdef bint small = n <= 3 and self.proto >= 2
        if not small:
            buf_write_byte(self.framer, MARK)
        for item in obj:
            save(self, item, 0)
        idx = memo_lookup(self.memo_table, <PyObject *>obj)
        if idx < 0:
            idx = self.vtable.lookup(key)
        if idx >= 0:
            if small or not self.bin:
                i = n if small else n + 1
                while i > 0:
                    buf_write_byte(self.framer, POP)
                    i -= 1
            else:
                buf_write_byte(self.framer, POP_MARK)
            return memo_get(self, idx)
        if small:
            buf_write_byte(self.framer, <char>(TUPLE1 - 1 + <int>n))
        else:
            buf_write_byte(self.framer, TUPLE)
        return memoize_or_override(self, obj)

    cdef int save_reference(self, object obj) except -1:
        """What the canonical savers write instead of the container itself:
        a memo reference when it was pickled already, or, in the pickle of
        an item being ordered, a marker of its depth on the ordering stack
        when the item leads back to a container being ordered.  Returns 1
        when it wrote either."""
        cdef Py_ssize_t i
        cdef Py_ssize_t idx = memo_lookup(self.memo_table, <PyObject *>obj)
        if idx >= 0:
            memo_get(self, idx)
            return 1
        if not self.ordering:
            return 0
        for i in range(len(self.ordering)):
            if self.ordering[i] is obj:
                save(self, ("pickler.deterministic: container being ordered", i), 0)
                return 1
        return 0

    cdef int save_set_canonical(self, object obj) except -1:
        cdef Py_ssize_t i, j, n
        cdef list items
        if self.save_reference(obj):
            return 1
        items = self.canonical_order(list(obj), obj)
        enter_recursive_call(self.stack_floor)
        try:
            if self.proto < 4:
                save_reduce_or_override(self, (set, (items,)), obj)
                return 1
            buf_write_byte(self.framer, EMPTY_SET)
            memoize_or_override(self, obj)
            n = len(items)
            i = 0
            while i < n:
                buf_write_byte(self.framer, MARK)
                j = min(i + BATCHSIZE, n)
                while i < j:
                    save(self, items[i], 0)
                    i += 1
                buf_write_byte(self.framer, ADDITEMS)
        finally:
            Py_LeaveRecursiveCall()
        return 1

    cdef int save_frozenset_canonical(self, object obj) except -1:
        cdef Py_ssize_t idx
        cdef list items
        if self.save_reference(obj):
            return 1
        key = None
        if not self.fast:
            key = self.value_key(obj)
            if self.write_memo_ref(key):
                return 1
        items = self.canonical_order(list(obj), obj)
        enter_recursive_call(self.stack_floor)
        try:
            if self.proto < 4:
                save_reduce_or_override(self, (frozenset, (items,)), obj)
            else:
                buf_write_byte(self.framer, MARK)
                for item in items:
                    save(self, item, 0)
                idx = memo_lookup(self.memo_table, <PyObject *>obj)
                if idx < 0 and key is not None:
                    idx = self.vtable.lookup(key)
                if idx >= 0:
                    # Recursive: it (or an equal frozenset) was memoized
                    # while its items were written.
                    buf_write_byte(self.framer, POP_MARK)
                    memo_get(self, idx)
                else:
                    buf_write_byte(self.framer, FROZENSET)
                    memoize_or_override(self, obj)
        finally:
            Py_LeaveRecursiveCall()
        if key is not None:
            self.record(obj, key)
        return 1

    cdef int save_dict_sorted(self, dict obj) except -1:
        cdef list items
        if self.save_reference(obj):
            return 1
        items = [(key, obj[key]) for key in self.canonical_order(list(obj), obj)]
        if self.bin:
            buf_write_byte(self.framer, EMPTY_DICT)
        else:
            buf_write(self.framer, b"(d", 2)
        memoize_or_override(self, obj)
        enter_recursive_call(self.stack_floor)
        try:
            if items or self.hook_batch_setitems is not None:
                batch_setitems_or_override(self, iter(items))
        finally:
            Py_LeaveRecursiveCall()
        return 1

    cdef int save_array_copy(self, object obj) except -1:
        """A numpy array that is neither C- nor F-contiguous (a strided
        view) is pickled as its C-contiguous copy: numpy would write its
        data as a C-order copy anyway, but through a different reduction
        than the copy's.  The copy is made once per view per dump."""
        flags = obj.flags
        if flags.c_contiguous or flags.f_contiguous:
            return 0
        oid = id(obj)
        copy = self.array_copies.get(oid)
        if copy is None:
            copy = sys.modules["numpy"].ascontiguousarray(obj)
            self.array_copies[oid] = copy
            self.keep_alive.append(obj)
        save(self, copy, 0)
        return 1


def deterministic_dumps(obj, protocol=None, *, sort_keys=False, buffer_callback=None):
    """Return the deterministic pickle of `obj` as bytes (docs/hashing.md).

    The bytes depend only on the value of the object graph: sets in a
    canonical order, equal strings, bytes and tuples written alike whether or
    not they are the same object, the same in every process and with any
    PYTHONHASHSEED.  protocol=None means protocol 5 on every Python version.
    ``pickle.loads`` reads the result back to an equal object.
    """
    cdef DeterministicPickler pickler = DeterministicPickler.__new__(DeterministicPickler)
    if protocol is None:
        protocol = DETERMINISTIC_PROTOCOL
    setup_to_bytes(pickler, protocol, True, buffer_callback)
    pickler.initialized = True
    pickler.det_mode = True
    pickler.sort_keys = bool(sort_keys)
    pickler.begin()
    try:
        run_dump(pickler, obj, 1)
        return pickler.framer.take_result(SMALL_RESULT)
    finally:
        pickler.end()


def hash(obj, algorithm="sha256", protocol=None, *, sort_keys=False):
    """The content hash of `obj`: its deterministic pickle fed to a hash.

    `algorithm` is a name for ``hashlib.new`` ("sha256", "blake2b", ...), a
    hash class or constructor called without arguments (``xxhash.xxh3_128``,
    ``blake3.blake3``), or a hash object with ``update()`` (fed, and then
    returned digest of).  The pickle is streamed: frames of 64 KiB go to
    ``update()`` as they fill, and payloads of 64 KiB or more (numpy array
    data, large bytes) are handed to ``update()`` straight from their
    memory, never copied.  Returns ``hexdigest()`` (``digest().hex()`` for
    an object without it; None for one with neither).
    """
    if isinstance(algorithm, str):
        hasher = hashlib.new(algorithm)
    elif isinstance(algorithm, type) or not hasattr(algorithm, "update"):
        if not callable(algorithm):
            raise TypeError("algorithm must be a hashlib name, a hash constructor "
                            "or an object with update(), not %s"
                            % type(algorithm).__name__)
        hasher = algorithm()
    else:
        hasher = algorithm
    cdef DeterministicPickler pickler = DeterministicPickler(
        _HashSink(hasher.update), protocol, sort_keys=sort_keys)
    pickler.dump(obj)
    if hasattr(hasher, "hexdigest"):
        return hasher.hexdigest()
    if hasattr(hasher, "digest"):
        return hasher.digest().hex()
    return None
