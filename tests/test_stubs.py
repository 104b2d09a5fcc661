"""The type stubs (pickler/*.pyi) against the modules at run time.

Every name a stub declares at top level exists on the imported module, and so
does every method, property and attribute a stub class declares, on the class
(or, for attributes set in ``__init__``, on an instance made here).  The only
names allowed to exist in a stub alone are private typing helpers: Protocol
classes and ``TypeAlias`` assignments.  The other way round, every public name
of the module (its ``__all__``, and its public attributes defined in pickler)
is declared in the stub.  Plain imports in a stub (``import os``) are for the
stub's own annotations; ``from x import y as y`` is a re-export and is checked.
"""
import ast
import importlib
import io
import os
import types

import pytest

import pickler

PACKAGE_DIR = os.path.dirname(pickler.__file__)
STUBS = sorted(f for f in os.listdir(PACKAGE_DIR) if f.endswith(".pyi"))


def module_name(stub):
    base = stub[:-len(".pyi")]
    return "pickler" if base == "__init__" else "pickler." + base


def import_or_skip(name):
    try:
        return importlib.import_module(name)
    except ImportError as exc:   # pickler.dask needs distributed
        pytest.skip(f"{name} does not import here: {exc}")


# Instances for the attributes a class sets in __init__ (not on the class).
def _instances():
    yield "pickler.Pickler", lambda m: m.Pickler(io.BytesIO())
    yield "pickler.DeterministicPickler", lambda m: m.DeterministicPickler(io.BytesIO())
    yield "pickler.Unpickler", lambda m: m.Unpickler(io.BytesIO())
    yield "pickler.UnpicklingRefused", lambda m: m.UnpicklingRefused("refused")
    yield "pickler.dask.DaskPickler", lambda m: m.DaskPickler(io.BytesIO())


INSTANCES = dict(_instances())


def is_typing_only(node):
    """A Protocol class or a `name: TypeAlias = ...` assignment."""
    if isinstance(node, ast.ClassDef):
        return any(ast.unparse(b) in ("Protocol", "typing.Protocol") for b in node.bases)
    if isinstance(node, ast.AnnAssign):
        return ast.unparse(node.annotation) in ("TypeAlias", "typing.TypeAlias")
    return False


def declared(tree):
    """(name, node) for every top-level declaration of a stub."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            yield node.name, node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            yield node.target.id, node
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    yield t.id, node
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.asname is not None and alias.asname == alias.name:
                    yield alias.asname, node       # re-export


def class_members(cls_node):
    for node in cls_node.body:
        if isinstance(node, ast.FunctionDef):
            yield node.name, node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            yield node.target.id, node


def parse(stub):
    with open(os.path.join(PACKAGE_DIR, stub), encoding="utf-8") as f:
        return ast.parse(f.read(), stub)


def test_every_module_has_a_stub():
    names = {module_name(s) for s in STUBS}
    for mod in ("pickler", "pickler.safe", "pickler.dask"):
        assert mod in names


@pytest.mark.parametrize("stub", STUBS)
def test_stub_declares_only_what_exists(stub):
    name = module_name(stub)
    module = import_or_skip(name)
    missing = []
    for decl, node in declared(parse(stub)):
        if is_typing_only(node):
            assert decl.startswith("_"), f"{stub}: typing-only {decl} must be private"
            continue
        if not hasattr(module, decl):
            missing.append(decl)
            continue
        if isinstance(node, ast.ClassDef):
            cls = getattr(module, decl)
            assert isinstance(cls, type), f"{stub}: {decl} is not a class at run time"
            instance = None
            for member, mnode in class_members(node):
                if hasattr(cls, member):
                    continue
                if isinstance(mnode, ast.AnnAssign):
                    key = f"{name}.{decl}"
                    assert key in INSTANCES, (
                        f"{stub}: {decl}.{member} is not on the class; add an instance "
                        f"for {key} to INSTANCES if __init__ sets it")
                    if instance is None:
                        instance = INSTANCES[key](module)
                    if hasattr(instance, member):
                        continue
                missing.append(f"{decl}.{member}")
    assert missing == [], f"{stub} declares names {name} does not have: {missing}"


def public_names(module):
    """__all__, and the public attributes defined in pickler (not imported
    modules, nor classes and functions of other packages)."""
    names = set(getattr(module, "__all__", ()))
    for attr, value in vars(module).items():
        if attr.startswith("_") or isinstance(value, types.ModuleType):
            continue
        origin = getattr(value, "__module__", None) if isinstance(
            value, (type, types.FunctionType, types.BuiltinFunctionType)) else None
        if origin is None or origin.startswith("pickler") or attr in names:
            names.add(attr)
    return names


@pytest.mark.parametrize("stub", STUBS)
def test_public_api_is_declared(stub):
    name = module_name(stub)
    module = import_or_skip(name)
    tree = parse(stub)
    in_stub = {decl for decl, _ in declared(tree)}
    undeclared = sorted(public_names(module) - in_stub)
    assert undeclared == [], f"{stub} does not declare {name}'s {undeclared}"
    stub_all = [node for decl, node in declared(tree) if decl == "__all__"]
    if hasattr(module, "__all__"):
        assert stub_all, f"{stub} has no __all__"
        assert sorted(ast.literal_eval(stub_all[0].value)) == sorted(module.__all__)
