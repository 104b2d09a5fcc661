"""API parity: ``import pickler as pickle`` must look like ``pickle``.

Names, constants, exception classes, signatures, and the attributes of a
Pickler object are compared with the running interpreter's ``pickle`` /
``_pickle``.
"""
import _pickle
import ast
import importlib.metadata
import importlib.resources
import inspect
import io
import pickle
import re
import sys

import pytest

import pickler

PY313 = sys.version_info >= (3, 13)

# Objects that are pickler's own implementations; everything else in
# pickle.__all__ must be the very same object as in pickle.
OWN = {"Pickler", "Unpickler", "dump", "dumps", "load", "loads"}


def _outcome(call):
    try:
        result = call()
    except Exception as e:
        return type(e)
    return ("ok", result)


def test_all_is_pickles_all():
    assert pickler.__all__ == pickle.__all__


@pytest.mark.parametrize("name", pickle.__all__)
def test_every_public_name(name):
    assert hasattr(pickler, name), name
    ours, theirs = getattr(pickler, name), getattr(pickle, name)
    if name in OWN:
        assert callable(ours)
    else:
        # constants, exceptions, PickleBuffer: the stdlib's own objects
        assert ours is theirs or ours == theirs, name
        if isinstance(theirs, type) or callable(theirs):
            assert ours is theirs, name


def test_exceptions_and_picklebuffer_are_the_stdlib_objects():
    for name in ("PickleError", "PicklingError", "UnpicklingError",
                 "PickleBuffer"):
        assert getattr(pickler, name) is getattr(pickle, name)
        assert getattr(pickler, name) is getattr(_pickle, name)
    assert issubclass(pickler.PicklingError, pickler.PickleError)
    # errors raised by pickler are caught by pickle's except clauses
    with pytest.raises(pickle.PicklingError):
        pickler.dumps(pickle.PickleBuffer(b"x"), 4)


def test_protocol_constants():
    assert pickler.HIGHEST_PROTOCOL == pickle.HIGHEST_PROTOCOL == 5
    assert pickler.DEFAULT_PROTOCOL == pickle.DEFAULT_PROTOCOL
    for proto in (None, pickler.DEFAULT_PROTOCOL):
        assert pickler.dumps(None, proto) == _pickle.dumps(None, proto)


def test_other_module_attributes():
    for name in ("format_version", "compatible_formats", "bytes_types",
                 "dispatch_table", "whichmodule", "encode_long", "decode_long"):
        assert getattr(pickler, name) == getattr(pickle, name), name
    assert pickler.dispatch_table is pickle.dispatch_table


@pytest.mark.parametrize("name", ["dump", "dumps", "Pickler", "load", "loads",
                                  "Unpickler"])
def test_signatures(name):
    ours = inspect.signature(getattr(pickler, name))
    theirs = inspect.signature(getattr(pickle, name))
    assert str(ours) == str(theirs)
    assert ours == theirs


def test_keyword_use_matches():
    # keyword forms accepted by _pickle are accepted by pickler
    calls = [
        lambda m: m.dumps([1], protocol=2, fix_imports=False),
        lambda m: m.dumps([1], 5, buffer_callback=None),
        lambda m: m.dumps(obj=[1]),
        lambda m: m.dump([1], file=io.BytesIO(), protocol=3),
        lambda m: m.Pickler(file=io.BytesIO(), protocol=1, fix_imports=True,
                            buffer_callback=None).dump([1]),
        lambda m: m.Pickler(io.BytesIO(), 5, True, list).dump([1]),
        lambda m: m.dumps([1], 2, False),
    ]
    for call in calls:
        assert _outcome(lambda: call(pickler)) == _outcome(lambda: call(_pickle))


@pytest.mark.parametrize("obj", [pickler, pickler.Pickler, pickler.dump,
                                 pickler.dumps, pickler.Pickler.dump,
                                 pickler.Pickler.clear_memo],
                         ids=["module", "Pickler", "dump", "dumps",
                              "Pickler.dump", "Pickler.clear_memo"])
def test_docstrings(obj):
    assert obj.__doc__ and obj.__doc__.strip()


