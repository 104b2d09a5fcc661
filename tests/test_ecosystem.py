"""Real subclasses from the ecosystem on pickler.Pickler (issue 6).

dill's Pickler and joblib's NumpyPickler and Hasher subclass
pickle._Pickler, cloudpickle's Pickler subclasses pickle.Pickler; each
takes its base when it is imported.  Every check here runs Python twice in
subprocesses: once stock, once with the base swapped for pickler.Pickler
before the library is imported (tests/eco_support/sitecustomize.py, first
on PYTHONPATH, so the processes a test-suite starts are swapped too), and
asserts that the library's class really has pickler.Pickler in its MRO in
the swapped run (and not in the stock one).

* Direct tests: the same script, stock and swapped, must print the same
  pickles (bytes), hashes and round-trip results.
* The libraries' own test-suites (marker ``ecosystem``: select with
  ``-m ecosystem``, leave out with ``-m "not ecosystem"``): the tests that
  fail with the swap must be a subset of those that fail without it.  dill's
  and joblib's tests are in their wheels; cloudpickle's only in its source
  tree, so that suite runs when PICKLER_CLOUDPICKLE_SOURCE names one (see
  docs/subclassing.md, "Ecosystem", for the measured results).
"""
import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import pytest

import pickler

SUPPORT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "eco_support")

# Only located here, never imported: dill changes pickle._Pickler.dispatch
# when it is imported, which would change what the other tests compare with.
PACKAGE_DIRS = {}
for _name in ("dill", "joblib", "cloudpickle", "numpy"):
    _spec = importlib.util.find_spec(_name)
    if _spec is None:
        # The test extra (pip install ".[test]") installs all four.
        pytest.skip(f"{_name} is not installed", allow_module_level=True)
    PACKAGE_DIRS[_name] = os.path.dirname(_spec.origin)

DILL = "dill._dill:Pickler"
JOBLIB = "joblib.numpy_pickle:NumpyPickler,joblib.hashing:Hasher"
CLOUDPICKLE = "cloudpickle.cloudpickle:Pickler"


def eco_env(mode, check):
    """Environment of a subprocess: `mode` is PICKLER_ECO_SWAP (stock, py, c)."""
    env = dict(os.environ)
    # The pickler under test (the one this process imported), after the
    # support directory whose sitecustomize does the swap.
    paths = [SUPPORT, os.path.dirname(os.path.dirname(os.path.abspath(pickler.__file__)))]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PICKLER_ECO_SWAP"] = mode
    env["PICKLER_ECO_CHECK"] = check
    # str hashes (set and dict orders) equal in the stock and swapped runs
    env["PYTHONHASHSEED"] = "0"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTEST_ADDOPTS", None)
    return env


def run_script(tmp_path, source, mode, check, timeout=300):
    """Run `source` (from the same file for both modes: code objects
    pickled by value hold its name) and return the JSON it prints."""
    script = tmp_path / "eco_script_body.py"
    script.write_text(textwrap.dedent(source))
    work = tmp_path / ("work-" + mode)
    work.mkdir()
    proc = subprocess.run([sys.executable, str(script), str(work)],
                          capture_output=True, text=True, timeout=timeout,
                          cwd=str(tmp_path), env=eco_env(mode, check), check=False)
    assert proc.returncode == 0, f"{mode} run failed:\n{proc.stderr[-4000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def stock_and_swapped(tmp_path, source, swap, check):
    stock = run_script(tmp_path, source, "stock", check)
    swapped = run_script(tmp_path, source, swap, check)
    assert stock["checked"] == swapped["checked"] == check.split(",")
    return stock, swapped


def assert_same_results(stock, swapped):
    assert stock["results"].keys() == swapped["results"].keys()
    different = [key for key in stock["results"]
                 if stock["results"][key] != swapped["results"][key]]
    assert different == [], different[:20]
    # each script checked its own round trips
    bad = [key for key, r in swapped["results"].items() if not r["ok"]]
    assert bad == [], bad[:20]


