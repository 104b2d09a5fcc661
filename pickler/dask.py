"""pickler as dask.distributed's pickle, pickling each payload once.

Importing this module in a process makes dask.distributed pickle and
unpickle with pickler there; it is also a dask preload (``dask_setup``), so
that::

    LocalCluster(..., preload=["pickler.dask"], preload_nanny=["pickler.dask"],
                 scheduler_kwargs={"preload": ["pickler.dask"]})
    dask worker SCHEDULER --preload pickler.dask
    distributed.{scheduler,worker,nanny}.preload: ["pickler.dask"]   (configuration)

load it in the scheduler, nannies and workers; importing it in the client's
process covers the client.  See docs/dask.md.

Every route distributed pickles through is replaced (``ROUTES``):

* ``distributed.protocol.pickle.dumps`` / ``loads``, which the modules that
  hold the module object call at each use;
* the same functions where a module bound them at import (``from
  distributed.protocol.pickle import dumps, loads``);
* the standard ``pickle`` module where a module calls it directly (the
  scheduler, the client, the shuffle extension; ``distributed.protocol.numpy``
  reaches it as ``distributed.protocol.pickle.pickle``).

A ``dumps`` here pickles once, with :class:`DaskPickler`: functions and
classes that must travel by value (defined in ``__main__``, in a module
registered with ``cloudpickle.register_pickle_by_value``, or not importable
by name) are recognised by its ``reducer_override`` and reduced with
cloudpickle's own reducers inside the same ``dump()``; everything else is
pickled by pickler, byte for byte what stock distributed sends.  Stock
distributed pickles with ``pickle.dumps``, then again with cloudpickle
whenever the result mentions ``__main__``.

If the installed distributed does not bind pickling where this module
expects, importing it raises :class:`DistributedVersionError` naming the
version, and nothing is replaced.
"""
import copyreg
import gc
import logging
import pickle as _stdlib_pickle
import sys
import threading
import types

import cloudpickle
import distributed
import distributed.client
import distributed.diagnostics.plugin
import distributed.diagnostics.progressbar
import distributed.protocol.pickle as _dpp
import distributed.scheduler
import distributed.shuffle._core
import distributed.shuffle._pickle
import distributed.shuffle._scheduler_plugin

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

# Where distributed pickles (checked against distributed 2026.8.0).
# (module, attribute, kind): "dumps"/"loads" are distributed.protocol.pickle's
# functions, held under that attribute; "pickle" is the standard pickle module.
ROUTES = (
    # The functions themselves: every module holding the module object
    # (`from distributed.protocol import pickle`: protocol.serialize,
    # protocol.core (ToPickle), protocol.numpy, protocol.cuda, worker,
    # worker_state_machine, nanny, core, deploy.adaptive) calls them.
    ("distributed.protocol.pickle", "dumps", "dumps"),
    ("distributed.protocol.pickle", "loads", "loads"),
    # Names bound at import with `from distributed.protocol.pickle import ...`.
    ("distributed.client", "dumps", "dumps"),
    ("distributed.client", "loads", "loads"),
    ("distributed.scheduler", "dumps", "dumps"),
    ("distributed.scheduler", "loads", "loads"),
    ("distributed.diagnostics.plugin", "dumps", "dumps"),
    ("distributed.diagnostics.progressbar", "dumps", "dumps"),
    ("distributed.shuffle._scheduler_plugin", "dumps", "dumps"),
    # The standard pickle module, called directly.
    ("distributed.protocol.pickle", "pickle", "pickle"),
    ("distributed.client", "pickle", "pickle"),
    ("distributed.scheduler", "pickle", "pickle"),
    ("distributed.shuffle._core", "pickle", "pickle"),
    ("distributed.shuffle._pickle", "pickle", "pickle"),
)

HIGHEST_PROTOCOL = _stdlib_pickle.HIGHEST_PROTOCOL

# Stock distributed's logger for these functions, so that its messages stay.
logger = logging.getLogger("distributed.protocol.pickle")


class DistributedVersionError(ImportError):
    """The installed distributed (or cloudpickle) does not pickle where
    pickler.dask expects; nothing was replaced."""


def _internals_error(problems):
    version = getattr(distributed, "__version__", "unknown")
    cp_version = getattr(cloudpickle, "__version__", "unknown")
    return DistributedVersionError(
        "pickler.dask supports the pickling routes of distributed 2026.8.0; the "
        f"installed distributed {version} (cloudpickle {cp_version}) differs: "
        f"{'; '.join(problems)}. Nothing was replaced: this process would pickle "
        "with stock distributed.")