# ---------------------------------------------------------------------------
# Pickler object attributes.
# ---------------------------------------------------------------------------
IMPLS = (pickler, _pickle)


def both(fn):
    """Run fn(impl) for pickler and _pickle; return the two outcomes."""
    return _outcome(lambda: fn(pickler)), _outcome(lambda: fn(_pickle))


def test_bin_and_fast_defaults_and_assignment():
    for proto in range(6):
        p = pickler.Pickler(io.BytesIO(), proto)
        q = _pickle.Pickler(io.BytesIO(), proto)
        assert p.bin == q.bin
        assert p.fast == q.fast
        p.bin = q.bin = 0
        p.fast = q.fast = 1
        assert (p.bin, p.fast) == (q.bin, q.fast)
    for value in ("x", None, 2 ** 100):
        for attr in ("bin", "fast"):
            ours, theirs = both(lambda m: setattr(m.Pickler(io.BytesIO()),
                                                  attr, value))
            assert ours == theirs, (attr, value)


def test_memo_copy_and_clear():
    data = ["a", ("b",), ["c"], {"d": 1}]
    for proto in range(6):
        p = pickler.Pickler(io.BytesIO(), proto)
        q = _pickle.Pickler(io.BytesIO(), proto)
        p.dump(data)
        q.dump(data)
        ours, theirs = p.memo.copy(), q.memo.copy()
        assert type(ours) is dict
        assert ours == theirs
        # entries are id(obj) -> (index, obj)
        for key, (index, obj) in ours.items():
            assert key == id(obj) and isinstance(index, int)
        p.memo.clear()
        assert p.memo.copy() == {}
        # a cleared memo pickles as afresh
        f = io.BytesIO()
        p2 = pickler.Pickler(f, proto)
        p2.dump(data)
        p2.memo.clear()
        p2.dump(data)
        g = io.BytesIO()
        q2 = _pickle.Pickler(g, proto)
        q2.dump(data)
        q2.memo.clear()
        q2.dump(data)
        assert f.getvalue() == g.getvalue()


def test_memo_proxy_reduce():
    # the memo proxy reduces to (dict, (copy,)) as _pickle's does
    x = ["x"]
    p = pickler.Pickler(io.BytesIO(), 2)
    q = _pickle.Pickler(io.BytesIO(), 2)
    p.dump(x)
    q.dump(x)
    func, args = p.memo.__reduce__()[:2]
    assert func is dict and args[0] == p.memo.copy() == q.memo.copy()
    assert q.memo.__reduce__()[0] is dict


@pytest.mark.parametrize("value", ["proxy", "dict", {}, 42, None, {1: 2},
                                   {1: (1,)}, {1: (1, 2, 3)}, {"k": (0, 1)}],
                         ids=["proxy", "dict-copy", "empty", "int", "None",
                              "bad-value", "1-tuple", "3-tuple", "str-key"])
def test_memo_assignment(value):
    shared = ["shared"]

    def run(m):
        src = m.Pickler(io.BytesIO(), 2)
        src.dump([shared])
        f = io.BytesIO()
        p = m.Pickler(f, 2)
        if value == "proxy":
            p.memo = src.memo
        elif value == "dict":
            p.memo = src.memo.copy()
        else:
            p.memo = value
        p.dump([shared, shared])
        return f.getvalue()
    ours, theirs = both(run)
    assert ours == theirs


def test_memo_delete():
    ours, theirs = both(lambda m: delattr(m.Pickler(io.BytesIO()), "memo"))
    assert ours == theirs


def test_dispatch_table_attribute():
    for m in IMPLS:
        p = m.Pickler(io.BytesIO())
        with pytest.raises(AttributeError):
            p.dispatch_table
        table = {}
        p.dispatch_table = table
        assert p.dispatch_table is table

        class Sub(m.Pickler):
            dispatch_table = {"class": "level"}
        assert Sub(io.BytesIO()).dispatch_table == {"class": "level"}