# ---------------------------------------------------------------------------
# Direct tests

DILL_SCRIPT = """
import json, sys, pickle, functools, collections, enum, dataclasses, abc, warnings
warnings.simplefilter("ignore")
import dill
from eco_check import check_bases
checked = check_bases()

def top_level(x):
    return x * 2

def outer(n):
    def inner(x):
        return x + n
    return inner

def make_class():
    class Local:
        attr = 3
        def __init__(self, v):
            self.v = v
        def get(self):
            return self.v + self.attr
    return Local

class WithABC(abc.ABC):
    @abc.abstractmethod
    def f(self): ...

class Impl(WithABC):
    def f(self):
        return "impl"

class Color(enum.Enum):
    RED = 1
    GREEN = 2

@dataclasses.dataclass
class DC:
    a: int
    b: list = dataclasses.field(default_factory=list)

def recursive(n):
    return 1 if n <= 1 else n * recursive(n - 1)

Local = make_class()
square = lambda x: x ** 2
gen_state = (i for i in range(3))

cases = {
    "lambda": (square, lambda f: f(7)),
    "closure": (outer(5), lambda f: f(1)),
    "nested closures": (outer(outer(2)(3)), lambda f: f(1)),
    "top-level function": (top_level, lambda f: f(4)),
    "recursive function": (recursive, lambda f: f(5)),
    "local class": (Local, lambda c: c(4).get()),
    "local instance": (Local(10), lambda o: o.get()),
    "abc class": (WithABC, lambda c: c.__name__),
    "abc instance": (Impl(), lambda o: o.f()),
    "enum": (Color.GREEN, lambda c: c.value),
    "dataclass": (DC(1, [2, 3]), lambda d: (d.a, d.b)),
    "partial": (functools.partial(outer(1), 2), lambda p: p()),
    "functions in containers": ({"f": square, "l": [outer(1), outer(1)], "s": {1, 2}},
                                lambda d: (d["f"](2), d["l"][1](1), sorted(d["s"]))),
    "ordered dict": (collections.OrderedDict(b=1, a=2), lambda d: list(d.items())),
    "module": (collections, lambda m: m.__name__),
    "bound method": (Local(1).get, lambda m: m()),
    "lambda in default": (lambda x, f=square: f(x), lambda f: f(3)),
    "data": ([1, 2.5, "s", b"b", None, True, (1, 2), {3, 4}, frozenset({5})] * 3,
             lambda d: repr(d)),
}

results = {}
for name, (obj, probe) in cases.items():
    expected = repr(probe(obj))
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        for kw in ({}, {"recurse": True}, {"byref": True}):
            key = "%s/%d/%s" % (name, proto, ",".join(kw))
            try:
                data = dill.dumps(obj, protocol=proto, **kw)
            except Exception as e:
                # compared with the stock run's
                results[key] = {"dumps error": type(e).__name__, "ok": True}
                continue
            try:
                got = repr(probe(dill.loads(data)))
            except Exception as e:
                # dill's own limits (the stock run has the same)
                got = "loads error: " + type(e).__name__
                expected_here = got
            else:
                expected_here = expected
            results[key] = {"pickle": data.hex(), "probe": got, "ok": got == expected_here}
print(json.dumps({"checked": checked, "results": results}))
"""


def test_dill_round_trips_and_bytes_equal_stock(tmp_path):
    stock, swapped = stock_and_swapped(tmp_path, DILL_SCRIPT, "py", DILL)
    assert_same_results(stock, swapped)
    assert sum("pickle" in r for r in swapped["results"].values()) > 250


