# Type stubs for pickler: the same public API as the standard library's pickle.
# Every name declared here exists on the module at run time (tests/test_stubs.py
# checks it), except the private typing-only helpers: Protocols and type aliases.
import os
from collections.abc import Callable, Iterable, Mapping
from pickle import (
    PickleBuffer as PickleBuffer,
    PickleError as PickleError,
    PicklingError as PicklingError,
    UnpicklingError as UnpicklingError,
)
from typing import Any, Literal, Protocol, TypeAlias

# The allowlist loader for untrusted data (pickler/_safe.pyx, docs/security.md).
from . import safe as safe

__version__: str
# pickle's own __all__ (the same on every supported version), in ruff's order.
__all__ = [
    "ADDITEMS", "APPEND", "APPENDS", "BINBYTES", "BINBYTES8", "BINFLOAT", "BINGET", "BININT",
    "BININT1", "BININT2", "BINPERSID", "BINPUT", "BINSTRING", "BINUNICODE", "BINUNICODE8", "BUILD",
    "BYTEARRAY8", "DEFAULT_PROTOCOL", "DICT", "DUP", "EMPTY_DICT", "EMPTY_LIST", "EMPTY_SET",
    "EMPTY_TUPLE", "EXT1", "EXT2", "EXT4", "FALSE", "FLOAT", "FRAME", "FROZENSET", "GET", "GLOBAL",
    "HIGHEST_PROTOCOL", "INST", "INT", "LIST", "LONG", "LONG1", "LONG4", "LONG_BINGET",
    "LONG_BINPUT", "MARK", "MEMOIZE", "NEWFALSE", "NEWOBJ", "NEWOBJ_EX", "NEWTRUE", "NEXT_BUFFER",
    "NONE", "OBJ", "PERSID", "POP", "POP_MARK", "PROTO", "PUT", "READONLY_BUFFER", "REDUCE",
    "SETITEM", "SETITEMS", "SHORT_BINBYTES", "SHORT_BINSTRING", "SHORT_BINUNICODE", "STACK_GLOBAL",
    "STOP", "STRING", "TRUE", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "UNICODE", "PickleBuffer",
    "PickleError", "Pickler", "PicklingError", "Unpickler", "UnpicklingError", "dump", "dumps",
    "load", "loads",
]

HIGHEST_PROTOCOL: int
DEFAULT_PROTOCOL: int
format_version: str
compatible_formats: list[str]
bytes_types: tuple[type[Any], ...]
dispatch_table: dict[type, Callable[[Any], str | tuple[Any, ...]]]

def whichmodule(obj: Any, name: str) -> str: ...
def encode_long(x: int) -> bytes: ...
def decode_long(data: bytes) -> int: ...

class _WritableFileobj(Protocol):
    def write(self, b: bytes, /) -> Any: ...

class _ReadableFileobj(Protocol):
    def read(self, n: int, /) -> bytes: ...
    def readline(self) -> bytes: ...

_BufferCallback: TypeAlias = Callable[[PickleBuffer], Any] | None

def dump(obj: Any, file: _WritableFileobj, protocol: int | None = None, *,
         fix_imports: bool = True, buffer_callback: _BufferCallback = None) -> None: ...
def dumps(obj: Any, protocol: int | None = None, *, fix_imports: bool = True,
          buffer_callback: _BufferCallback = None) -> bytes: ...
def load(file: _ReadableFileobj, *, fix_imports: bool = True, encoding: str = "ASCII",
         errors: str = "strict", buffers: Iterable[Any] | None = ()) -> Any: ...
def loads(data: Any, /, *, fix_imports: bool = True, encoding: str = "ASCII",
          errors: str = "strict", buffers: Iterable[Any] | None = ()) -> Any: ...

# Files of a pickle stream plus aligned out-of-band buffers (docs/file-format.md).
class FileFormatError(UnpicklingError, ValueError): ...

def save(obj: Any, path: str | os.PathLike[str], *, protocol: int | None = 5,
         checksum: bool = False, fsync: bool = True) -> None: ...
def open(path: str | os.PathLike[str], *, mmap_mode: Literal["r", "c", "r+"] | None = "r",
         allow: Any = None, verify: bool = False) -> Any: ...

# What Pickler.memo and Pickler.framer return; their classes are not part of the API.
class _PicklerMemoLike(Protocol):
    def clear(self) -> None: ...
    def copy(self) -> dict[int, tuple[int, Any]]: ...

class _FramerLike(Protocol):
    def commit_frame(self, force: bool = False) -> None: ...

