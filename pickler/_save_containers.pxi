# Containers and their batching, as pickle.py and _pickle.c write them:
# save_tuple, save_list (batch_list_exact for an exact list, _batch_appends
# for any iterator), save_dict (batch_dict_exact, _batch_setitems), save_set,
# save_frozenset, and fast mode's cycle guard (fast_save_enter/leave).
# Included by _pickler.pyx.  The batch sizes and the one-item forms show in
# the bytes: keep them as _pickle has them.  User code (an override of
# _batch_appends/_batch_setitems) is called only through call_user*
# (_pickler_surface.pxi).


cdef extern from "_pickler.h":
    # 1 and a borrowed entry, or 0 at the end (obj must be a set or frozenset).
    bint set_next_entry "_PySet_NextEntry" (object, Py_ssize_t *, PyObject **,
                                            Py_hash_t *) noexcept

cdef extern from "Python.h":
    bint PyAnySet_Check(object)


cdef int save_tuple(Pickler self, tuple obj) except -1:
    cdef PyObject *framer_ = <PyObject *>self.framer   # borrowed: fixed while running
    cdef PyObject *memo_      # borrowed, read where used (a hook may replace self.memo)
    cdef Py_ssize_t n = PyTuple_GET_SIZE(obj)
    cdef Py_ssize_t i, _pop
    cdef Py_ssize_t idx
    if n == 0:
        if self.proto:
            return buf_write_byte(<Framer>framer_, EMPTY_TUPLE)
        return buf_write(<Framer>framer_, b"(t", 2)
    if n <= 3 and self.proto >= 2:
        for i in range(n):
            save(self, <object>PyTuple_GET_ITEM(obj, i), 0)
        memo_ = <PyObject *>self.memo_table
        idx = memo_lookup(<MemoTable>memo_, <PyObject *>obj)
        if idx >= 0:
            # Recursive tuple: it was memoized while saving its items.
            for _pop in range(n):
                buf_write_byte(<Framer>framer_, POP)
            return memo_get(self, idx)
        buf_write_byte(<Framer>framer_, <char>(TUPLE1 - 1 + <int>n))
        return memoize_or_override(self, obj)
    buf_write_byte(<Framer>framer_, MARK)
    for i in range(n):
        save(self, <object>PyTuple_GET_ITEM(obj, i), 0)
    memo_ = <PyObject *>self.memo_table
    idx = memo_lookup(<MemoTable>memo_, <PyObject *>obj)
    if idx >= 0:
        if self.bin:
            buf_write_byte(<Framer>framer_, POP_MARK)
        else:
            for _pop in range(n + 1):
                buf_write_byte(<Framer>framer_, POP)
        return memo_get(self, idx)
    buf_write_byte(<Framer>framer_, TUPLE)
    return memoize_or_override(self, obj)


# write_list() or write_dict(), for save_fast_mode().
ctypedef int (*container_writer_t)(Pickler, object) except -1


cdef int save_list(Pickler self, object obj) except -1:
    if self.fast and not self.surface_mode:
        return save_fast_mode(self, obj, write_list)
    return write_list(self, obj)


cdef int write_list(Pickler self, object obj) except -1:
    """EMPTY_LIST, memoize, the items (save_list without fast mode)."""
    if self.bin:
        buf_write_byte(self.framer, EMPTY_LIST)
    else:
        buf_write(self.framer, b"(l", 2)
    memoize_or_override(self, obj)
    if self.hook_batch_appends is not None:
        call_user1(self, self.hook_batch_appends, obj)
    elif len(obj):
        enter_recursive_call(self.stack_floor)
        try:
            if self.proto > 0 and type(obj) is list:
                batch_list_exact(self, obj)
            else:
                _batch_appends(self, iter(obj))
        finally:
            Py_LeaveRecursiveCall()
    return 0


cdef int save_fast_mode(Pickler self, object obj, container_writer_t write) except -1:
    """A list or dict in fast mode: write(self, obj) between fast_save_enter() and
    fast_save_leave() (_pickle's cycle tracking; a subclass using the
    pure-Python surface gets pickle._Pickler's fast mode, which has
    none).  As in _pickle, leave runs on errors too (a
    failed enter included): a Pickler reused after a failed dump()
    then starts at the depth and with the open containers _pickle has
    (none after an ordinary error), not with stale ids that would make
    it refuse acyclic data."""
    try:
        fast_save_enter(self, obj)
        write(self, obj)
    finally:
        fast_save_leave(self, obj)
    return 0


