"""The implementations being compared.

Every candidate exposes the same six entry points as the ``pickle`` module
(``dumps``, ``loads``, ``dump``, ``load``, ``Pickler``, ``Unpickler``):

* ``pickler`` -- whatever ``import pickler`` finds on ``sys.path`` (the
  compiled package once built, or a shim while developing);
* ``C``       -- CPython's C accelerator ``_pickle`` (the reference);
* ``py``      -- the pure-Python implementation (``pickle._Pickler`` ...),
  only timed where it finishes in reasonable time.
"""
import _pickle
import os
import pickle
import subprocess
import sys


class Candidate:
    __slots__ = ("name", "dumps", "loads", "dump", "load", "Pickler",
                 "Unpickler", "module")

    def __init__(self, name, module, dumps, loads, dump, load, Pickler,
                 Unpickler):
        self.name = name
        self.module = module
        self.dumps = dumps
        self.loads = loads
        self.dump = dump
        self.load = load
        self.Pickler = Pickler
        self.Unpickler = Unpickler

    def __repr__(self):
        return f"<Candidate {self.name}>"


def import_pickler():
    import pickler
    return pickler


def make_candidates():
    """Return {name: Candidate} for pickler, C and py."""
    pk = import_pickler()
    return {
        "pickler": Candidate("pickler", pk, pk.dumps, pk.loads, pk.dump,
                             pk.load, pk.Pickler, pk.Unpickler),
        "C": Candidate("C", _pickle, _pickle.dumps, _pickle.loads,
                       _pickle.dump, _pickle.load, _pickle.Pickler,
                       _pickle.Unpickler),
        "py": Candidate("py", pickle, pickle._dumps, pickle._loads,
                        pickle._dump, pickle._load, pickle._Pickler,
                        pickle._Unpickler),
    }


def pickler_info():
    """Where pickler was imported from and what it is (for the report)."""
    pk = import_pickler()
    info = {
        "file": getattr(pk, "__file__", None),
        "version": getattr(pk, "__version__", None),
        "dumps_is_C": pk.dumps is _pickle.dumps,
        "loads_is_C": pk.loads is _pickle.loads,
        "Pickler_is_C": pk.Pickler is _pickle.Pickler,
        "Unpickler_is_C": pk.Unpickler is _pickle.Unpickler,
    }
    compiled = {}
    for sub in ("_pickler", "_unpickler"):
        mod = sys.modules.get(pk.__name__ + "." + sub)
        if mod is not None and getattr(mod, "__file__", None):
            st = os.stat(mod.__file__)
            compiled[sub] = {"file": mod.__file__, "mtime": int(st.st_mtime),
                             "size": st.st_size}
    info["compiled"] = compiled
    pkg_dir = os.path.dirname(os.path.abspath(pk.__file__))
    info["git"] = git_describe(pkg_dir)
    return info


def git_describe(path):
    try:
        head = subprocess.run(["git", "-C", path, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10, check=False)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", path, "status", "--porcelain", "--untracked-files=no",
             "--", "."], capture_output=True, text=True, timeout=10, check=False)
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None