class Pickler:
    fast: int
    bin: int
    dispatch_table: Mapping[type, Callable[[Any], str | tuple[Any, ...]]]
    memo: _PicklerMemoLike | dict[int, tuple[int, Any]]
    def __init__(self, file: _WritableFileobj, protocol: int | None = None,
                 fix_imports: bool = True, buffer_callback: _BufferCallback = None) -> None: ...
    def dump(self, obj: Any, /) -> None: ...
    def clear_memo(self) -> None: ...
    def persistent_id(self, obj: Any) -> Any: ...
    # reducer_override(obj) is a hook a subclass defines; Pickler itself has none.
    # The pure-Python pickler's subclass surface (docs/subclassing.md).
    dispatch: dict[type, Callable[[Pickler, Any], Any]]
    proto: int
    @property
    def fix_imports(self) -> bool: ...
    @property
    def framer(self) -> _FramerLike: ...
    def save(self, obj: Any, save_persistent_id: bool = True) -> None: ...
    def save_reduce(self, func: Callable[..., Any], args: tuple[Any, ...],
                    state: Any = None, listitems: Iterable[Any] | None = None,
                    dictitems: Iterable[tuple[Any, Any]] | None = None,
                    state_setter: Callable[[Any, Any], Any] | None = None, *,
                    obj: Any = None) -> None: ...
    def save_global(self, obj: Any, name: str | None = None) -> None: ...
    def save_pers(self, pid: Any) -> None: ...
    def memoize(self, obj: Any) -> None: ...
    def put(self, idx: int) -> bytes: ...
    def get(self, i: int) -> bytes: ...
    def write(self, data: Any) -> int: ...
    def save_none(self, obj: None) -> None: ...
    def save_bool(self, obj: bool) -> None: ...
    def save_long(self, obj: int) -> None: ...
    def save_float(self, obj: float) -> None: ...
    def save_bytes(self, obj: bytes) -> None: ...
    def save_bytearray(self, obj: bytearray) -> None: ...
    def save_picklebuffer(self, obj: PickleBuffer) -> None: ...
    def save_str(self, obj: str) -> None: ...
    def save_tuple(self, obj: tuple[Any, ...]) -> None: ...
    def save_list(self, obj: list[Any]) -> None: ...
    def save_dict(self, obj: dict[Any, Any]) -> None: ...
    def save_set(self, obj: set[Any]) -> None: ...
    def save_frozenset(self, obj: frozenset[Any]) -> None: ...
    def save_type(self, obj: type) -> None: ...
    def _batch_appends(self, items: Iterable[Any]) -> None: ...
    def _batch_setitems(self, items: Iterable[tuple[Any, Any]]) -> None: ...

class DeterministicPickler(Pickler):
    """Deterministic pickles (docs/hashing.md); protocol None means 5."""
    sort_keys: bool
    def __init__(self, file: _WritableFileobj, protocol: int | None = None,
                 fix_imports: bool = True, buffer_callback: _BufferCallback = None, *,
                 sort_keys: bool = False) -> None: ...

def deterministic_dumps(obj: Any, protocol: int | None = None, *, sort_keys: bool = False,
                        buffer_callback: _BufferCallback = None) -> bytes: ...
def hash(obj: Any, algorithm: Any = "sha256", protocol: int | None = None, *,
         sort_keys: bool = False) -> str | None: ...

class Unpickler:
    memo: Any
    def __init__(self, file: _ReadableFileobj, *, fix_imports: bool = True,
                 encoding: str = "ASCII", errors: str = "strict",
                 buffers: Iterable[Any] | None = ()) -> None: ...
    def load(self) -> Any: ...
    def find_class(self, module_name: str, global_name: str, /) -> Any: ...
    def persistent_load(self, pid: Any) -> Any: ...

# The allowlist loader's exceptions and entry points (pickler/_safe.pyx).
class UnpicklingRefused(UnpicklingError):
    opcode: str | None
    offset: int | None
    module: str | None
    name: str | None
    reason: str | None

class SafeUnpickler(Unpickler):
    def __init__(self, file: _ReadableFileobj, *, allow: Any = (),
                 fix_imports: bool = True, encoding: str = "ASCII",
                 errors: str = "strict", buffers: Iterable[Any] | None = None,
                 unsafe_allow_code_execution: Any = ()) -> None: ...
    @property
    def allowed(self) -> tuple[str, ...]: ...

def safe_loads(data: Any, /, *, allow: Any = (), buffers: Iterable[Any] | None = None,
               fix_imports: bool = True, encoding: str = "ASCII", errors: str = "strict",
               unsafe_allow_code_execution: Any = ()) -> Any: ...
def safe_load(file: _ReadableFileobj, /, *, allow: Any = (),
              buffers: Iterable[Any] | None = None, fix_imports: bool = True,
              encoding: str = "ASCII", errors: str = "strict",
              unsafe_allow_code_execution: Any = ()) -> Any: ...

MARK: bytes
STOP: bytes
POP: bytes
POP_MARK: bytes
DUP: bytes
FLOAT: bytes
INT: bytes
BININT: bytes
BININT1: bytes
LONG: bytes
BININT2: bytes
NONE: bytes
PERSID: bytes
BINPERSID: bytes
REDUCE: bytes
STRING: bytes
BINSTRING: bytes
SHORT_BINSTRING: bytes
UNICODE: bytes
BINUNICODE: bytes
APPEND: bytes
BUILD: bytes
GLOBAL: bytes
DICT: bytes
EMPTY_DICT: bytes
APPENDS: bytes
GET: bytes
BINGET: bytes
INST: bytes
LONG_BINGET: bytes
LIST: bytes
EMPTY_LIST: bytes
OBJ: bytes
PUT: bytes
BINPUT: bytes
LONG_BINPUT: bytes
SETITEM: bytes
TUPLE: bytes
EMPTY_TUPLE: bytes
SETITEMS: bytes
BINFLOAT: bytes
TRUE: bytes
FALSE: bytes
PROTO: bytes
NEWOBJ: bytes
EXT1: bytes
EXT2: bytes
EXT4: bytes
TUPLE1: bytes
TUPLE2: bytes
TUPLE3: bytes
NEWTRUE: bytes
NEWFALSE: bytes
LONG1: bytes
LONG4: bytes
BINBYTES: bytes
SHORT_BINBYTES: bytes
SHORT_BINUNICODE: bytes
BINUNICODE8: bytes
BINBYTES8: bytes
EMPTY_SET: bytes
ADDITEMS: bytes
FROZENSET: bytes
NEWOBJ_EX: bytes
STACK_GLOBAL: bytes
MEMOIZE: bytes
FRAME: bytes
BYTEARRAY8: bytes
NEXT_BUFFER: bytes
READONLY_BUFFER: bytes
