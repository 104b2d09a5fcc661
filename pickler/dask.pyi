# Type stubs for pickler.dask (pickler as the serializer of a dask.distributed cluster).
# Every name declared here exists on the module at run time (tests/test_stubs.py).
import logging
from collections.abc import Callable
from typing import Any

import pickler

__all__ = [
    "ROUTES",
    "DaskPickler",
    "DistributedVersionError",
    "dask_setup",
    "dumps",
    "install",
    "installed",
    "loads",
    "reset_stats",
    "stats",
    "uninstall",
]

ROUTES: tuple[tuple[str, str, str], ...]
HIGHEST_PROTOCOL: int
GC_PAUSE_MIN_BYTES: int
REUSE_MAX_MEMO: int
# distributed's "distributed.protocol.pickle" logger, which this module logs to
logger: logging.Logger

class DistributedVersionError(ImportError): ...

class DaskPickler(pickler.Pickler):
    globals_ref: dict[int, dict[str, Any]]
    def reducer_override(self, obj: Any) -> Any: ...

def dumps(
    x: Any, *, buffer_callback: Callable[[Any], Any] | None = ..., protocol: int = ...
) -> bytes: ...
def loads(x: Any, *, buffers: Any = ...) -> Any: ...
def install() -> None: ...
def uninstall() -> None: ...
def installed() -> bool: ...
def stats() -> dict[str, int]: ...
def reset_stats() -> None: ...
def dask_setup(server: Any) -> None: ...
