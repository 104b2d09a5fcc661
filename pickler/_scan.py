"""pickler.safe.scan: the globals a pickle refers to, without running it.

A pure-Python walk over the opcodes (``pickletools.genops``) that tracks
which stack and memo entries hold strings, so that a STACK_GLOBAL whose
names were memoized (and fetched back with GET) is reported with its
names.  Nothing is imported, called or built.  Speed is not the point
here (a scan runs once per file a user inspects), so it is plain Python.
"""
import copyreg
import io
import pickle
import pickletools
from typing import NamedTuple

_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE",
               "STRING", "BINSTRING", "SHORT_BINSTRING"}


class GlobalRef(NamedTuple):
    """One global a pickle refers to."""
    module: str | None   # None when the pickle computes it (not a literal)
    name: str | None
    opcode: str             # GLOBAL, STACK_GLOBAL, INST, EXT1/2/4
    offset: int             # of the opcode in the stream

    def __str__(self):
        return f"{self.module}.{self.name} ({self.opcode} at {self.offset})"


_UNKNOWN = object()
_MARK = object()


def scan(data):
    """Return a list of GlobalRef, one per global the pickle *data* (a
    bytes-like object) refers to, in stream order.  Raises
    pickle.UnpicklingError on a malformed stream."""
    f = io.BytesIO(bytes(memoryview(data)))
    stack = []
    memo = {}
    out = []
    try:
        for op, arg, pos in pickletools.genops(f):
            name = op.name
            if name in _STRING_OPS:
                stack.append(arg if isinstance(arg, str) else _UNKNOWN)
                continue
            if name in ("GLOBAL", "INST"):
                module, _, gname = arg.partition(" ")
                out.append(GlobalRef(module, gname, name, pos))
            elif name == "STACK_GLOBAL":
                gname = stack.pop() if stack else _UNKNOWN
                module = stack.pop() if stack else _UNKNOWN
                out.append(GlobalRef(module if isinstance(module, str) else None,
                                     gname if isinstance(gname, str) else None,
                                     name, pos))
                stack.append(_UNKNOWN)
                continue
            elif name in ("EXT1", "EXT2", "EXT4"):
                pair = copyreg._inverted_registry.get(arg)
                module, gname = pair if isinstance(pair, tuple) and len(pair) == 2 else (None, None)
                out.append(GlobalRef(module, gname, name, pos))
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[arg] = stack[-1] if stack else _UNKNOWN
                continue
            elif name == "MEMOIZE":
                memo[len(memo)] = stack[-1] if stack else _UNKNOWN
                continue
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                stack.append(memo.get(arg, _UNKNOWN))
                continue
            elif name == "DUP":
                stack.append(stack[-1] if stack else _UNKNOWN)
                continue
            # Any other opcode: its stack effect, with unknown results.
            before = op.stack_before
            if pickletools.markobject in before:
                while stack and stack[-1] is not _MARK:
                    stack.pop()
                if stack:
                    stack.pop()
                # items below the mark (the list of APPENDS, ...)
                for _ in range(before.index(pickletools.markobject)):
                    if stack:
                        stack.pop()
            else:
                for _ in before:
                    if stack:
                        stack.pop()
            for item in op.stack_after:
                stack.append(_MARK if item is pickletools.markobject else _UNKNOWN)
    except (ValueError, KeyError, IndexError, TypeError, UnicodeDecodeError) as e:
        raise pickle.UnpicklingError(f"cannot scan the pickle: {e}") from None
    return out