JOBLIB_SCRIPT = """
import json, sys, os, pickle, collections, decimal, datetime
import numpy as np
import joblib
from joblib.hashing import hash as jhash
from eco_check import check_bases
checked = check_bases()
work = sys.argv[1]

class Plain:
    def __init__(self, a):
        self.a = a

def func(x):
    return x

rng = np.random.RandomState(0)
arrays = {
    "float64": rng.rand(50, 40),
    "int32 fortran": np.asfortranarray(rng.randint(0, 100, (30, 20)).astype(np.int32)),
    "non-contiguous": rng.rand(40, 40)[::3, 1::2],
    "big": rng.rand(20000),   # 160 kB: more than a frame
    "empty": np.zeros((0, 3)),
    "0-d": np.array(3.5),
    "bool": rng.rand(100) > 0.5,
    "structured": np.array([(1, 2.0), (3, 4.0)], dtype=[("x", "i4"), ("y", "f8")]),
    "object": np.array([1, "a", None, (2, 3)], dtype=object),
    "datetime64": np.array(["2020-01-01", "2021-06-30"], dtype="datetime64[D]"),
    "memmap-like view": np.arange(1000, dtype=np.int16).reshape(10, 100).T,
}
hashables = {
    "dict": {"b": 1, "a": [1, 2], "c": {"z": None}},
    "dict other order": {"c": {"z": None}, "a": [1, 2], "b": 1},
    "set": {"x%d" % i for i in range(40)},
    "set reversed": set(reversed(["x%d" % i for i in range(40)])),
    "mixed set": {1, "a", 2.5, (1, 2)},
    "frozenset": frozenset({3, 1, 2}),
    "nested": [{"k": {1, 2}}, ({"a": 1},), [[[]]]],
    "strings": ["s" * i for i in range(20)] + ["s"] * 5,
    "objects": [Plain(1), Plain([1, 2]), Plain(Plain("x"))],
    "function": func,
    "builtin": len,
    "class": Plain,
    "method": Plain(1).__init__,
    "ordered": collections.OrderedDict([("b", 1), ("a", 2)]),
    "decimal": decimal.Decimal("1.25"),
    "datetime": datetime.datetime(2020, 1, 2, 3, 4, 5),
    "dtype": np.dtype("f8"),
    "arrays": list(arrays.values()),
    "array dict": {"x": arrays["float64"], "y": arrays["int32 fortran"]},
    "bytes": b"\\x00" * 1000,
}
for name, arr in arrays.items():
    hashables["array " + name] = arr

results = {}
for name, obj in hashables.items():
    for kw in ({}, {"hash_name": "sha1"}, {"coerce_mmap": True}):
        results["hash %s %s" % (name, kw)] = {"hash": jhash(obj, **kw), "ok": True}
results["equal dicts hash equal"] = {
    "ok": jhash(hashables["dict"]) == jhash(hashables["dict other order"])}
results["equal sets hash equal"] = {
    "ok": jhash(hashables["set"]) == jhash(hashables["set reversed"])}

def same(a, b):
    if isinstance(b, np.memmap):
        b = np.asarray(b)
    if isinstance(a, np.ndarray):
        return (type(b) is np.ndarray and a.dtype == b.dtype and a.shape == b.shape
                and (a.dtype.hasobject and list(a.flat) == list(b.flat)
                     or np.array_equal(a, b)))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b

values = dict(arrays)
values["all in a dict"] = {"arrays": list(arrays.values()), "meta": {"n": 3, "s": "x"}}
values["array twice"] = [arrays["float64"], arrays["float64"]]
for name, value in values.items():
    for compress in (0, 3):
        for proto in (2, 3, 4, 5):
            fname = os.path.join(work, "v.pkl")
            joblib.dump(value, fname, compress=compress, protocol=proto)
            with open(fname, "rb") as f:
                data = f.read()
            back = joblib.load(fname)
            ok = same(value, back)
            if not compress and proto >= 4:
                mm = joblib.load(fname, mmap_mode="r")
                ok = ok and same(value, mm)
            results["dump %s %s %d" % (name, compress, proto)] = {
                "file": data.hex(), "ok": ok}
print(json.dumps({"checked": checked, "results": results}))
"""