cdef int batch_list_exact(Pickler self, list obj) except -1:
    cdef PyObject *framer_ = <PyObject *>self.framer   # borrowed: fixed while running
    cdef Py_ssize_t total = 0
    cdef Py_ssize_t this_batch
    cdef object item
    if PyList_GET_SIZE(obj) == 1:
        item = <object>PyList_GET_ITEM(obj, 0)
        save(self, item, 0)
        return buf_write_byte(<Framer>framer_, APPEND)
    while True:
        this_batch = 0
        buf_write_byte(<Framer>framer_, MARK)
        # The list may change while its items are pickled: re-read its size.
        while total < PyList_GET_SIZE(obj):
            item = <object>PyList_GET_ITEM(obj, total)
            save(self, item, 0)
            total += 1
            this_batch += 1
            if this_batch == BATCHSIZE:
                break
        buf_write_byte(<Framer>framer_, APPENDS)
        if total >= PyList_GET_SIZE(obj):
            break
    return 0


cdef int _batch_appends(Pickler self, object items) except -1:
    """APPEND/APPENDS for the items of an iterator (list subclasses,
    reduce listitems, protocol 0)."""
    cdef Framer framer = self.framer
    cdef int n
    cdef object first, item
    if self.proto == 0:
        for item in items:
            save(self, item, 0)
            buf_write_byte(framer, APPEND)
        return 0
    it = items
    while True:
        try:
            first = next(it)
        except StopIteration:
            return 0
        try:
            item = next(it)
        except StopIteration:
            save(self, first, 0)
            buf_write_byte(framer, APPEND)
            return 0
        buf_write_byte(framer, MARK)
        save(self, first, 0)
        first = None
        n = 1
        while True:
            save(self, item, 0)
            item = None
            n += 1
            if n == BATCHSIZE:
                break
            try:
                item = next(it)
            except StopIteration:
                break
        buf_write_byte(framer, APPENDS)
        if n != BATCHSIZE:
            return 0


cdef int save_dict(Pickler self, object obj) except -1:
    if self.fast and not self.surface_mode:
        return save_fast_mode(self, obj, write_dict)
    return write_dict(self, obj)


cdef int write_dict(Pickler self, object obj) except -1:
    """EMPTY_DICT, memoize, the items (save_dict without fast mode)."""
    if self.bin:
        buf_write_byte(self.framer, EMPTY_DICT)
    else:
        buf_write(self.framer, b"(d", 2)
    memoize_or_override(self, obj)
    if self.hook_batch_setitems is not None:
        call_user_on_items(self, self.hook_batch_setitems, obj)
    elif len(obj):
        enter_recursive_call(self.stack_floor)
        try:
            if self.proto > 0 and type(obj) is dict:
                batch_dict_exact(self, obj)
            else:
                _batch_setitems(self, iter(obj.items()))
        finally:
            Py_LeaveRecursiveCall()
    return 0


cdef int batch_dict_exact(Pickler self, dict obj) except -1:
    cdef PyObject *framer_ = <PyObject *>self.framer   # borrowed: fixed while running
    cdef Py_ssize_t size = len(obj)
    cdef Py_ssize_t pos = 0
    cdef PyObject *k
    cdef PyObject *v
    cdef object key, value
    cdef int i
    if size == 1:
        PyDict_Next(obj, &pos, &k, &v)
        key = <object>k
        value = <object>v
        save(self, key, 0)
        save(self, value, 0)
        return buf_write_byte(<Framer>framer_, SETITEM)
    while True:
        i = 0
        buf_write_byte(<Framer>framer_, MARK)
        while PyDict_Next(obj, &pos, &k, &v):
            # Strong references: pickling the key may mutate the dict.
            key = <object>k
            value = <object>v
            save(self, key, 0)
            save(self, value, 0)
            i += 1
            if i == BATCHSIZE:
                break
        buf_write_byte(<Framer>framer_, SETITEMS)
        if len(obj) != size:
            raise RuntimeError("dictionary changed size during iteration")
        if i != BATCHSIZE:
            return 0