# -- cloudpickle's reducers ----------------------------------------------------

def _cloudpickle_parts():
    """cloudpickle's private reducers used here (cloudpickle >= 3)."""
    cp = getattr(cloudpickle, "cloudpickle", None)
    names = ("_should_pickle_by_reference", "_dynamic_class_reduce",
             "_BUILTIN_TYPE_NAMES", "_builtin_type", "_lookup_module_and_qualname",
             "_is_registered_pickle_by_value", "_typevar_reduce")
    pickler_names = ("_dynamic_function_reduce", "_function_getnewargs",
                     "_dispatch_table")
    missing = [f"cloudpickle.cloudpickle.{n}" for n in names if not hasattr(cp, n)]
    cp_pickler = getattr(cp, "Pickler", None)
    missing += [f"cloudpickle.Pickler.{n}" for n in pickler_names
                if not hasattr(cp_pickler, n)]
    return cp, cp_pickler, missing


_cp, _CloudPickler, _cp_missing = _cloudpickle_parts()
if _cp_missing:
    raise _internals_error(["missing " + ", ".join(_cp_missing)
                            + " (cloudpickle >= 3 is needed)"])

_should_pickle_by_reference = _cp._should_pickle_by_reference
_dynamic_class_reduce = _cp._dynamic_class_reduce
_BUILTIN_TYPE_NAMES = _cp._BUILTIN_TYPE_NAMES
_builtin_type = _cp._builtin_type
_lookup_module_and_qualname = _cp._lookup_module_and_qualname
_is_registered_pickle_by_value = _cp._is_registered_pickle_by_value
_typevar_reduce = _cp._typevar_reduce

# cloudpickle's per-type reducers for the objects the C pickler cannot pickle
# at all (code, cells, modules, properties, classmethods, ...): stock
# distributed falls back to cloudpickle for these, so no stock bytes differ.
# The types the C pickler pickles its own way stay with it (bound methods,
# loggers), except TypeVars, which travel by value exactly when cloudpickle
# would send them so.
_PICKLED_BY_C_PICKLER = (types.MethodType, logging.Logger, logging.RootLogger)
_EXTRA_REDUCERS = {
    t: reducer for t, reducer in _CloudPickler._dispatch_table.items()
    if t not in _PICKLED_BY_C_PICKLER and t not in copyreg.dispatch_table
}
_TypeVar = next((t for t, r in _CloudPickler._dispatch_table.items()
                 if r is _typevar_reduce), None)
_EXTRA_REDUCERS.pop(_TypeVar, None)

_FunctionType = types.FunctionType
# The C pickler pickles these classes itself (a reduction to type(None), ...).
_NoneType = type(None)
_EllipsisType = type(Ellipsis)
_NotImplementedType = type(NotImplemented)
_NotImplemented = NotImplemented


def _typevar_by_value(obj):
    found = _lookup_module_and_qualname(obj, name=obj.__name__)
    return found is None or _is_registered_pickle_by_value(found[0])


class DaskPickler(pickler.Pickler):
    """pickler.Pickler that sends by value what cloudpickle would.

    ``reducer_override`` recognises functions and classes that cannot be
    pickled by reference (defined in ``__main__``, in a module registered
    with ``cloudpickle.register_pickle_by_value``, local, or otherwise not
    found by name) and the objects only cloudpickle can pickle (code,
    cells, properties, ...), and returns cloudpickle's reduction for them;
    for every other object it returns ``NotImplemented``, so pickler
    writes what ``pickle.dumps`` would.  The result loads with the standard
    unpickler when cloudpickle is importable.
    """

    def __init__(self, file, protocol=None, fix_imports=True, buffer_callback=None):
        super().__init__(file, protocol, fix_imports=fix_imports,
                         buffer_callback=buffer_callback)
        # cloudpickle shares one globals dict between functions of one module.
        self.globals_ref = {}

    _dynamic_function_reduce = _CloudPickler._dynamic_function_reduce
    _function_getnewargs = _CloudPickler._function_getnewargs

    def reducer_override(self, obj):
        t = type(obj)
        if t is _FunctionType:
            if _should_pickle_by_reference(obj):
                return _NotImplemented
            _stats["by_value"] += 1
            return self._dynamic_function_reduce(obj)
        if isinstance(obj, type):
            if (obj is _NoneType or obj is _EllipsisType or obj is _NotImplementedType
                    or _should_pickle_by_reference(obj)):
                return _NotImplemented      # as the C pickler pickles them
            if obj in _BUILTIN_TYPE_NAMES:  # types.FunctionType, ... (no global name)
                return _builtin_type, (_BUILTIN_TYPE_NAMES[obj],)
            _stats["by_value"] += 1
            return _dynamic_class_reduce(obj)
        reducer = _EXTRA_REDUCERS.get(t)
        if reducer is not None:
            return reducer(obj)
        if t is _TypeVar and _typevar_by_value(obj):
            _stats["by_value"] += 1
            return _typevar_reduce(obj)
        return _NotImplemented


