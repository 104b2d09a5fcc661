# Type stubs for pickler.safe (the allowlist loader's namespace).
from collections.abc import Iterator
from typing import Any, NamedTuple

from . import (
    SafeUnpickler as SafeUnpickler,
    UnpicklingRefused as UnpicklingRefused,
    safe_load as safe_load,
    safe_loads as safe_loads,
)

class Allowlist:
    entries: tuple[tuple[Any, ...], ...]
    label: str
    def __init__(self, entries: Any = (), label: str = "allowlist") -> None: ...
    def __add__(self, other: Allowlist) -> Allowlist: ...
    def __iter__(self) -> Iterator[str]: ...
    def __len__(self) -> int: ...
    def __contains__(self, name: object) -> bool: ...

numpy: Allowlist
pandas: Allowlist
DEFAULT: Allowlist
NEVER_ALLOWED_MODULES: frozenset[str]
NEVER_ALLOWED_BUILTINS: frozenset[str]
NEVER_ALLOWED_NAMES: frozenset[str]

class GlobalRef(NamedTuple):
    module: str | None
    name: str | None
    opcode: str
    offset: int

def scan(data: Any) -> list[GlobalRef]: ...
