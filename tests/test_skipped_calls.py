"""The two places where pickler skips a call the C pickler makes, because
the call could not change the result: PyImport_Import of a module that is
already imported (save_global, find_class) and numpy.ndarray.__reduce_ex__
for C-contiguous arrays (its two imports).  Each test pins the cases where
the call *could* matter: then pickler must make it, and the bytes and
exceptions stay the C pickler's."""
import _pickle
import builtins
import pickle
import sys
import types

import pytest

import pickler
from pickler import _pickler as _pickler_module

np = pytest.importorskip("numpy")


def outcome(call):
    try:
        return ("returned", call())
    except Exception as exc:
        return ("raised", type(exc), str(exc))


def assert_same_outcome(call):
    """call(module) gives the same result or the same exception (type and
    message) with pickler as with _pickle; returns the C outcome."""
    theirs = outcome(lambda: call(_pickle))
    assert outcome(lambda: call(pickler)) == theirs
    return theirs


# -- imports -------------------------------------------------------------------

def test_an_import_hook_sees_every_lookup_as_with_c(monkeypatch):
    """A replaced builtins.__import__ is called for each global, by dumps
    and by loads, exactly as often as the C pickler calls it."""
    import colorsys
    import datetime
    obj = [colorsys.rgb_to_hsv, datetime.date(2020, 1, 2), datetime.timedelta]
    data = _pickle.dumps(obj, 4)
    real = builtins.__import__
    calls = []

    def counting_import(name, *args, **kwargs):
        calls.append(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", counting_import)
    seen = {}
    for name, dumps, loads in (("C", _pickle.dumps, _pickle.loads),
                               ("pickler", pickler.dumps, pickler.loads)):
        del calls[:]
        assert dumps(obj, 4) == data
        assert loads(data) == obj
        seen[name] = list(calls)
    assert seen["pickler"] == seen["C"]
    assert {"colorsys", "datetime"} <= set(seen["C"])


def test_a_module_missing_from_sys_modules_is_imported_again(monkeypatch):
    """find_class imports a module that is not in sys.modules (and gets the
    new module's objects); save_global then finds a different object."""
    import colorsys
    data = _pickle.dumps(colorsys.rgb_to_hsv, 2)
    for loads in (_pickle.loads, pickler.loads):
        monkeypatch.delitem(sys.modules, "colorsys")
        fn = loads(data)
        assert fn.__module__ == "colorsys" and fn is not colorsys.rgb_to_hsv
        assert sys.modules["colorsys"] is not colorsys
    monkeypatch.setitem(sys.modules, "colorsys", colorsys)
    stale = colorsys.rgb_to_hsv
    monkeypatch.delitem(sys.modules, "colorsys")
    assert assert_same_outcome(lambda m: m.dumps(stale, 4))[0] == "raised"


def test_none_in_sys_modules_fails_as_with_c(monkeypatch):
    import colorsys
    fn = colorsys.rgb_to_hsv
    data = _pickle.dumps(fn, 4)
    monkeypatch.setitem(sys.modules, "colorsys", None)
    assert assert_same_outcome(lambda m: m.dumps(fn, 4))[0] == "raised"
    assert assert_same_outcome(lambda m: m.loads(data))[0] == "raised"


def test_no_python_frame_globals_still_imports():
    """Called from C with a frame whose globals have no __builtins__ entry
    of the usual kind: the full import path is taken and agrees with C."""
    import colorsys
    glb = {"__builtins__": types.SimpleNamespace(__import__=builtins.__import__),
           "pickler": pickler, "_pickle": _pickle, "fn": colorsys.rgb_to_hsv}
    exec("a = pickler.dumps(fn, 4); b = _pickle.dumps(fn, 4)", glb)
    assert glb["a"] == glb["b"]


# -- numpy arrays ---------------------------------------------------------------

def arrays():
    base = np.arange(24, dtype=np.float64)
    return {
        "c2d": base.reshape(4, 6),
        "f2d": np.asfortranarray(base.reshape(4, 6)),
        "strided": base[::2],
        "int8": np.arange(5, dtype=np.int8),
        "bool": np.array([True, False]),
        "zero_d": np.array(2.5),
        "empty": np.zeros((0, 3)),
        "size1_dims": np.ones((1, 5, 1)),
        "object": np.array([1, None], dtype=object),
        "struct_obj": np.zeros(2, dtype=[("a", "O"), ("b", "f8")]),
        "structured": np.zeros(3, dtype=[("a", "<i2"), ("b", ">f4")]),
        "void0": np.zeros(3, dtype="V0"),                  # item size 0
        "datetime": np.array(["2020-01-01"], dtype="datetime64[D]"),
        "unicode": np.array(["abc", "de"]),
        "subclass": np.arange(4).view(np.recarray),
        "readonly": np.frombuffer(b"\x00" * 16, dtype=np.int32),
    }


def test_the_shortcut_is_on_after_the_first_array():
    pickler.dumps(np.arange(3.0), 5)
    assert _pickler_module._numpy_shortcut_state() == 1


@pytest.mark.parametrize("proto", range(pickle.HIGHEST_PROTOCOL + 1))
def test_every_array_kind_as_with_c(proto):
    kinds = arrays()
    for name, arr in kinds.items():
        assert pickler.dumps(arr, proto) == _pickle.dumps(arr, proto), name
    # All in one pickle: dtypes, the order string and the rebuild function
    # are memoized once and referenced after, as numpy's own reduce leads
    # the C pickler to do.
    shared = np.arange(6.0)
    graph = [kinds, shared, shared, shared[:3], [shared.dtype] * 2]
    assert pickler.dumps(graph, proto) == _pickle.dumps(graph, proto)


def test_out_of_band_buffers_as_with_c():
    kinds = arrays()
    ours, theirs = [], []
    data = pickler.dumps(kinds, 5, buffer_callback=ours.append)
    assert data == _pickle.dumps(kinds, 5, buffer_callback=theirs.append)
    assert [bytes(b.raw()) for b in ours] == [bytes(b.raw()) for b in theirs]
    back = pickler.loads(data, buffers=ours)
    for name, arr in kinds.items():
        if arr.dtype.hasobject:
            assert arr.tolist() == back[name].tolist()
        else:
            np.testing.assert_array_equal(back[name], arr)


def test_a_replaced_rebuild_function_is_used_as_numpy_would(monkeypatch):
    """The rebuild function is looked up on every call, as numpy does: a
    replacement in its module is pickled by both picklers."""
    pickler.dumps(np.arange(3.0), 5)
    func = np.arange(3.0).__reduce_ex__(5)[0]
    module = sys.modules[func.__module__]

    def _frombuffer(*args):
        return func(*args)

    _frombuffer.__module__ = func.__module__
    _frombuffer.__qualname__ = func.__qualname__
    monkeypatch.setattr(module, func.__name__, _frombuffer)
    arr = np.arange(5.0)
    assert arr.__reduce_ex__(5)[0] is _frombuffer
    assert pickler.dumps(arr, 5) == _pickle.dumps(arr, 5)
    monkeypatch.undo()
    assert pickler.dumps(arr, 5) == _pickle.dumps(arr, 5)


def test_hooks_still_come_first():
    """reducer_override and dispatch_table see arrays before any reduce."""
    import io

    def as_list(a):
        return (np.array, (a.tolist(),))

    class Table:
        dispatch_table = {np.ndarray: as_list}

    class Override:
        def reducer_override(self, obj):
            if type(obj) is np.ndarray:
                return as_list(obj)
            return NotImplemented

    arr = np.arange(4.0)
    for mixin in (Table, Override):
        outputs = []
        for base in (_pickle.Pickler, pickler.Pickler):
            cls = type("P", (mixin, base), {})
            f = io.BytesIO()
            cls(f, 5).dump(arr)
            outputs.append(f.getvalue())
        assert outputs[0] == outputs[1]
        assert b"tolist" not in outputs[0] and b"_frombuffer" not in outputs[0]


def dtypes():
    return [np.dtype("f8"), np.dtype(">f8"), np.dtype("<f8"), np.dtype("f4"),
            np.dtype("i8"), np.dtype("?"), np.dtype("c16"), np.dtype("O"),
            np.dtype("M8[D]"), np.dtype("m8[s]"), np.dtype("U5"), np.dtype("S3"),
            np.dtype("V4"), np.dtype([("a", "<i4"), ("b", ">f8")]),
            np.dtype("f8", metadata={"unit": "m"}), np.dtype(np.float16)]


@pytest.mark.parametrize("proto", range(pickle.HIGHEST_PROTOCOL + 1))
def test_dtypes_as_with_c(proto):
    """Builtin dtypes reuse numpy's reduce value from the first time; every
    dtype, alone and together (shared one-character strings), several
    times over, gives the C pickler's bytes."""
    kinds = dtypes()
    for _ in range(3):
        for d in kinds:
            assert pickler.dumps(d, proto) == _pickle.dumps(d, proto), d
        assert pickler.dumps(kinds, proto) == _pickle.dumps(kinds, proto)
        arrays = [np.zeros(3, dtype=d) for d in kinds if not d.hasobject]
        assert pickler.dumps(arrays, proto) == _pickle.dumps(arrays, proto)
    assert [str(d) for d in pickler.loads(pickler.dumps(kinds, proto))] == [str(d) for d in kinds]


def test_dtype_hooks_still_come_first():
    import io

    class Override:
        def reducer_override(self, obj):
            if isinstance(obj, np.dtype):
                return (np.dtype, (obj.str,))
            return NotImplemented

    outputs = []
    for base in (_pickle.Pickler, pickler.Pickler):
        f = io.BytesIO()
        type("P", (Override, base), {})(f, 4).dump([np.dtype("f8"), np.dtype("i2")])
        outputs.append(f.getvalue())
    assert outputs[0] == outputs[1]
    assert b"<f8" in outputs[0]
