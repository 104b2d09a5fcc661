"""Helpers for the differential tests: run ``pickler`` and ``_pickle`` on the
same input and demand identical results.

Not a test module (pytest only collects ``test_*.py``); the test modules
import it by name because pytest puts ``tests/`` on ``sys.path``.
"""
import _pickle
import collections
import io
import pickle

import pickler
from fixtures import RecordingFile

PROTOCOLS = tuple(range(pickle.HIGHEST_PROTOCOL + 1))

# Totals shown by conftest.pytest_terminal_summary:
#   objects[kind]      objects (or object graphs) compared, per kind
#   comparisons[kind]  individual byte-sequence / write-sequence / buffer
#                      sequence comparisons made for them
objects = collections.Counter()
comparisons = collections.Counter()


def buffer_record(pb):
    """What we compare about a PickleBuffer handed to buffer_callback."""
    m = memoryview(pb)
    try:
        raw = pb.raw().tobytes()
    except BufferError:          # non-contiguous: raw() refuses
        raw = None
    return (raw, m.tobytes(), m.readonly, m.format, m.shape, m.strides)


class _Outcome:
    """Result of one pickling run: the output, or the exception type."""
    __slots__ = ("data", "exc", "buffers")

    def __init__(self, data=None, exc=None, buffers=None):
        self.data = data
        self.exc = exc
        self.buffers = buffers

    def key(self):
        return (self.data, self.exc, self.buffers)

    def __repr__(self):
        if self.exc is not None:
            return f"<raised {self.exc.__name__}>"
        d = self.data
        if isinstance(d, bytes) and len(d) > 300:
            d = d[:300] + b"...(%d bytes)" % len(self.data)
        return f"<{d!r} buffers={self.buffers!r}>"


def _make_callback(callback_returns):
    """buffer_callback that records every PickleBuffer and returns
    ``callback_returns`` (None: out-of-band, True: in-band)."""
    seen = []

    def callback(pb):
        seen.append(buffer_record(pb))
        return callback_returns
    return callback, seen


def _run(mode, impl, obj, proto, kwargs, oob, pickler_factory):
    kw = dict(kwargs)
    seen = None
    if oob is not None:
        kw["buffer_callback"], seen = _make_callback(
            None if oob == "none" else True)
    try:
        if mode == "dumps":
            data = impl.dumps(obj, proto, **kw)
        else:
            f = io.BytesIO() if mode == "bytesio" else RecordingFile()
            if pickler_factory is not None:
                p = pickler_factory(impl, f, proto, **kw)
            else:
                p = impl.Pickler(f, proto, **kw)
            p.dump(obj)
            data = f.getvalue() if mode == "bytesio" else tuple(f.calls)
    except RecursionError:
        return _Outcome(exc=RecursionError)
    except Exception as e:
        return _Outcome(exc=type(e))
    return _Outcome(data=data, buffers=tuple(seen) if seen is not None else None)


def check(obj, protocols=PROTOCOLS, *, kind="corpus", oob=None,
          modes=("dumps", "bytesio", "record"), pickler_factory=None,
          expect_ok=True, **kwargs):
    """Assert that pickler produces exactly what _pickle produces for
    ``obj`` under each protocol and each mode:

    * ``dumps``: module-level ``dumps``;
    * ``bytesio``: ``Pickler(BytesIO()).dump`` output bytes;
    * ``record``: the exact sequence of ``write()`` calls on a file object.

    ``oob`` = None (no buffer_callback), ``"none"`` (callback returning None:
    buffers out-of-band) or ``"true"`` (callback returning True: in-band);
    the sequence of PickleBuffers given to the callback is compared too.
    ``pickler_factory(impl, file, proto, **kw)`` builds the Pickler for the
    file modes (for subclasses with hooks); ``impl`` is the ``pickler`` or
    ``_pickle`` module.

    _pickle is run before and after pickler: if the second reference differs
    from the first, pickler has changed the object while pickling it.
    If _pickle raises, pickler must raise the same exception type; with
    ``expect_ok`` _pickle must succeed (so the case is not vacuous).
    Returns the list of reference outcomes.
    """
    objects[kind] += 1
    refs = []
    for proto in protocols:
        for mode in modes:
            if mode == "dumps" and pickler_factory is not None:
                continue
            ref = _run(mode, _pickle, obj, proto, kwargs, oob, pickler_factory)
            got = _run(mode, pickler, obj, proto, kwargs, oob, pickler_factory)
            ref2 = _run(mode, _pickle, obj, proto, kwargs, oob, pickler_factory)
            where = f"proto={proto!r} mode={mode} oob={oob!r} kwargs={kwargs!r}"
            if expect_ok:
                assert ref.exc is None, f"_pickle raised {ref.exc} ({where})"
            assert got.key() == ref.key(), (
                f"pickler differs from _pickle ({where}):\n pickler: {got!r}\n _pickle: {ref!r}")
            assert ref2.key() == ref.key(), (
                "the object pickles differently after pickler touched it "
                f"({where}):\n before: {ref!r}\n after: {ref2!r}")
            comparisons[kind] += 1
            refs.append(ref)
    return refs
