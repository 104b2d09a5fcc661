"""Differential fuzzing of pickler's Unpickler against ``_pickle``.

Valid pickles (protocols 0-5) are mutated (byte flips, insertions, deletions,
truncations, splices of two pickles, duplicated slices) and loaded by both
``_pickle.Unpickler`` and ``pickler._unpickler.Unpickler``.  For each case:

* both succeed and the results are structurally equal (a comparison that
  handles nan, -0.0, shared and recursive structures without recursion on
  the graph size), or
* both raise, with the same exception type.

Accepted type equivalences (and why):

* ``_pickle`` raises ``MemoryError``, or ``OverflowError("byte string is
  too large")`` (its allocation of a claimed size just below 2**63, by
  itself or by the file's ``read()``): any outcome of ours is accepted (and
  counted).  A corrupted length field makes ``_pickle`` allocate the claimed
  size before reading (fixed upstream by gh-115952) and a corrupted
  LONG_BINPUT index makes it resize its memo array to twice the index; ours
  reads in bounded chunks and keeps sparse memo indices in a dict, so it
  goes on and meets whatever the corrupt stream holds next.  The child
  process runs with a 6 GiB address-space limit so that those allocations
  fail quickly instead of touching memory.
* Nothing else: any other difference is a failure.

Both unpicklers use the same restricted ``find_class`` (an allowlist of
harmless callables: containers, ``copyreg._reconstructor``,
``collections.OrderedDict``, datetime types...), so a mutated pickle can
never reach ``os.system`` or anything that allocates from a size it chooses.

The run is bounded in time (``PICKLER_FUZZ_SECONDS``, default 20 s) and runs
in a subprocess (the program is tests/fuzz_worker.py); the number of cases is
printed and asserted.
"""
import json
import os
import subprocess
import sys

SECONDS = float(os.environ.get("PICKLER_FUZZ_SECONDS", "20"))
SEED = int(os.environ.get("PICKLER_FUZZ_SEED", "12345"))

# The worker program (run as a script, so that a crash fails only it).
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz_worker.py")


def test_differential_fuzz():
    env = dict(os.environ)
    # The child imports the pickler under test (the installed one in CI), not
    # the source tree, whose compiled modules may not exist.
    import pickler
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (os.path.dirname(os.path.dirname(pickler.__file__)),
                    env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, WORKER, str(SECONDS), str(SEED)],
        capture_output=True, text=True, env=env, timeout=SECONDS * 10 + 120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    stats = result["stats"]
    print("\nfuzz: {} cases ({} both ok, {} both raise, {} C allocation failures)".format(
        stats["cases"], stats.get("both_ok", 0), stats.get("both_raise", 0),
        stats.get("c_allocation_failure", 0)))
    assert result["n_failures"] == 0, result["failures"]
    assert stats["cases"] >= 1000
    assert stats.get("both_ok", 0) > 0 and stats.get("both_raise", 0) > 0