def test_persistent_id_attribute_like_c_pickler():
    p = pickler.Pickler(io.BytesIO())
    q = _pickle.Pickler(io.BytesIO())
    assert hasattr(pickler.Pickler, "persistent_id") == hasattr(
        _pickle.Pickler, "persistent_id")
    if PY313:
        # gh-89850: a default persistent_id() returning None
        assert p.persistent_id("x") is None
        assert q.persistent_id("x") is None
    else:
        # unset: the attribute does not exist
        with pytest.raises(AttributeError):
            p.persistent_id
        with pytest.raises(AttributeError):
            q.persistent_id


def test_persistent_id_instance_assignment():
    """Assigning persistent_id on an instance works (3.9-3.12 and 3.13.1+
    behaviour of the C pickler; 3.13.0's _pickle refuses it on the base
    class, gh-125631, a regression pickler does not copy)."""
    def pid(obj):
        return "ID" if obj == "persist me" else None

    for cls in (pickler.Pickler, type("Sub", (pickler.Pickler,), {})):
        f = io.BytesIO()
        p = cls(f, 2)
        p.persistent_id = pid
        assert p.persistent_id is pid
        p.dump(["persist me", "not me"])
        g = io.BytesIO()
        q = type("Sub", (_pickle.Pickler,), {})(g, 2)
        q.persistent_id = pid
        q.dump(["persist me", "not me"])
        assert f.getvalue() == g.getvalue()


def test_persistent_id_via_super_on_313():
    if not PY313:
        pytest.skip("Pickler.persistent_id() exists from 3.13 on (gh-89850)")
    for m in IMPLS:
        class Sub(m.Pickler):
            def persistent_id(self, obj):
                return super().persistent_id(obj)
        f = io.BytesIO()
        Sub(f, 2).dump(["a"])
        assert f.getvalue() == _pickle.dumps(["a"], 2)


def test_reducer_override_attribute():
    # not defined on the base class; a subclass method is used
    assert hasattr(pickler.Pickler, "reducer_override") == hasattr(
        _pickle.Pickler, "reducer_override")

    def run(m):
        class Sub(m.Pickler):
            def reducer_override(self, obj):
                return (str, ("R",)) if obj == 1.5j else NotImplemented
        f = io.BytesIO()
        Sub(f, 2).dump([1.5j, 2j])
        return f.getvalue()
    ours, theirs = both(run)
    assert ours == theirs


@pytest.mark.parametrize("attr", ["reducer_override", "some_attribute"])
def test_base_instance_has_no_dict(attr):
    ours, theirs = both(lambda m: setattr(m.Pickler(io.BytesIO()), attr,
                                          lambda obj: NotImplemented))
    assert ours == theirs


def test_subclass_instances_take_attributes():
    class Sub(pickler.Pickler):
        pass
    p = Sub(io.BytesIO())
    p.anything = 1
    assert p.anything == 1


def test_pickler_methods_exist():
    for name in ("dump", "clear_memo"):
        assert callable(getattr(pickler.Pickler, name))
    for name in ("memo", "bin", "fast", "dispatch_table"):
        assert hasattr(pickler.Pickler, name) == hasattr(_pickle.Pickler, name)


def test_isinstance_is_not_pickle_pickler():
    # pickler.Pickler is its own class, usable as a base class
    assert pickler.Pickler is not _pickle.Pickler
    assert isinstance(pickler.Pickler(io.BytesIO()), pickler.Pickler)


# ---------------------------------------------------------------------------
# Packaging: type information ships with the package.
# ---------------------------------------------------------------------------
def test_version_is_the_installed_distributions():
    # One place holds the version (pickler/__init__.py, read statically by
    # pyproject.toml's dynamic version); the installed metadata must agree.
    try:
        installed = importlib.metadata.version("pickler")
    except importlib.metadata.PackageNotFoundError:
        # A source tree run through PYTHONPATH has no installed metadata to
        # compare with (CI always runs an installed build).
        pytest.skip("pickler is not installed, only on sys.path")
    assert pickler.__version__ == installed
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.dev\d+|rc\d+)?", pickler.__version__)


def test_py_typed_is_shipped():
    assert importlib.resources.files("pickler").joinpath("py.typed").is_file()


