"""The examples shipped in examples/ run and check their own results."""
import os
import subprocess
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


@pytest.mark.parametrize("script", ["demo.py", "oob_processes.py", "processes.py"])
def test_example_runs(script):
    pytest.importorskip("numpy")
    env = dict(os.environ)
    # Import the pickler under test (the one this test process uses).
    import pickler
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(pickler.__file__))
    proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, script)],
                          capture_output=True, text=True, timeout=300,
                          cwd=EXAMPLES, env=env, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip()