def test_joblib_hashes_and_dump_files_equal_stock(tmp_path):
    stock, swapped = stock_and_swapped(tmp_path, JOBLIB_SCRIPT, "py", JOBLIB)
    assert_same_results(stock, swapped)
    assert sum(key.startswith("hash ") for key in swapped["results"]) > 90
    assert sum(key.startswith("dump ") for key in swapped["results"]) > 100


CLOUDPICKLE_SCRIPT = """
import json, sys, pickle, uuid, itertools, enum, dataclasses, typing, functools, collections

# cloudpickle names dynamic classes with uuid4(): make it deterministic so
# that the stock and swapped pickles can be compared.
_counter = itertools.count(1)
uuid.uuid4 = lambda: uuid.UUID(int=next(_counter))

import cloudpickle
from eco_check import check_bases
checked = check_bases()

def outer(n):
    def inner(x):
        return x + n
    return inner

def make_classes():
    class Base:
        def __init__(self, v):
            self.v = v
        def get(self):
            return self.v
    class Child(Base):
        __slots__ = ("w",)
        def get(self):
            return super().get() * 2
    class Color(enum.Enum):
        RED = 1
        BLUE = 2
    @dataclasses.dataclass
    class DC:
        a: int
        # typing.List, not list: cloudpickle and dill pickle this class by
        # value, annotations included
        b: typing.List[int] = dataclasses.field(default_factory=list)  # noqa: UP006
    return Base, Child, Color, DC

Base, Child, Color, DC = make_classes()
T = typing.TypeVar("T")
square = lambda x: x ** 2
counter = [0]
def uses_global(x):
    counter[0] += 1
    return x + len(counter)

def recursive(n):
    return 1 if n <= 1 else n * recursive(n - 1)

cases = {
    "lambda": (square, lambda f: f(7)),
    "closure": (outer(5), lambda f: f(1)),
    "nested closures": (outer(outer(2)(3)), lambda f: f(1)),
    "global-using function": (uses_global, lambda f: f(1)),
    "recursive function": (recursive, lambda f: f(5)),
    "dynamic class": (Base, lambda c: c(3).get()),
    "dynamic subclass with slots": (Child, lambda c: c(3).get()),
    "instance of dynamic class": (Child(4), lambda o: o.get()),
    "dynamic enum": (Color.BLUE, lambda c: (c.name, c.value)),
    "dynamic dataclass": (DC(1, [2]), lambda d: (d.a, d.b)),
    "typevar": (T, lambda t: t.__name__),
    "partial": (functools.partial(outer(1), 2), lambda p: p()),
    "bound method": (Child(2).get, lambda m: m()),
    "functions in containers": ({"f": square, "l": [outer(1), outer(1)], "s": {1, 2}},
                                lambda d: (d["f"](2), d["l"][1](1), sorted(d["s"]))),
    "module": (collections, lambda m: m.__name__),
    "data": ([1, 2.5, "s", b"b", None, True, (1, 2), {3, 4}, frozenset({5})] * 3,
             lambda d: repr(d)),
}
results = {}
for name, (obj, probe) in cases.items():
    expected = repr(probe(obj))
    for proto in range(2, pickle.HIGHEST_PROTOCOL + 1):
        key = "%s/%d" % (name, proto)
        data = cloudpickle.dumps(obj, protocol=proto)
        got = repr(probe(pickle.loads(data)))
        results[key] = {"pickle": data.hex(), "probe": got, "ok": got == expected}
print(json.dumps({"checked": checked, "results": results}))
"""


def test_cloudpickle_round_trips_and_bytes_equal_stock(tmp_path):
    stock, swapped = stock_and_swapped(tmp_path, CLOUDPICKLE_SCRIPT, "c", CLOUDPICKLE)
    assert_same_results(stock, swapped)
    assert len(swapped["results"]) >= 60


# ---------------------------------------------------------------------------
# The libraries' own test-suites, stock and swapped.

# A test of a library that fails in one run only may be timing-dependent
# (dill's test_threads.py copies a thread that may end meanwhile): a test
# that fails swapped and not stock runs again, swapped, up to RETRIES times,
# and counts as failed only if it fails every time.  The summary lists them.
RETRIES = 2


