"""Put first on PYTHONPATH by tests/test_ecosystem.py: before anything else
is imported, replace pickle's Picklers with pickler.Pickler, so that the
libraries imported later (and the Python processes they start) subclass it.

PICKLER_ECO_SWAP: "stock" (no change), "py" (pickle._Pickler, the base of
dill's and joblib's Picklers), "c" (pickle.Pickler, cloudpickle's base) or
"both".

Being first on PYTHONPATH, this module hides any other sitecustomize (a
distribution's, coverage's) from those processes, in both runs alike.
"""
import os

_mode = os.environ.get("PICKLER_ECO_SWAP", "stock")
if _mode != "stock":
    import pickle

    import pickler

    if _mode in ("py", "both"):
        pickle._Pickler = pickler.Pickler
    if _mode in ("c", "both"):
        pickle.Pickler = pickler.Pickler
    if _mode not in ("py", "c", "both"):
        raise ValueError(f"PICKLER_ECO_SWAP={_mode!r}")
del os, _mode