class _DaskSerializePickler(DaskPickler):
    """DaskPickler that also reduces objects with a dask serializer, as stock
    distributed's second attempt (its _DaskPickler) does."""

    def reducer_override(self, obj):
        rv = DaskPickler.reducer_override(self, obj)
        if rv is _NotImplemented:
            rv = _stock_dask_reducer(self, obj)
        return rv


class _Sink:
    """The file a DaskPickler writes to: collects what it writes."""
    __slots__ = ("parts", "write")

    def __init__(self):
        self.parts = []
        self.write = self.parts.append


class _Forward:
    """A pickler's buffer_callback, forwarding to this call's callback."""
    __slots__ = ("target",)

    def __call__(self, buffer):
        return self.target(buffer)


_tls = threading.local()
REUSE_MAX_MEMO = 1024


def _pickle_once(cls, x, protocol, buffer_callback):
    """One dump() of x.  Constructing a Pickler costs more than pickling a
    small payload, so each thread keeps one DaskPickler per (protocol,
    out-of-band or not), taken out while in use (a nested call makes its
    own) and put back, emptied, after a successful dump."""
    if cls is not DaskPickler:
        sink = _Sink()
        cls(sink, protocol, buffer_callback=buffer_callback).dump(x)
        return b"".join(sink.parts)
    cache = getattr(_tls, "picklers", None)
    if cache is None:
        cache = _tls.picklers = {}
    key = (protocol, buffer_callback is not None)
    entry = cache.pop(key, None)
    if entry is None:
        sink = _Sink()
        forward = _Forward() if buffer_callback is not None else None
        entry = (DaskPickler(sink, protocol, buffer_callback=forward), sink, forward)
    p, sink, forward = entry
    if forward is not None:
        forward.target = buffer_callback
    p.dump(x)       # on an error the entry is dropped
    data = b"".join(sink.parts)
    sink.parts.clear()
    if forward is not None:
        forward.target = None
    # clear_memo() keeps the memo's table and walks all of it: a pickler
    # that memoized many objects is dropped instead of being reused, or
    # every small payload after a large one would pay for that walk
    # (measured: 4x the dumps time of 5,000 small tasks run after a large graph).
    if len(p.memo) <= REUSE_MAX_MEMO:
        p.clear_memo()
        p.globals_ref.clear()
        cache[key] = entry
    return data


def _dumps(x, buffer_callback, protocol):
    """distributed.protocol.pickle.dumps, pickling once."""
    buffers = []
    protocol = protocol or HIGHEST_PROTOCOL
    callback = buffers.append if protocol >= 5 and buffer_callback is not None else None
    _stats["passes"] += 1
    try:
        result = _pickle_once(DaskPickler, x, protocol, callback)
    except Exception:  # noqa: BLE001 (stock distributed's fallbacks catch any failure)
        # What stock distributed tries after pickle.dumps fails: objects
        # with a dask serializer, then cloudpickle alone.
        try:
            buffers.clear()
            _stats["passes"] += 1
            result = _pickle_once(_DaskSerializePickler, x, protocol, callback)
        except Exception:  # noqa: BLE001 (as above: cloudpickle is the last resort)
            try:
                buffers.clear()
                _stats["passes"] += 1
                _stats["cloudpickle_passes"] += 1
                result = cloudpickle.dumps(x, protocol=protocol, buffer_callback=callback)
            except Exception:
                logger.exception("Failed to serialize %s.", x)
                raise
    if buffer_callback is not None:
        for b in buffers:
            buffer_callback(b)
    return result