def run_pytest_suite(tmp_path, mode, check, args, rootdir, source=None,
                     extra_path=(), tag=None):
    """Run pytest on a library's tests: from its source tree `source` with
    its own configuration, else (tests of an installed package) with an
    empty one.  Returns the report of eco_plugin (test ids relative to
    `rootdir`)."""
    tag = tag or mode
    report = tmp_path / (f"report-{tag}.json")
    env = eco_env(mode, check)
    env["PICKLER_ECO_REPORT"] = str(report)
    if extra_path:
        env["PYTHONPATH"] = os.pathsep.join(list(extra_path) + [env["PYTHONPATH"]])
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "eco_plugin", "-p", "no:cacheprovider",
           "--basetemp", str(tmp_path / ("tmp-" + tag)), "--rootdir", str(rootdir)]
    if source is None:
        ini = tmp_path / "pytest.ini"
        ini.write_text("[pytest]\n")   # not our configuration
        cmd += ["-c", str(ini)]
    cmd += args
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                          cwd=str(source or tmp_path), env=env, stdin=subprocess.DEVNULL,
                          check=False)
    assert report.exists(), f"no report ({tag}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    result = json.loads(report.read_text())
    result["output"] = proc.stdout[-3000:]
    result["flaky"] = []
    return result


def run_stock_and_swapped(tmp_path, swap, check, args, rootdir, **kw):
    stock = run_pytest_suite(tmp_path, "stock", check, args, rootdir, **kw)
    swapped = run_pytest_suite(tmp_path, swap, check, args, rootdir, **kw)
    for attempt in range(RETRIES):
        new = sorted(set(swapped["failed"]) - set(stock["failed"]))
        again = [nodeid for nodeid in new if not nodeid.startswith("collect:")]
        if not again:
            break
        rerun = run_pytest_suite(tmp_path, swap, check,
                                 [os.path.join(str(rootdir), n) for n in again],
                                 rootdir, tag=f"{swap}-again-{attempt}", **kw)
        assert rerun["check_error"] is None, rerun["check_error"]
        passed_now = set(rerun["passed"]) & set(again)
        swapped["failed"] = sorted(set(swapped["failed"]) - passed_now)
        swapped["passed"] = sorted(set(swapped["passed"]) | passed_now)
        swapped["flaky"] += sorted(passed_now)
    return stock, swapped


def summary(name, stock, swapped):
    """Printed (see it with -rP): the counts docs/subclassing.md quotes."""
    def counts(r):
        return "{} passed, {} failed, {} skipped".format(
            len(r["passed"]), len(r["failed"]), len(r["skipped"]))
    print(f"{name} on Python {sys.version_info[0]}.{sys.version_info[1]}: "
          f"stock {counts(stock)}; swapped {counts(swapped)}")
    for nodeid in sorted(set(stock["failed"]) | set(swapped["failed"])):
        print("  failed {}{}".format(nodeid, "" if nodeid in swapped["failed"]
                                 else " (stock only)"))
    for nodeid in swapped["flaky"]:
        print(f"  passed when run again (swapped): {nodeid}")


def assert_no_new_failures(stock, swapped, check, min_passed):
    assert stock["check_error"] is None and swapped["check_error"] is None, (
        stock["check_error"], swapped["check_error"])
    assert stock["checked"] == swapped["checked"] == check.split(",")
    new = sorted(set(swapped["failed"]) - set(stock["failed"]))
    assert new == [], "fail only with pickler.Pickler as base:\n{}\n{}".format(
        "\n".join(new), swapped["output"])
    assert len(swapped["passed"]) >= min_passed, swapped["output"]
    # the same tests ran
    assert (set(swapped["passed"]) | set(swapped["failed"])
            == set(stock["passed"]) | set(stock["failed"]))


