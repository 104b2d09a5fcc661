"""CPython's own pickling test-suite, run against ``pickler``.

The abstract test classes come from the *running* interpreter's
``test.pickletester`` and are wired the way that version's
``Lib/test/test_pickle.py`` wires the C implementation (``_pickle``):

* pickling is always done by ``pickler`` (``pickler.Pickler`` or the module
  functions ``pickler.dump``/``pickler.dumps``);
* unpickling is done by the standard library (``_pickle.Unpickler`` through
  ``pickle.Unpickler``/``pickle.loads``; the pure-Python ``pickle._Unpickler``
  in the mixed class), except in the module-API class, which uses
  ``pickler.load``/``pickler.loads`` as ``import pickler as pickle`` would.
  The compiled Unpickler has its own tests (``tests/test_unpickler*.py``).

Classes of ``test_pickle.py`` that are not wired here, and why:

* ``Py*`` classes: they test ``pickle._Pickler``, the pure-Python pickler.
* ``CUnpicklerTests`` and ``test_issue18339`` / ``test_unpickler_*``: they
  test the unpickler only (owned by ``tests/test_unpickler*.py``).
* ``DumpPickle_CLoadPickle``: pure-Python pickler with the C unpickler; no
  ``pickler`` code involved.
* ``SizeofTests``: asserts the exact ``__sizeof__`` of ``_pickle``'s C struct
  layout, which is specific to ``_pickle.c``.
* ``HeapTypesTests`` (3.12+): asserts properties of ``_pickle``'s own heap
  types (immutability flags of the C module's types).
* ``CompatPickleTests``: checks the ``_compat_pickle`` tables only.

Skips that remain come from decorators and ``skipTest`` calls *inside*
``test.pickletester`` itself (run ``pytest -rs`` to list them):
``requires_32b`` (tests for 32-bit builds only), ``only verified in the
Python implementation`` (3.13 ``AbstractPicklingErrorTests`` branches that the
C pickler skips as well), ``bigmemtest`` (needs 5-32 GiB; only run when
``PICKLER_BIGMEM`` sets a memory limit), and
``Test needs Numpy`` when numpy is missing.
"""
import _pickle
import collections
import io
import os
import pickle
import sys
import unittest
import weakref

import pytest

import pickler

try:
    from test import pickletester as pt, support
except ImportError:  # pragma: no cover - distro Pythons may omit the test package
    pytest.skip("this interpreter does not ship test.pickletester "
                "(the CPython 'test' package)", allow_module_level=True)


PY313 = sys.version_info >= (3, 13)

# BigmemPickleTests (>4 GiB str/bytes/int, the 8-byte length opcodes) are
# skipped by test.support.bigmemtest unless a memory limit is set, as
# regrtest's -M option does.  They need 5-32 GiB and minutes each, more than
# CI has; opt in with e.g. PICKLER_BIGMEM=12G.
if os.environ.get("PICKLER_BIGMEM"):
    support.set_memlimit(os.environ["PICKLER_BIGMEM"])


def _dump_to_bytesio(pickler_class, arg, proto=None, **kwargs):
    f = io.BytesIO()
    p = pickler_class(f, proto, **kwargs)
    p.dump(arg)
    f.seek(0)
    return bytes(f.read())


# --------------------------------------------------------------------------
# Module API: AbstractPickleModuleTests with everything taken from pickler.
# Cython functions are binding cyfunctions with a __get__, so they must be
# wrapped in staticmethod() to be used as class attributes.
# --------------------------------------------------------------------------
class PicklerModuleTests(pt.AbstractPickleModuleTests, unittest.TestCase):
    dump = staticmethod(pickler.dump)
    dumps = staticmethod(pickler.dumps)
    load = staticmethod(pickler.load)
    loads = staticmethod(pickler.loads)
    Pickler = pickler.Pickler
    Unpickler = pickler.Unpickler


# --------------------------------------------------------------------------
# AbstractPickleTests: pickler.Pickler writes, _pickle.Unpickler reads.
# --------------------------------------------------------------------------
class PicklerTests(pt.AbstractPickleTests, unittest.TestCase):
    pickler = pickler.Pickler
    unpickler = pickle.Unpickler   # _pickle.Unpickler

    def dumps(self, arg, proto=None, **kwargs):
        return _dump_to_bytesio(self.pickler, arg, proto, **kwargs)

    def loads(self, buf, **kwds):
        return self.unpickler(io.BytesIO(buf), **kwds).load()


# Mixed: pickler.Pickler writes, the pure-Python pickle._Unpickler reads
# (the counterpart of test_pickle's CDumpPickle_LoadPickle).
class PicklerDumpPyLoadTests(PicklerTests):
    unpickler = pickle._Unpickler


# In-memory: module-level pickler.dumps with the stdlib's pickle.loads.
# test_pickle's InMemoryPickleTests has no ``pickler`` attribute and so nulls
# out / skips the tests that need one; here ``pickler`` is provided so that
# those tests run too.  AbstractUnpickleTests is not mixed in: with
# pickle.loads it would only test the standard library.
class PicklerInMemoryTests(pt.AbstractPickleTests, pt.BigmemPickleTests,
                           unittest.TestCase):
    pickler = pickler.Pickler

    def dumps(self, arg, protocol=None, **kwargs):
        return pickler.dumps(arg, protocol, **kwargs)

    def loads(self, buf, **kwds):
        return pickle.loads(buf, **kwds)