# Loading a large payload creates many container objects; the cyclic garbage
# collector, triggered by their allocation, then traverses everything alive
# again and again: 85-90% of the time of loading 200,000 dict records
# (measured: 0.8-1.3 s, 0.14-0.19 s with the collector paused).  The objects
# a pickle creates are referenced from the result, not garbage, so
# distributed's loads pauses the collector while loading payloads of
# GC_PAUSE_MIN_BYTES or more (and counts the pauses, so that concurrent loads
# in several threads resume it once, when the last one ends, and only if it
# was enabled when the first began).
GC_PAUSE_MIN_BYTES = 1 << 16
_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_was_enabled = False


def _pause_gc():
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1


def _resume_gc():
    global _gc_pauses
    with _gc_lock:
        _gc_pauses -= 1
        if _gc_pauses == 0 and _gc_was_enabled:
            gc.enable()


def _loads(x, buffers):
    try:
        size = len(x)
    except TypeError:
        size = 0
    pause = size >= GC_PAUSE_MIN_BYTES
    if pause:
        _stats["gc_paused_loads"] += 1
        _pause_gc()
    try:
        if buffers:
            return pickler.loads(x, buffers=buffers)
        return pickler.loads(x)
    except Exception:
        logger.info("Failed to deserialize %s", x[:10000], exc_info=True)
        raise
    finally:
        if pause:
            _resume_gc()


def dumps(x, *, buffer_callback=None, protocol=HIGHEST_PROTOCOL):
    """distributed.protocol.pickle.dumps with pickler, in one pass (not counted
    under any route)."""
    return _dumps(x, buffer_callback, protocol)


def loads(x, *, buffers=()):
    """distributed.protocol.pickle.loads with pickler (not counted under any route)."""
    return _loads(x, buffers)


# -- the replacements, one per route, each counting its calls ---------------------

_stats = {"passes": 0, "cloudpickle_passes": 0, "by_value": 0, "gc_paused_loads": 0}


def _route_name(module, attr):
    return f"{module}.{attr}"


def _make_dumps(route):
    def dumps(x, *, buffer_callback=None, protocol=HIGHEST_PROTOCOL):
        _stats[route] += 1
        return _dumps(x, buffer_callback, protocol)
    dumps.__qualname__ = dumps.__name__ = "dumps"
    dumps.__doc__ = f"distributed's pickle dumps with pickler, one pass (route {route})"
    return dumps


def _make_loads(route):
    def loads(x, *, buffers=()):
        _stats[route] += 1
        return _loads(x, buffers)
    loads.__qualname__ = loads.__name__ = "loads"
    loads.__doc__ = f"distributed's pickle loads with pickler (route {route})"
    return loads


class _PickleModule(types.ModuleType):
    """Stands for the standard pickle module in one distributed module: the
    same names, from pickler, with dumps() and loads() counted."""

    def __init__(self, route):
        super().__init__("pickle", "The standard pickle module's API served by "
                         f"pickler (pickler.dask, route {route}).")
        for name in dir(_stdlib_pickle):
            if not name.startswith("__"):
                setattr(self, name, getattr(pickler, name, getattr(_stdlib_pickle, name)))
        stats = _stats
        pickler_dumps = pickler.dumps
        pickler_loads = pickler.loads

        def dumps(obj, protocol=None, *, fix_imports=True, buffer_callback=None):
            stats[route + ".dumps"] += 1
            return pickler_dumps(obj, protocol, fix_imports=fix_imports,
                                 buffer_callback=buffer_callback)

        def loads(data, /, *, fix_imports=True, encoding="ASCII", errors="strict",
                  buffers=()):
            stats[route + ".loads"] += 1
            return pickler_loads(data, fix_imports=fix_imports, encoding=encoding,
                                 errors=errors, buffers=buffers)

        self.dumps = dumps
        self.loads = loads


def _replacement(module, attr, kind):
    route = _route_name(module, attr)
    if kind == "dumps":
        return _make_dumps(route)
    if kind == "loads":
        return _make_loads(route)
    return _PickleModule(route)


def _stock_value(kind):
    if kind == "dumps":
        return _stock["dumps"]
    if kind == "loads":
        return _stock["loads"]
    return _stdlib_pickle


_stock = {"dumps": getattr(_dpp, "dumps", None), "loads": getattr(_dpp, "loads", None)}
_stock_dask_reducer = getattr(getattr(_dpp, "_DaskPickler", None), "reducer_override", None)
_installed = {}     # (module, attr) -> our object, while installed


