"""pickler.safe: loading pickles from untrusted sources.

``pickler.safe_loads(data, allow=...)`` loads plain data and what *allow*
names, refusing everything else before it runs (docs/security.md).  This
namespace holds the ready-made allowlists and the scanner:

* ``pickler.safe.numpy``: numpy arrays, dtypes and scalars (both the
  ``numpy.core`` and ``numpy._core`` spellings);
* ``pickler.safe.pandas``: pandas frames, series, indexes, extension arrays
  and scalars (it includes ``numpy``);
* ``pickler.safe.DEFAULT``: the plain standard-library value types every
  SafeUnpickler allows;
* ``scan(data)``: every global a pickle refers to, without running it.

Allowlists combine with ``+`` (``pickler.safe.numpy + pickler.safe.pandas``),
and ``allow=`` also takes a tuple of allowlists, objects and
``"module.qualname"`` strings.
"""
from ._safe import (  # noqa: F401
    DEFAULT,
    NEVER_ALLOWED_BUILTINS,
    NEVER_ALLOWED_MODULES,
    NEVER_ALLOWED_NAMES,
    NUMPY as numpy,
    PANDAS as pandas,
    Allowlist,
    SafeUnpickler,
    UnpicklingRefused,
    safe_load,
    safe_loads,
)


def scan(data):
    """Every global the pickle *data* refers to, as a list of GlobalRef
    (module, name, opcode, offset), in stream order, without running
    anything: names built with STACK_GLOBAL from memoized strings included
    (None where the pickle computes them).  Raises pickle.UnpicklingError
    on a malformed stream."""
    from ._scan import scan as _scan
    return _scan(data)


def __getattr__(name):
    # GlobalRef lives with the scanner (pickletools and typing are imported
    # only when a scan runs, not by ``import pickler``).
    if name == "GlobalRef":
        from ._scan import GlobalRef
        return GlobalRef
    raise AttributeError(f"module 'pickler.safe' has no attribute {name!r}")
