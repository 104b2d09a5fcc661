"""CPython's own unpickling test-suite, run against ``pickler``'s Unpickler.

The abstract classes come from the *running* interpreter's
``test.pickletester``; they are wired the way that version's
``Lib/test/test_pickle.py`` wires the C implementation (``_pickle``), with
pickling done by the standard library's C pickler (``pickle.Pickler`` /
``pickle.dumps``) and unpickling by ``pickler._unpickler``:

* ``UnpicklerTests``        - ``AbstractUnpickleTests`` through
  ``Unpickler(BytesIO).load()`` (C error tuples: only UnpicklingError).
* ``InMemoryUnpickleTests`` - ``AbstractUnpickleTests`` +
  ``AbstractPickleTests`` + ``BigmemPickleTests`` through our ``loads``.
* ``PicklerTests``          - ``AbstractPickleTests`` round trips.
* ``PersPicklerTests`` / ``IdPersPicklerTests`` - persistent_load overrides,
  reference-cycle and ``super()`` checks (as ``CIdPersPicklerTests``).
* ``PicklerUnpicklerObjectTests`` - memo priming/reuse, plus
  ``test_issue18339`` (memo setter errors) as in ``CPicklerUnpicklerObjectTests``.
* ``PickleModuleTests``     - ``AbstractPickleModuleTests`` with our
  ``load``/``loads``/``Unpickler``.

Not wired: the ``Py*`` classes (pure-Python implementation), ``SizeofTests``
and ``HeapTypesTests`` (layout/flags of ``_pickle``'s own C types),
``AbstractPicklingErrorTests``/``AbstractDispatchTableTests``/
``AbstractHookTests`` (pickler-only; see tests/test_pickletester.py), and
``CompatPickleTests`` (``_compat_pickle`` tables only).

Skips that remain come from ``test.pickletester`` itself: ``requires_32b``
(32-bit builds only) and ``bigmemtest`` (5-32 GiB of memory; skipped unless
``test.support`` is given a memory limit).
"""
import io
import pickle
import sys
import unittest
import weakref

import pytest

from pickler._unpickler import Unpickler, load, loads

try:
    from test import pickletester as pt, support
except ImportError:  # pragma: no cover - some distro Pythons omit the test package
    pytest.skip("this interpreter does not ship test.pickletester "
                "(the CPython 'test' package)", allow_module_level=True)

PY313 = sys.version_info >= (3, 13)


def _c_dumps(arg, proto=None, **kwargs):
    f = io.BytesIO()
    pickle.Pickler(f, proto, **kwargs).dump(arg)
    return f.getvalue()


class UnpicklerTests(pt.AbstractUnpickleTests, unittest.TestCase):
    unpickler = Unpickler
    bad_stack_errors = (pickle.UnpicklingError,)
    truncated_errors = (pickle.UnpicklingError,)

    def loads(self, buf, **kwds):
        return self.unpickler(io.BytesIO(buf), **kwds).load()


class InMemoryUnpickleTests(pt.AbstractPickleTests, pt.AbstractUnpickleTests,
                            pt.BigmemPickleTests, unittest.TestCase):
    # Stricter than the stdlib's InMemoryPickleTests (which allows the
    # pure-Python errors too): our loads() must behave like _pickle.loads.
    unpickler = Unpickler
    # Used by test_evil_pickler_mutating_collection (skipped without it).
    pickler = pickle.Pickler
    bad_stack_errors = (pickle.UnpicklingError,)
    truncated_errors = (pickle.UnpicklingError,)

    def dumps(self, arg, protocol=None, **kwargs):
        return pickle.dumps(arg, protocol, **kwargs)

    def loads(self, buf, **kwds):
        return loads(buf, **kwds)

    # As in test_pickle.InMemoryPickleTests: this test needs a Pickler
    # object (self.pickler), which a module-function class does not have.
    test_framed_write_sizes_with_delayed_writer = None


class PicklerTests(pt.AbstractPickleTests, unittest.TestCase):
    pickler = pickle.Pickler
    unpickler = Unpickler

    def dumps(self, arg, proto=None, **kwargs):
        f = io.BytesIO()
        self.pickler(f, proto, **kwargs).dump(arg)
        f.seek(0)
        return bytes(f.read())

    def loads(self, buf, **kwds):
        return self.unpickler(io.BytesIO(buf), **kwds).load()