if hasattr(pt, "AbstractPicklingErrorTests"):      # 3.13+
    class PicklerPicklingErrorTests(pt.AbstractPicklingErrorTests,
                                    unittest.TestCase):
        pickler = pickler.Pickler

        def dumps(self, arg, proto=None, **kwargs):
            return _dump_to_bytesio(self.pickler, arg, proto, **kwargs)


# --------------------------------------------------------------------------
# Persistent ids.
# --------------------------------------------------------------------------
class PersistentMixin:
    def dumps(self, arg, proto=None):
        outer = self

        class PersPickler(self.pickler):
            def persistent_id(self, obj):
                return outer.persistent_id(obj)
        f = io.BytesIO()
        PersPickler(f, proto).dump(arg)
        return f.getvalue()

    def loads(self, buf, **kwds):
        outer = self

        class PersUnpickler(self.unpickler):
            def persistent_load(self, pid):
                return outer.persistent_load(pid)
        return PersUnpickler(io.BytesIO(buf), **kwds).load()


class PicklerPersTests(pt.AbstractPersistentPicklerTests, PersistentMixin,
                       unittest.TestCase):
    pickler = pickler.Pickler
    unpickler = pickle.Unpickler


class PicklerIdPersTests(pt.AbstractIdentityPersistentPicklerTests,
                         PersistentMixin, unittest.TestCase):
    pickler = pickler.Pickler
    unpickler = pickle.Unpickler
    persistent_load_error = pickle.UnpicklingError

    def _check_no_cycle(self, Pickler):
        # persistent_id defined on the class must not make the pickler
        # part of a reference cycle: it dies as soon as its last reference
        # goes (no gc.collect() here on purpose).
        for proto in range(pickle.HIGHEST_PROTOCOL + 1):
            f = io.BytesIO()
            p = Pickler(f, proto)
            p.dump('abc')
            self.assertEqual(self.loads(f.getvalue()), 'abc')
        p = Pickler(io.BytesIO())
        self.assertEqual(p.persistent_id('def'), 'def')
        ref = weakref.ref(p)
        del p
        self.assertIsNone(ref())

    @support.cpython_only
    def test_pickler_reference_cycle(self):
        class AsMethod(self.pickler):
            def persistent_id(self, obj):
                return obj
        self._check_no_cycle(AsMethod)

        class AsClassmethod(self.pickler):
            @classmethod
            def persistent_id(cls, obj):
                return obj
        self._check_no_cycle(AsClassmethod)

        class AsStaticmethod(self.pickler):
            @staticmethod
            def persistent_id(obj):
                return obj
        self._check_no_cycle(AsStaticmethod)

    def test_persistent_id_instance_attribute(self):
        # Assigning persistent_id on an instance of a subclass works on every
        # version of _pickle; check it round-trips and matches _pickle.
        def pid(obj):
            return obj if obj == 'abc' else None

        class Sub(self.pickler):
            pass

        class CSub(_pickle.Pickler):
            pass

        data = ['abc', 'xyz', ('abc',)]
        for proto in range(pickle.HIGHEST_PROTOCOL + 1):
            f, g = io.BytesIO(), io.BytesIO()
            p, q = Sub(f, proto), CSub(g, proto)
            p.persistent_id = pid
            q.persistent_id = pid
            p.dump(data)
            q.dump(data)
            self.assertEqual(f.getvalue(), g.getvalue())
            self.assertEqual(self.loads(f.getvalue()), data)

    @support.cpython_only
    def test_custom_pickler_dispatch_table_memleak(self):
        # gh-89988: a dispatch_table set before Pickler.__init__ must be
        # released together with the pickler.
        class Table:
            pass
        table = Table()

        class P(self.pickler):
            def __init__(self, *args, **kwargs):
                self.dispatch_table = table
                super().__init__(*args, **kwargs)

        p = P(io.BytesIO())
        self.assertIs(p.dispatch_table, table)
        ref = weakref.ref(table)
        del p
        table = None    # the closure in P.__init__ held the last reference
        support.gc_collect()
        self.assertIsNone(ref())

    if PY313:
        # 3.13 added a default Pickler.persistent_id() returning None
        # (gh-89850), reachable through super().
        def test_pickler_super(self):
            outer = self

            class PersPickler(self.pickler):
                def persistent_id(self, obj):
                    outer.assertIsNone(super().persistent_id(obj))
                    return obj

            for proto in range(pickle.HIGHEST_PROTOCOL + 1):
                f = io.BytesIO()
                PersPickler(f, proto).dump('abc')
                self.assertEqual(self.loads(f.getvalue()), 'abc')


# --------------------------------------------------------------------------
# Pickler/Unpickler objects, dispatch tables, reducer_override hooks.
# --------------------------------------------------------------------------
class PicklerObjectTests(pt.AbstractPicklerUnpicklerObjectTests,
                         unittest.TestCase):
    pickler_class = pickler.Pickler
    unpickler_class = pickle.Unpickler


class PicklerDispatchTableTests(pt.AbstractDispatchTableTests,
                                unittest.TestCase):
    pickler_class = pickler.Pickler

    def get_dispatch_table(self):
        return pickle.dispatch_table.copy()


class PicklerChainDispatchTableTests(pt.AbstractDispatchTableTests,
                                     unittest.TestCase):
    pickler_class = pickler.Pickler

    def get_dispatch_table(self):
        return collections.ChainMap({}, pickle.dispatch_table)


class PicklerHookTests(pt.AbstractHookTests, unittest.TestCase):
    class CustomPicklerClass(pickler.Pickler, pt.AbstractCustomPicklerClass):
        pass
    pickler_class = CustomPicklerClass