def _check_internals():
    """What differs from the distributed this module was written for."""
    problems = []
    if not callable(_stock["dumps"]) or not callable(_stock["loads"]):
        problems.append("distributed.protocol.pickle has no dumps/loads")
    if _stock_dask_reducer is None:
        problems.append("distributed.protocol.pickle._DaskPickler.reducer_override "
                        "is missing")
    for module, attr, kind in ROUTES:
        mod = sys.modules.get(module)
        if mod is None:
            problems.append(f"module {module} is missing")
            continue
        value = getattr(mod, attr, _MISSING)
        if value is _MISSING:
            problems.append(f"{module} has no attribute {attr!r}")
        elif value is not _stock_value(kind) and value is not _installed.get((module, attr)):
            what = ("the standard pickle module" if kind == "pickle"
                    else "distributed.protocol.pickle." + kind)
            problems.append(f"{module}.{attr} is not {what}")
    # Any other place holding the stock functions or the standard pickle's
    # would be a route left stock.
    expected = {(m, a) for m, a, _ in ROUTES}
    watched = {id(_stdlib_pickle): "the standard pickle module",
               id(_stdlib_pickle.dumps): "pickle.dumps",
               id(_stdlib_pickle.loads): "pickle.loads",
               id(_stdlib_pickle.dump): "pickle.dump",
               id(_stdlib_pickle.load): "pickle.load",
               id(_stdlib_pickle.Pickler): "pickle.Pickler",
               id(_stdlib_pickle.Unpickler): "pickle.Unpickler",
               id(cloudpickle.dumps): "cloudpickle.dumps",
               id(cloudpickle.loads): "cloudpickle.loads"}
    if _stock["dumps"] is not None:
        watched[id(_stock["dumps"])] = "distributed.protocol.pickle.dumps"
        watched[id(_stock["loads"])] = "distributed.protocol.pickle.loads"
    for name, mod in list(sys.modules.items()):
        if not (name == "distributed" or name.startswith("distributed.")) or mod is None:
            continue
        if ".tests" in name or name.startswith("distributed.utils_test"):
            continue
        try:
            items = list(vars(mod).items())
        except TypeError:
            continue
        for attr, value in items:
            what = watched.get(id(value))
            if what is None or (name, attr) in expected:
                continue
            if name == "distributed.protocol.pickle" and attr in ("cloudpickle",):
                continue    # used only by the stock dumps, replaced
            problems.append(f"{name}.{attr} is {what}, a route pickler.dask does not know")
    return problems


_MISSING = object()


def install():
    """Replace every route (idempotent).  Raises DistributedVersionError,
    replacing nothing, when distributed's internals differ."""
    problems = _check_internals()
    if problems:
        raise _internals_error(problems)
    for module, attr, kind in ROUTES:
        if (module, attr) in _installed:
            continue
        new = _replacement(module, attr, kind)
        if kind == "pickle":
            _stats.setdefault(_route_name(module, attr) + ".dumps", 0)
            _stats.setdefault(_route_name(module, attr) + ".loads", 0)
        else:
            _stats.setdefault(_route_name(module, attr), 0)
        setattr(sys.modules[module], attr, new)
        _installed[(module, attr)] = new


def uninstall():
    """Put stock distributed's functions and the standard pickle back."""
    for (module, attr), new in list(_installed.items()):
        mod = sys.modules[module]
        if getattr(mod, attr, None) is new:
            kind = next(k for m, a, k in ROUTES if (m, a) == (module, attr))
            setattr(mod, attr, _stock_value(kind))
        del _installed[(module, attr)]


def installed():
    """True when every route is replaced in this process."""
    return all(getattr(sys.modules[m], a, None) is _installed.get((m, a))
               for m, a, _ in ROUTES)


def stats():
    """Counts in this process: calls per route (``module.attr``, and for the
    standard pickle module's stand-ins ``module.pickle.dumps``/``.loads``),
    ``passes`` (pickling passes made by dumps: one per payload unless
    something was unpicklable), ``cloudpickle_passes`` (last-resort passes
    with cloudpickle alone), ``by_value`` (functions and classes sent by
    value) and ``gc_paused_loads`` (loads of GC_PAUSE_MIN_BYTES or more, run
    with the cyclic garbage collector paused)."""
    return dict(_stats)


def reset_stats():
    for key in _stats:
        _stats[key] = 0


def dask_setup(server):
    """The preload hook: the import replaced the routes (unless uninstall()
    was called since)."""
    if not _installed:
        install()


install()
