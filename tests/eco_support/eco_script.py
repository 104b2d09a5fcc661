"""Run one test script as __main__ (dill runs its tests so: each
dill/tests/test_*.py as a script), then check the bases.

usage: python eco_script.py path/to/test_x.py
"""
import os
import runpy
import sys

path = sys.argv[1]
sys.argv = [path]
sys.path[0] = os.path.dirname(os.path.abspath(path))
runpy.run_path(path, run_name="__main__")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eco_check import check_bases  # noqa: E402

check_bases()