@pytest.mark.ecosystem
def test_dill_own_suite(tmp_path):
    """dill runs its tests as scripts (python -m dill.tests runs each
    dill/tests/test_*.py); so do we, each stock and swapped."""
    tests_dir = os.path.join(PACKAGE_DIRS["dill"], "tests")
    scripts = sorted(f for f in os.listdir(tests_dir)
                     if f.startswith("test_") and f.endswith(".py"))
    assert len(scripts) >= 25

    def run(mode, script):
        proc = subprocess.run(
            [sys.executable, os.path.join(SUPPORT, "eco_script.py"),
             os.path.join(tests_dir, script)],
            capture_output=True, text=True, timeout=300, cwd=str(tmp_path),
            env=eco_env(mode, DILL), check=False)
        return proc.returncode, proc.stderr[-2000:]

    outcome = {(mode, script): run(mode, script)
               for mode in ("stock", "py") for script in scripts}
    failed = {mode: {s for s in scripts if outcome[mode, s][0] != 0}
              for mode in ("stock", "py")}
    flaky = []
    for script in sorted(failed["py"] - failed["stock"]):
        for attempt in range(RETRIES):
            if run("py", script)[0] == 0:
                failed["py"].discard(script)
                flaky.append(script)
                break
    summary("dill's test scripts", *[
        {"passed": [s for s in scripts if s not in failed[mode]],
         "failed": sorted(failed[mode]), "skipped": [],
         "flaky": flaky if mode == "py" else []} for mode in ("stock", "py")])
    new = sorted(failed["py"] - failed["stock"])
    assert new == [], "\n\n".join("{}:\n{}".format(s, outcome["py", s][1]) for s in new)
    assert len(scripts) - len(failed["py"]) >= 25


# joblib: the modules of its suite that exercise NumpyPickler and Hasher
# (test_memory hashes arguments and stores results with joblib.dump).
JOBLIB_MODULES = ["test_numpy_pickle.py", "test_numpy_pickle_compat.py",
                  "test_numpy_pickle_utils.py", "test_hashing.py", "test_memory.py"]


@pytest.mark.ecosystem
def test_joblib_own_suite(tmp_path):
    tests_dir = os.path.join(PACKAGE_DIRS["joblib"], "test")
    args = [os.path.join(tests_dir, m) for m in JOBLIB_MODULES]
    # test ids relative to site-packages: joblib/test/test_x.py::test_y
    stock, swapped = run_stock_and_swapped(
        tmp_path, "py", JOBLIB, args, rootdir=os.path.dirname(PACKAGE_DIRS["joblib"]))
    summary("joblib " + ", ".join(JOBLIB_MODULES), stock, swapped)
    assert_no_new_failures(stock, swapped, JOBLIB, min_passed=600)
    assert all(n.startswith("joblib/test/test_") for n in stock["passed"])


@pytest.mark.ecosystem
def test_cloudpickle_own_suite(tmp_path):
    source = os.environ.get("PICKLER_CLOUDPICKLE_SOURCE")
    if not source:
        # cloudpickle's tests are not in its wheel, and fetching its source
        # at test time would make the suite depend on the network: run it
        # with PICKLER_CLOUDPICKLE_SOURCE=<a cloudpickle source tree of the
        # installed version>; docs/subclassing.md has the measured results.
        pytest.skip("PICKLER_CLOUDPICKLE_SOURCE not set (cloudpickle's tests "
                    "are only in its source tree)")
    pytest.importorskip("psutil")   # cloudpickle's tests/testutils.py needs it
    args = ["tests"]
    # as its tox.ini has it, and its test package (installed by its
    # dev-requirements.txt)
    extra = [source, os.path.join(source, "tests"),
             os.path.join(source, "tests", "cloudpickle_testpkg")]
    stock, swapped = run_stock_and_swapped(tmp_path, "c", CLOUDPICKLE, args, rootdir=source,
                                           source=source, extra_path=extra)
    summary("cloudpickle's tests/", stock, swapped)
    assert_no_new_failures(stock, swapped, CLOUDPICKLE, min_passed=200)