class PicklerTestsBufferedFile(PicklerTests):
    """Same round trips, read through a BufferedReader (peek() prefetching)."""

    def loads(self, buf, **kwds):
        f = io.BufferedReader(io.BytesIO(buf))
        obj = self.unpickler(f, **kwds).load()
        return obj


class PersistentMixin:
    def dumps(self, arg, proto=None):
        class PersPickler(self.pickler):
            def persistent_id(subself, obj):
                return self.persistent_id(obj)
        f = io.BytesIO()
        PersPickler(f, proto).dump(arg)
        return f.getvalue()

    def loads(self, buf, **kwds):
        class PersUnpickler(self.unpickler):
            def persistent_load(subself, obj):
                return self.persistent_load(obj)
        return PersUnpickler(io.BytesIO(buf), **kwds).load()


class PersPicklerTests(pt.AbstractPersistentPicklerTests, PersistentMixin,
                       unittest.TestCase):
    pickler = pickle.Pickler
    unpickler = Unpickler


class IdPersPicklerTests(pt.AbstractIdentityPersistentPicklerTests,
                         PersistentMixin, unittest.TestCase):
    pickler = pickle.Pickler
    unpickler = Unpickler
    persistent_load_error = pickle.UnpicklingError

    @support.cpython_only
    def test_unpickler_reference_cycle(self):
        # The hook is looked up per load() and dropped afterwards: no
        # Unpickler -> bound method -> Unpickler cycle survives a load.
        def check(Unpickler):
            for proto in range(pickle.HIGHEST_PROTOCOL + 1):
                unpickler = Unpickler(io.BytesIO(self.dumps('abc', proto)))
                self.assertEqual(unpickler.load(), 'abc')
            unpickler = Unpickler(io.BytesIO())
            self.assertEqual(unpickler.persistent_load('def'), 'def')
            r = weakref.ref(unpickler)
            del unpickler
            self.assertIsNone(r())

        class PersUnpickler(self.unpickler):
            def persistent_load(subself, pid):
                return pid
        check(PersUnpickler)

        class PersUnpickler(self.unpickler):
            @classmethod
            def persistent_load(cls, pid):
                return pid
        check(PersUnpickler)

        class PersUnpickler(self.unpickler):
            @staticmethod
            def persistent_load(pid):
                return pid
        check(PersUnpickler)

    @unittest.skipUnless(PY313, "the default persistent_load method (for super()) "
                                "exists from Python 3.13 on, as in _pickle")
    def test_unpickler_super(self):
        class PersUnpickler(self.unpickler):
            def persistent_load(subself, pid):
                with self.assertRaises(self.persistent_load_error):
                    super().persistent_load(pid)
                return pid

        for proto in range(pickle.HIGHEST_PROTOCOL + 1):
            unpickler = PersUnpickler(io.BytesIO(self.dumps('abc', proto)))
            self.assertEqual(unpickler.load(), 'abc')


class PicklerUnpicklerObjectTests(pt.AbstractPicklerUnpicklerObjectTests,
                                  unittest.TestCase):
    pickler_class = pickle.Pickler
    unpickler_class = Unpickler

    def test_issue18339(self):
        unpickler = self.unpickler_class(io.BytesIO())
        with self.assertRaises(TypeError):
            unpickler.memo = object
        with self.assertRaises(ValueError):
            unpickler.memo = {-1: None}
        unpickler.memo = {1: None}
        # Unlike _pickle (gh-111066), the assigned dict really becomes the memo.
        self.assertEqual(unpickler.memo.copy(), {1: None})


class PickleModuleTests(pt.AbstractPickleModuleTests, unittest.TestCase):
    # Cython functions are descriptors (they bind like Python functions),
    # hence staticmethod, unlike the raw builtins of _pickle.
    dump = staticmethod(pickle.dump)
    dumps = staticmethod(pickle.dumps)
    load = staticmethod(load)
    loads = staticmethod(loads)
    Pickler = pickle.Pickler
    Unpickler = Unpickler


class CrossImplementationTests(pt.AbstractPickleTests, unittest.TestCase):
    """Pure-Python pickler output loaded by our Unpickler
    (as test_pickle.DumpPickle_CLoadPickle)."""
    pickler = pickle._Pickler
    unpickler = Unpickler

    def dumps(self, arg, proto=None, **kwargs):
        f = io.BytesIO()
        self.pickler(f, proto, **kwargs).dump(arg)
        return f.getvalue()

    def loads(self, buf, **kwds):
        return self.unpickler(io.BytesIO(buf), **kwds).load()



if __name__ == "__main__":
    unittest.main()