cdef int _batch_setitems(Pickler self, object items) except -1:
    """SETITEM/SETITEMS for an iterator of (key, value) pairs (dict
    subclasses, reduce dictitems, protocol 0)."""
    cdef Framer framer = self.framer
    cdef int n
    cdef object first, item
    if self.proto == 0:
        for item in items:
            if not isinstance(item, tuple) or len(item) != 2:
                raise TypeError("dict items iterator must return 2-tuples")
            save(self, item[0], 0)
            save(self, item[1], 0)
            buf_write_byte(framer, SETITEM)
        return 0
    it = items
    while True:
        try:
            first = next(it)
        except StopIteration:
            return 0
        if not isinstance(first, tuple) or len(first) != 2:
            raise TypeError("dict items iterator must return 2-tuples")
        try:
            item = next(it)
        except StopIteration:
            save(self, first[0], 0)
            save(self, first[1], 0)
            buf_write_byte(framer, SETITEM)
            return 0
        buf_write_byte(framer, MARK)
        save(self, first[0], 0)
        save(self, first[1], 0)
        first = None
        n = 1
        while True:
            if not isinstance(item, tuple) or len(item) != 2:
                raise TypeError("dict items iterator must return 2-tuples")
            save(self, item[0], 0)
            save(self, item[1], 0)
            item = None
            n += 1
            if n == BATCHSIZE:
                break
            try:
                item = next(it)
            except StopIteration:
                break
        buf_write_byte(framer, SETITEMS)
        if n != BATCHSIZE:
            return 0


cdef int save_set(Pickler self, object obj) except -1:
    cdef Framer framer = self.framer
    cdef Py_ssize_t size
    cdef int i
    cdef Py_ssize_t pos = 0
    cdef PyObject *entry
    cdef Py_hash_t entry_hash
    if self.proto < 4:
        return save_reduce_or_override(self, (set, (list(obj),)), obj)
    buf_write_byte(framer, EMPTY_SET)
    memoize_or_override(self, obj)
    size = len(obj)
    if size == 0:
        return 0
    if PyAnySet_Check(obj):
        # As _pickle: a position in the set's table, not an iterator, so
        # a set that grows and shrinks back while an item is pickled
        # gives _pickle's bytes, and a size change its error.
        while True:
            i = 0
            buf_write_byte(framer, MARK)
            while set_next_entry(obj, &pos, &entry, &entry_hash):
                item = <object>entry
                save(self, item, 0)
                item = None
                i += 1
                if i == BATCHSIZE:
                    break
            buf_write_byte(framer, ADDITEMS)
            if len(obj) != size:
                raise RuntimeError("set changed size during iteration")
            if i != BATCHSIZE:
                return 0
    it = iter(obj)
    while True:
        i = 0
        buf_write_byte(framer, MARK)
        while True:
            try:
                item = next(it)
            except StopIteration:
                break
            save(self, item, 0)
            item = None
            i += 1
            if i == BATCHSIZE:
                break
        buf_write_byte(framer, ADDITEMS)
        if len(obj) != size:
            raise RuntimeError("set changed size during iteration")
        if i != BATCHSIZE:
            return 0


cdef int save_frozenset(Pickler self, object obj) except -1:
    cdef Framer framer = self.framer
    cdef Py_ssize_t idx
    if self.fast and not self.surface_mode:
        # As in _pickle: entered, never left.  (pickle._Pickler, which
        # the surface follows, tracks no cycles in fast mode.)
        fast_save_enter(self, obj)
    if self.proto < 4:
        return save_reduce_or_override(self, (frozenset, (list(obj),)), obj)
    buf_write_byte(framer, MARK)
    for item in obj:
        save(self, item, 0)
    idx = memo_lookup(self.memo_table, <PyObject *>obj)
    if idx >= 0:
        buf_write_byte(framer, POP_MARK)
        return memo_get(self, idx)
    buf_write_byte(framer, FROZENSET)
    return memoize_or_override(self, obj)


cdef int fast_save_enter(Pickler self, object obj) except -1:
    self.fast_nesting += 1
    if self.fast_nesting >= FAST_NESTING_LIMIT:
        if self.fast_memo is None:
            self.fast_memo = {}
        key = id(obj)
        if key in self.fast_memo:
            self.fast_nesting = -1
            raise ValueError(
                "fast mode: can't pickle cyclic objects including object "
                "type %.200s at %#x" % (type(obj).__name__, key))
        self.fast_memo[key] = None
    return 0


cdef int fast_save_leave(Pickler self, object obj) except -1:
    cdef int nesting = self.fast_nesting
    self.fast_nesting -= 1
    if nesting >= FAST_NESTING_LIMIT:
        del self.fast_memo[id(obj)]
    return 0