def test_stubs_are_shipped_and_cover_the_api():
    stub = importlib.resources.files("pickler").joinpath("__init__.pyi")
    assert stub.is_file()
    tree = ast.parse(stub.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.ImportFrom):
            names.update(a.asname or a.name for a in node.names)
    for name in ("Pickler", "Unpickler", "dump", "dumps", "load", "loads",
                 "PickleError", "PicklingError", "UnpicklingError",
                 "PickleBuffer", "HIGHEST_PROTOCOL", "DEFAULT_PROTOCOL"):
        assert name in names, name
    # The classes declare what they have, the subclass surface included
    # (docs/subclassing.md calls it a stable API, so type checkers see it).
    for cls in (pickler.Pickler, pickler.Unpickler):
        node = next(n for n in tree.body
                    if isinstance(n, ast.ClassDef) and n.name == cls.__name__)
        declared = set()
        for item in node.body:
            if isinstance(item, ast.FunctionDef):
                declared.add(item.name)
            elif isinstance(item, ast.AnnAssign):
                declared.add(item.target.id)
        public = {n for n in dir(cls)
                  if not n.startswith("__") and not n.startswith("_default")}
        assert public <= declared, sorted(public - declared)


class _Obj:
    pass


@pytest.mark.parametrize("sizes", [(5, 20000, 5, 5), (20000, 20000, 3), (300, 300, 300)])
def test_dumps_releases_memo_between_calls(sizes):
    # dumps() keeps its memo table between calls (cleared, or replaced by
    # one sized for the last call): it must never keep the pickled objects
    # alive, nor let one call's memo indices leak into the next.
    import gc
    import weakref
    for n in sizes:
        objs = [_Obj() for _ in range(n)]
        data = [objs, objs[: n // 2]]
        out = pickler.dumps(data, 4)
        assert out == _pickle.dumps(data, 4)
        refs = [weakref.ref(o) for o in objs[:3]]
        del objs, data
        gc.collect()
        assert [r() for r in refs] == [None] * len(refs)


# ``python -m pickler`` is ``python -m pickle``'s command line: the same
# output for the same files, and the same failure for a bad one.

def _run_module(module, args, stdin=b""):
    import os
    import subprocess
    env = dict(os.environ)
    # The pickler that this test imported, whether installed or built in place.
    root = os.path.dirname(os.path.dirname(os.path.abspath(pickler.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(
        [root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    # The same string hashes in both processes, so sets print in one order.
    env["PYTHONHASHSEED"] = "0"
    # Run from that directory too: `-m` puts the working directory first on
    # sys.path, and a source checkout there holds an unbuilt `pickler/`.
    return subprocess.run([sys.executable, "-m", module] + args, input=stdin,
                          capture_output=True, timeout=120, env=env, cwd=root, check=False)


def test_command_line_prints_like_python_m_pickle(tmp_path):
    import decimal
    objs = [
        {"b": [1, 2.5, None, True], "a": ("x" * 100, b"\x00\xff")},
        [set(range(30)), frozenset("ab"), bytearray(b"abc"), 10 ** 40],
        decimal.Decimal("1.5"),
    ]
    files = []
    for i, obj in enumerate(objs):
        path = tmp_path / (f"f{i}.pickle")
        path.write_bytes(pickle.dumps(obj, protocol=i + 2))
        files.append(str(path))
    stdin = pickle.dumps({"from": "stdin"}, protocol=0)
    ours = _run_module("pickler", files + ["-"], stdin)
    stock = _run_module("pickle", files + ["-"], stdin)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == stock.stdout
    assert b"'from': 'stdin'" in ours.stdout


def test_command_line_without_files_prints_help():
    ours = _run_module("pickler", [])
    assert ours.returncode == 0
    assert b"display contents of the pickle files" in ours.stdout


def test_command_line_bad_pickle_fails_as_stock(tmp_path):
    path = tmp_path / "bad.pickle"
    path.write_bytes(pickle.dumps([1, 2, 3])[:-3])
    ours = _run_module("pickler", [str(path)])
    stock = _run_module("pickle", [str(path)])
    assert ours.returncode == stock.returncode == 1
    # The last line of the traceback: exception type and message.
    assert ours.stderr.strip().splitlines()[-1] == stock.stderr.strip().splitlines()[-1]
