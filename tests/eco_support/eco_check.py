"""Shared by the runners: the library classes that must (swapped) or must
not (stock) have pickler.Pickler in their MRO.

PICKLER_ECO_CHECK: comma-separated "module:Class" names.
"""
import importlib
import os


def check_bases():
    """Raise AssertionError unless each class's MRO matches the swap."""
    swapped = os.environ.get("PICKLER_ECO_SWAP", "stock") != "stock"
    names = [n for n in os.environ.get("PICKLER_ECO_CHECK", "").split(",") if n]
    import pickler
    checked = []
    for name in names:
        module, _, cls = name.partition(":")
        klass = getattr(importlib.import_module(module), cls)
        has = pickler.Pickler in klass.__mro__
        assert has == swapped, f"{name}.__mro__ = {klass.__mro__!r}"
        checked.append(name)
    return checked
