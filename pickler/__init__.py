"""pickler: a compiled, drop-in replacement for the standard ``pickle`` module.

``import pickler as pickle`` gives the same functions, classes, arguments,
defaults, exceptions and constants as the running interpreter's ``pickle``.
The output of :func:`dumps` and :class:`Pickler` is byte-for-byte the output of
CPython's C pickler (``_pickle``) for every object and protocol 0 to 5.

The exceptions and :class:`PickleBuffer` are the standard library's own
objects, so ``except pickle.PicklingError`` catches errors raised here.
"""
import pickle as _stdpickle

# Every name imported here is re-exported (written `name as name`): the public
# API is pickle's __all__ (built below) plus the capabilities.
#
# The stdlib's own exception classes and PickleBuffer: code written against
# ``pickle`` must catch and construct exactly these objects.
from pickle import (
    DEFAULT_PROTOCOL as DEFAULT_PROTOCOL,
    HIGHEST_PROTOCOL as HIGHEST_PROTOCOL,
    PickleBuffer as PickleBuffer,
    PickleError as PickleError,
    PicklingError as PicklingError,
    UnpicklingError as UnpicklingError,
)

# The capabilities beyond pickle's API, each with its own page in docs/; none
# is in __all__, which stays pickle's:
# - loading untrusted data with an allowlist (docs/security.md): safe, _safe;
# - deterministic pickles and content hashes (docs/hashing.md): _deterministic;
# - files of a protocol 5 pickle plus aligned out-of-band buffers, opened by
#   mapping them (docs/file-format.md): _file; ``pickler.open`` must not shadow
#   the builtin under ``from pickler import *``.
from . import safe as safe
from ._deterministic import (
    DeterministicPickler as DeterministicPickler,
    deterministic_dumps as deterministic_dumps,
    hash as hash,
)
from ._file import FileFormatError as FileFormatError, open as open, save as save
from ._pickler import Pickler as Pickler, dump as dump, dumps as dumps
from ._safe import (
    SafeUnpickler as SafeUnpickler,
    UnpicklingRefused as UnpicklingRefused,
    safe_load as safe_load,
    safe_loads as safe_loads,
)
from ._unpickler import Unpickler as Unpickler, load as load, loads as loads

# Opcode constants (MARK, STOP, ..., READONLY_BUFFER) and the other public
# module attributes of ``pickle`` (format_version, compatible_formats, ...)
# are re-exported unchanged.
_OPCODE_NAMES = [name for name in _stdpickle.__all__
                 if name.isupper() and name not in
                 ("HIGHEST_PROTOCOL", "DEFAULT_PROTOCOL")]
globals().update({name: getattr(_stdpickle, name) for name in _OPCODE_NAMES})

format_version = _stdpickle.format_version
compatible_formats = _stdpickle.compatible_formats
bytes_types = _stdpickle.bytes_types
whichmodule = _stdpickle.whichmodule
encode_long = _stdpickle.encode_long
decode_long = _stdpickle.decode_long
dispatch_table = _stdpickle.dispatch_table

__all__ = list(_stdpickle.__all__)
__version__ = "0.1.0"

del _OPCODE_NAMES
