"""pickler.dask: dask.distributed pickling with pickler, each payload once.

* every route of ``pickler.dask.ROUTES`` is replaced, counts its calls, and
  the installed distributed has no other (its source is searched);
* stock distributed's bytes and out-of-band buffers for everything that is
  not sent by value; by-value functions and classes pickled in one pass and
  loaded by the standard unpickler with cloudpickle;
* a real LocalCluster (processes, 2 workers of 1 thread) started with the
  preload: array, DataFrame (with a p2p shuffle), bag and plain-Python
  workloads with by-value lambdas and classes, errors raised in tasks,
  warnings, ``client.run``, plugins, progress bars; results equal stock's and
  every process pickled with pickler;
* ``dask worker --preload pickler.dask`` and the preload configuration key;
* a script run as a real ``__main__``, against workers with and without the
  preload;
* internals that differ make the import fail, naming the version.
"""
import copyreg
import io
import json
import os
import pathlib
import pickle
import re
import subprocess
import sys
import time
import types
import warnings

import pytest

# Importing distributed installs tblib's reducers for every exception class
# (and tracebacks) in copyreg.dispatch_table, for the whole process.  Other
# test modules compare pickles of exceptions with _pickle's (and tblib's
# reducer changes the exception it reduces): the table is put back as it was
# right after the imports below, and distributed's is used only while this
# module's tests run (the fixture _distributed_copyreg).
_COPYREG_BEFORE = dict(copyreg.dispatch_table)

distributed = pytest.importorskip("distributed")
np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")
cloudpickle = pytest.importorskip("cloudpickle")

import dask
import dask.array as da
import dask.bag as db
import distributed.protocol.pickle as dpp
from distributed import Client, LocalCluster
from distributed.protocol import deserialize, serialize

import pickler
import pickler.dask as pdask

_COPYREG_DISTRIBUTED = dict(copyreg.dispatch_table)


def _set_copyreg(table):
    copyreg.dispatch_table.clear()
    copyreg.dispatch_table.update(table)


_set_copyreg(_COPYREG_BEFORE)


@pytest.fixture(autouse=True, scope="module")
def _distributed_copyreg():
    _set_copyreg(_COPYREG_DISTRIBUTED)
    yield
    _set_copyreg(_COPYREG_BEFORE)


PRELOAD = ["pickler.dask"]
HERE = pathlib.Path(__file__).resolve().parent
SOURCE_ROOT = pathlib.Path(pickler.__file__).resolve().parent.parent

# A module that exists only in this process: registered with cloudpickle to
# be pickled by value, it is what a notebook's or script's __main__ is to
# distributed (the workers cannot import it, so anything from it that they
# can use arrived by value).
BYVALUE_SOURCE = '''
import dataclasses

class TaskFailed(Exception):
    pass

@dataclasses.dataclass
class Point:
    x: int
    y: int

    def norm2(self):
        return self.x * self.x + self.y * self.y

class Counter:
    def __init__(self):
        self.n = 0

    @property
    def doubled(self):
        return 2 * self.n

    @classmethod
    def make(cls, n):
        c = cls()
        c.n = n
        return c

    @staticmethod
    def unit():
        return 1

OFFSET = 1000

def add_offset(x):
    return x + OFFSET

def fail(x):
    raise TaskFailed("task %r failed" % (x,))

def make_point(i):
    return Point(i, i + 1)

square = lambda x: x * x  # noqa: E731

def where_am_i():
    import os
    return os.getpid(), __name__

def warn_and_return(x):
    import distributed
    distributed.warn("warned from a task")
    return x

def structured(n):
    import numpy as np
    return np.zeros(n, dtype=[("a", "i4"), ("b", "f8")])
'''


def _make_byvalue_module():
    name = "pickler_dask_byvalue"
    mod = types.ModuleType(name)
    sys.modules[name] = mod
    code = compile(BYVALUE_SOURCE, f"<{name}>", "exec")
    exec(code, mod.__dict__)  # the test's own source: a module only this process has
    cloudpickle.register_pickle_by_value(mod)
    return mod


bv = _make_byvalue_module()


def _worker_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(SOURCE_ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


# -- the routes ------------------------------------------------------------------

def _module_source_routes():
    """The bindings to pickling the installed distributed's source makes."""
    root = pathlib.Path(distributed.__file__).parent
    found = set()
    for path in root.rglob("*.py"):
        rel = path.relative_to(root.parent)
        if "tests" in rel.parts or rel.name in ("utils_test.py",):
            continue
        module = ".".join(rel.with_suffix("").parts)
        module = module.removesuffix(".__init__")
        text = path.read_text()
        if re.search(r"^\s*import pickle\s*$", text, re.MULTILINE):
            found.add((module, "pickle", "pickle"))
        for m in re.finditer(r"^\s*from distributed\.protocol\.pickle import (.+)$", text,
                             re.MULTILINE):
            for name in m.group(1).split(","):
                name = name.strip().split(" as ")[-1].strip()
                if name in ("dumps", "loads"):
                    found.add((module, name, name))
        if re.search(r"^\s*(import cloudpickle|from cloudpickle)", text, re.MULTILINE):
            found.add((module, "cloudpickle", "cloudpickle"))
        for m in re.finditer(r"^\s*from pickle import (.+)$", text, re.MULTILINE):
            for name in m.group(1).split(","):
                name = name.strip()
                # PickleBuffer and the constants are pickler's too (the same
                # objects); a function or class would be a route.
                if name != "PickleBuffer" and not name.isupper():
                    found.add((module, name, "from pickle"))
    return found


def test_routes_match_the_installed_source():
    found = _module_source_routes()
    expected = set(pdask.ROUTES)
    expected.discard(("distributed.protocol.pickle", "dumps", "dumps"))
    expected.discard(("distributed.protocol.pickle", "loads", "loads"))
    # protocol/pickle.py itself imports cloudpickle for the stock dumps,
    # which is replaced as a whole.
    found.discard(("distributed.protocol.pickle", "cloudpickle", "cloudpickle"))
    assert found == expected


def test_every_route_replaced_and_counted():
    assert pdask.installed()
    for module, attr, kind in pdask.ROUTES:
        mod = sys.modules[module]
        value = getattr(mod, attr)
        route = f"{module}.{attr}"
        if kind == "pickle":
            assert value is not pickle
            before = pdask.stats()
            data = value.dumps({"a": [1, 2.5, "x"]})
            assert data == pickle.dumps({"a": [1, 2.5, "x"]})
            assert value.loads(data) == {"a": [1, 2.5, "x"]}
            after = pdask.stats()
            assert after[route + ".dumps"] == before[route + ".dumps"] + 1
            assert after[route + ".loads"] == before[route + ".loads"] + 1
            # The rest of the module's API is pickler's.
            assert value.Pickler is pickler.Pickler
            assert value.HIGHEST_PROTOCOL == pickle.HIGHEST_PROTOCOL
            assert value.PicklingError is pickle.PicklingError
        else:
            before = pdask.stats()[route]
            if kind == "dumps":
                data = value({"k": (1, 2)})
                assert data == pickle.dumps({"k": (1, 2)}, protocol=5)
            else:
                assert value(pickle.dumps({"k": (1, 2)})) == {"k": (1, 2)}
            assert pdask.stats()[route] == before + 1


def test_uninstall_restores_stock_and_install_is_idempotent():
    stock_objects = None
    pdask.uninstall()
    try:
        assert not pdask.installed()
        stock_objects = {(m, a): getattr(sys.modules[m], a) for m, a, _ in pdask.ROUTES}
        assert distributed.scheduler.pickle is pickle
        assert distributed.client.dumps is dpp.dumps
    finally:
        pdask.install()
    pdask.install()
    assert pdask.installed()
    for (m, a), stock in stock_objects.items():
        assert getattr(sys.modules[m], a) is not stock


# -- stock bytes -------------------------------------------------------------------

def _plain_corpus():
    import operator

    from dask._task_spec import DataNode, Task, TaskRef
    arr = np.arange(24, dtype="f8").reshape(4, 6)
    frame = pd.DataFrame({"a": np.arange(5), "b": list("vwxyz"),
                          "c": pd.Categorical(list("ppqqp"))})
    return [
        None, 1, 2.5, "text", b"bytes", "__main__ in a string",
        {"k": [1, 2, {"n": None}], "t": (1, "a")},
        [{"id": i, "name": f"r{i}"} for i in range(2000)],
        arr, arr[:, ::2], arr.T, np.frombuffer(b"readonly-data!!!", dtype="u1"),
        frame, frame.set_index("b"), pd.Series(np.arange(3.0), name="s"),
        ValueError("boom", 3), KeyError(("x", 1)),
        Task("k", operator.add, TaskRef("a"), DataNode("two", 2)),
        {"x": Task("x", sum, [1, 2, 3]), "y": Task("y", operator.neg, TaskRef("x"))},
        types.SimpleNamespace(a=1, b=[arr]),
        np.dtype([("a", "i4"), ("b", "f8")]),
        # Classes the C pickler reduces itself, and one only cloudpickle
        # can pickle (stock's third attempt: the same reduction).
        type(None), type(Ellipsis), types.SimpleNamespace, types.FunctionType,
    ]


def _dumps_with_buffers(dumps, obj, protocol):
    buffers = []
    data = dumps(obj, protocol=protocol, buffer_callback=buffers.append)
    return data, [(bytes(memoryview(b)), memoryview(b).readonly) for b in buffers]


def _stock(call):
    pdask.uninstall()
    try:
        return call()
    finally:
        pdask.install()


@pytest.mark.parametrize("protocol", [None, 4, 5])
def test_plain_payloads_are_stock_bytes(protocol):
    # Fresh objects for each run: pickling may change an object (tblib's
    # exception reducer creates the exception's __dict__, which its next
    # reduction then includes).
    stock = _stock(lambda: [_dumps_with_buffers(dpp.dumps, x, protocol)
                            for x in _plain_corpus()])
    corpus = _plain_corpus()
    before = pdask.stats()
    ours = [_dumps_with_buffers(dpp.dumps, x, protocol) for x in corpus]
    after = pdask.stats()
    for x, s, o in zip(corpus, stock, ours):
        assert o == s, repr(x)[:80]
    # One pass per payload, nothing by value.
    assert after["passes"] - before["passes"] == len(corpus)
    assert after["by_value"] == before["by_value"]


def test_serialize_frames_and_writeable_flags_are_stock():
    """distributed's pickle serializer family: the same header (with its
    writeable flags) and frames; loading keeps the flags."""
    writeable = np.arange(10.0)
    readonly = np.arange(10.0)
    readonly.setflags(write=False)
    objs = [writeable, readonly, pd.DataFrame({"a": np.arange(4)}),
            {"arrays": [writeable, readonly]}]

    def run():
        out = []
        for x in objs:
            header, frames = serialize(x, serializers=("pickle",))
            out.append((header, [bytes(memoryview(f)) for f in frames]))
        return out

    stock = _stock(run)
    ours = run()
    assert ours == stock
    assert [deserialize(*serialize(x, serializers=("pickle",))) is not None for x in objs]
    from distributed.protocol.serialize import pickle_dumps, pickle_loads
    header, frames = pickle_dumps({"arrays": [writeable, readonly]})
    assert header["writeable"] == (True, False) and len(frames) == 3
    back = pickle_loads(header, frames)
    assert back["arrays"][0].flags.writeable and not back["arrays"][1].flags.writeable
    np.testing.assert_array_equal(back["arrays"][1], readonly)


def test_by_value_in_one_pass_loads_with_stdlib_and_cloudpickle():
    payload = {"f": bv.add_offset, "g": bv.square, "p": bv.Point(3, 4),
               "cls": bv.Counter, "c": bv.Counter.make(5), "data": list(range(10))}
    before = pdask.stats()
    data = dpp.dumps(payload)
    after = pdask.stats()
    assert after["passes"] - before["passes"] == 1
    assert after["by_value"] - before["by_value"] >= 4
    # Loads with the standard unpickler.  Unregistering the module and
    # dropping it from sys.modules proves nothing is looked up by name.
    cloudpickle.unregister_pickle_by_value(bv)
    del sys.modules[bv.__name__]
    try:
        back = pickle.loads(data)
    finally:
        sys.modules[bv.__name__] = bv
        cloudpickle.register_pickle_by_value(bv)
    assert back["f"](1) == 1001
    assert back["g"](7) == 49
    assert back["p"].norm2() == 25
    assert back["c"].doubled == 10 and back["c"].unit() == 1
    import dataclasses
    assert [f.name for f in dataclasses.fields(back["p"])] == ["x", "y"]
    # The same reconstruction as stock's cloudpickle pass gives.
    stock = _stock(lambda: dpp.dumps(payload))
    assert stock == cloudpickle.dumps(payload, protocol=5)
    cloud = pickle.loads(stock)
    assert cloud["f"](1) == back["f"](1) and cloud["p"].norm2() == back["p"].norm2()


def test_local_function_and_unpicklable_objects_one_pass():
    def outer(n):
        def inner(x):
            return x + n
        return inner

    payload = [outer(3), property(lambda self: 1), types.CodeType, (lambda: 2).__code__]
    before = pdask.stats()
    data = dpp.dumps(payload)
    assert pdask.stats()["passes"] - before["passes"] == 1
    back = pickle.loads(data)
    assert back[0](1) == 4 and isinstance(back[1], property) and back[2] is types.CodeType


def test_unpicklable_falls_back_like_stock():
    import threading
    lock = threading.Lock()
    before = pdask.stats()
    with pytest.raises(TypeError, match="lock"):
        dpp.dumps({"lock": lock})
    after = pdask.stats()
    # pickler, then with dask serializers, then cloudpickle alone: as stock.
    assert after["passes"] - before["passes"] == 3
    assert after["cloudpickle_passes"] - before["cloudpickle_passes"] == 1


class Opaque:
    """pickle cannot pickle it; it has a dask serializer."""

    def __init__(self, payload):
        self.payload = payload

    def __reduce__(self):
        raise TypeError("not picklable")


def _serialize_opaque(x):
    return {}, [x.payload]


def _deserialize_opaque(header, frames):
    return Opaque(bytes(frames[0]))


def test_dask_serializer_fallback_matches_stock():
    """An object pickle cannot pickle, with a dask serializer registered:
    stock's second attempt (its _DaskPickler) and ours write the same bytes."""
    from distributed.protocol.serialize import dask_deserialize, dask_serialize
    dask_serialize.register(Opaque)(_serialize_opaque)
    dask_deserialize.register(Opaque)(_deserialize_opaque)
    obj = [Opaque(b"abc"), {"k": 1}]
    stock = _stock(lambda: dpp.dumps(obj))
    before = pdask.stats()
    ours = dpp.dumps(obj)
    assert pdask.stats()["passes"] - before["passes"] == 2
    assert ours == stock
    back = pickle.loads(ours)
    assert back[0].payload == b"abc" and back[1] == {"k": 1}


def test_reused_pickler_after_large_payload():
    """The pickler kept between calls is dropped after a payload with many
    memoized objects (its memo would be walked by every later call), and the
    payloads after it are still the plain bytes."""
    big = [{"k": str(i)} for i in range(5 * pdask.REUSE_MAX_MEMO)]
    assert dpp.dumps(big) == pickle.dumps(big, protocol=5)
    small = {"a": (1, "x")}
    assert dpp.dumps(small) == pickle.dumps(small, protocol=5)
    for cached, _, _ in getattr(pdask._tls, "picklers", {}).values():
        assert len(cached.memo) == 0


GC_SEEN = []


class GcProbe:
    """Records whether the cyclic garbage collector runs while it is loaded."""

    def __reduce__(self):
        return GcProbe, ()

    def __init__(self):
        import gc
        GC_SEEN.append(gc.isenabled())


def test_large_loads_pause_the_garbage_collector():
    import gc
    small = dpp.dumps([GcProbe()])
    large = dpp.dumps([GcProbe(), b"x" * pdask.GC_PAUSE_MIN_BYTES])
    GC_SEEN.clear()
    assert gc.isenabled()
    before = pdask.stats()["gc_paused_loads"]
    dpp.loads(small)
    dpp.loads(large)
    assert GC_SEEN == [True, False]
    assert gc.isenabled()
    assert pdask.stats()["gc_paused_loads"] == before + 1
    # A collector the application disabled stays disabled; a failing load
    # resumes it.
    gc.disable()
    try:
        dpp.loads(large)
        assert not gc.isenabled()
    finally:
        gc.enable()
    with pytest.raises(pickle.UnpicklingError):
        dpp.loads(b"\x80\x05" + b"\xff" * pdask.GC_PAUSE_MIN_BYTES)
    assert gc.isenabled()


# -- a real cluster ------------------------------------------------------------------

cluster = pytest.mark.cluster


@pytest.fixture(scope="module")
def client():
    # pickler must be importable in the worker processes the nannies spawn.
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = _worker_env()["PYTHONPATH"]
    pdask.reset_stats()     # the counts below are this cluster's
    try:
        with dask.config.set({"distributed.scheduler.no-workers-timeout": "500ms"}):
            cluster = LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True,
                dashboard_address=None, preload=PRELOAD, preload_nanny=PRELOAD,
                scheduler_kwargs={"preload": PRELOAD})
        with cluster, Client(cluster) as c:
            yield c
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


def _dumps_calls(counts):
    """Calls of distributed's dumps, under every route that binds it."""
    return sum(counts[f"{m}.{a}"] for m, a, kind in pdask.ROUTES if kind == "dumps")


def _stats_by_process(client):
    workers = client.run(lambda: __import__("pickler.dask").dask.stats())
    installed = client.run(lambda: __import__("pickler.dask").dask.installed())
    scheduler = client.run_on_scheduler(lambda: __import__("pickler.dask").dask.stats())
    return workers, installed, scheduler


@cluster
def test_cluster_workloads(client):
    # Arrays, with a by-value function per block.
    x = da.arange(10_000, chunks=1_000).reshape(100, 100).rechunk(25)
    y = (x + x.T).map_blocks(bv.add_offset).sum(axis=0)
    np.testing.assert_array_equal(client.compute(y).result(),
                                  y.compute(scheduler="sync"))
    # A p2p rechunk (the shuffle extension's disk buffer pickles its shards).
    z = x.rechunk((100, 4), method="p2p").map_blocks(bv.add_offset)
    np.testing.assert_array_equal(client.compute(z).result(),
                                  x.compute(scheduler="sync") + bv.OFFSET)

    # A DataFrame through a p2p shuffle (the shuffle extension's routes).
    import dask.dataframe as dd
    frame = pd.DataFrame({"k": np.arange(400) % 7, "v": np.arange(400.0),
                          "s": [f"s{i % 13}" for i in range(400)]})
    ddf = dd.from_pandas(frame, npartitions=4)
    def squared(method):
        return ddf.shuffle(on="k", shuffle_method=method).map_partitions(
            lambda part: part.assign(v=part.v.map(bv.square)))

    got = client.compute(squared("p2p")).result().sort_values("v").reset_index(drop=True)
    want = squared("tasks").compute(scheduler="sync").sort_values("v").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want)
    assert sorted(got.v) == sorted(frame.v.map(bv.square))
    grouped = ddf.groupby("k").v.sum()
    pd.testing.assert_series_equal(client.compute(grouped).result().sort_index(),
                                   frame.groupby("k").v.sum().sort_index())

    # A bag of by-value objects.
    bag = db.from_sequence(range(200), npartitions=4).map(bv.make_point)
    total = bag.map(lambda p: p.norm2()).filter(lambda n: n % 2 == 0).sum()
    assert client.compute(total).result() == total.compute(scheduler="sync")
    points = client.compute(bag).result()
    assert [p.x for p in points] == list(range(200))
    assert type(points[0]) is bv.Point      # cloudpickle's class tracking: the same class

    # Plain Python: submit, map, results that are instances of by-value classes.
    futures = client.map(bv.square, range(20))
    assert client.gather(futures) == [i * i for i in range(20)]
    counter = client.submit(bv.Counter.make, 21).result()
    assert counter.doubled == 42 and type(counter) is bv.Counter
    structured = client.submit(bv.structured, 3).result()
    assert structured.dtype.names == ("a", "b")

    # An error raised in a task, by a by-value exception class.
    with pytest.raises(bv.TaskFailed, match="task 7 failed"):
        client.submit(bv.fail, 7).result()
    # A warning raised in a task reaches the client.
    with pytest.warns(UserWarning, match="warned from a task"):
        _warned_task(client)
    # A task no worker can run: the scheduler's own NoValidWorkerError.
    with pytest.raises(Exception, match="NoValidWorker|no-workers|restrictions"):
        client.submit(bv.square, 3, resources={"GPU": 1}, pure=False).result(timeout=20)

    # client.run with a by-value function; the scheduler pickles an
    # unreachable worker's error for the client.
    pids = client.run(bv.where_am_i)
    assert len({pid for pid, _ in pids.values()}) == 2
    assert {name for _, name in pids.values()} == {bv.__name__}
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        errors = client.run(bv.where_am_i, workers=["tcp://127.0.0.1:9"],
                            on_error="return")
    assert isinstance(errors["tcp://127.0.0.1:9"], OSError)

    # A progress bar (the scheduler runs the functions it sends).
    futs = client.map(bv.add_offset, range(5), pure=False)
    from distributed.diagnostics.progressbar import TextProgressBar
    with io.StringIO() as out, _redirect(out):
        TextProgressBar(futs, interval="50ms", complete=True)
        client.gather(futs)

    # Plugins: a scheduler plugin and a directory uploaded to the nannies.
    class Marker(distributed.diagnostics.plugin.SchedulerPlugin):
        name = "pickler-marker"

    client.register_plugin(Marker())
    assert client.run_on_scheduler(
        lambda dask_scheduler: "pickler-marker" in dask_scheduler.plugins)

    workers, installed, scheduler = _stats_by_process(client)
    assert len(workers) == 2 and all(installed.values())
    # Every worker pickled and unpickled through pickler, one pass each.
    for addr, counts in workers.items():
        assert counts["distributed.protocol.pickle.dumps"] > 0, addr
        assert counts["distributed.protocol.pickle.loads"] > 0, addr
        assert counts["passes"] == _dumps_calls(counts), addr
        assert counts["by_value"] > 0, addr
    # A structured dtype went through the standard pickle's stand-in.
    assert sum(c["distributed.protocol.pickle.pickle.dumps"] for c in workers.values()) > 0
    # The p2p shuffle's own pickling ran in the workers.
    assert sum(c["distributed.shuffle._core.pickle.dumps"] for c in workers.values()) > 0
    assert sum(c["distributed.shuffle._core.pickle.loads"] for c in workers.values()) > 0
    assert sum(c["distributed.shuffle._pickle.pickle.dumps"] for c in workers.values()) > 0
    assert sum(c["distributed.shuffle._pickle.pickle.loads"] for c in workers.values()) > 0
    # Client, scheduler and nannies share this process (processes=True).
    for route in ("distributed.protocol.pickle.dumps", "distributed.protocol.pickle.loads",
                  "distributed.client.dumps", "distributed.client.loads",
                  "distributed.scheduler.dumps", "distributed.scheduler.loads",
                  "distributed.scheduler.pickle.dumps", "distributed.scheduler.pickle.loads",
                  "distributed.client.pickle.loads",
                  "distributed.diagnostics.progressbar.dumps",
                  "distributed.shuffle._scheduler_plugin.dumps"):
        assert scheduler[route] > 0, route
    assert scheduler["by_value"] > 0
    assert scheduler["cloudpickle_passes"] == 0


def _warned_task(client):
    """A task that warns; returns once the client has the warning (its
    message arrives after the result)."""
    assert client.submit(bv.warn_and_return, 5).result() == 5
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.05)
        if pdask.stats()["distributed.client.pickle.loads"]:
            break


class _redirect:
    def __init__(self, out):
        self.out = out

    def __enter__(self):
        self.old = sys.stdout
        sys.stdout = self.out

    def __exit__(self, *exc):
        sys.stdout = self.old


@cluster
def test_upload_directory_plugin(client, tmp_path):
    (tmp_path / "pkg_for_upload").mkdir()
    (tmp_path / "pkg_for_upload" / "__init__.py").write_text("VALUE = 5\n")
    before = pdask.stats()["distributed.diagnostics.plugin.dumps"]
    client.register_plugin(
        distributed.diagnostics.plugin.UploadDirectory(str(tmp_path / "pkg_for_upload")))
    assert pdask.stats()["distributed.diagnostics.plugin.dumps"] == before + 1


@cluster
def test_worker_cli_preload_and_config(client, tmp_path):
    """`dask worker --preload pickler.dask`, and the preload configuration key
    (as DASK_DISTRIBUTED__WORKER__PRELOAD), each joining the test's cluster."""
    address = client.scheduler.address
    env = _worker_env()
    base = [sys.executable, "-m", "distributed.cli.dask_worker", address,
            "--nthreads", "1", "--no-nanny", "--no-dashboard"]
    env_config = dict(env, DASK_DISTRIBUTED__WORKER__PRELOAD='["pickler.dask"]')
    procs = [
        # cwd: `-m` puts the working directory first on sys.path, and in CI
        # that is the checkout, whose pickler/ has no compiled modules.
        subprocess.Popen(base + ["--preload", "pickler.dask", "--name", "cli-flag"],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         cwd=tmp_path),
        subprocess.Popen(base + ["--name", "cli-config"], env=env_config,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path),
    ]
    try:
        client.wait_for_workers(4, timeout=60)
        info = client.scheduler_info(n_workers=-1)["workers"]
        cli = [a for a, w in info.items() if w["name"] in ("cli-flag", "cli-config")]
        assert len(cli) == 2
        futs = [client.submit(bv.add_offset, i, workers=[a], pure=False)
                for i, a in enumerate(cli)]
        assert client.gather(futs) == [1000, 1001]
        got = client.run(lambda: (__import__("pickler.dask").dask.installed(),
                                  __import__("pickler.dask").dask.stats()["passes"]),
                         workers=cli)
        assert all(ok and passes > 0 for ok, passes in got.values())
    finally:
        client.retire_workers(workers=[a for a, w in client.scheduler_info(
            n_workers=-1)["workers"].items() if w["name"] in ("cli-flag", "cli-config")],
            close_workers=True)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            p.stderr.close()


MAIN_SCRIPT = r'''
import json, sys
import dataclasses
from distributed import Client, LocalCluster
# pickler.dask is imported under the __main__ guard: workers spawned by a
# nanny import this script again (as __mp_main__), and the first cluster's
# must stay stock.

@dataclasses.dataclass
class Record:
    key: str
    value: float

def total(records):
    return sum(r.value for r in records)

def run(**kwargs):
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                      dashboard_address=None, **kwargs) as cluster, Client(cluster) as c:
        records = [Record("k%d" % i, i / 2) for i in range(1000)]
        futs = [c.submit(total, records[i::4]) for i in range(4)]
        got = sum(c.gather(futs))
        back = c.submit(lambda rs: rs[:3], records).result()
        assert back == records[:3] and type(back[0]) is Record, back
        worker = list(c.run(lambda: (__import__("sys").modules.get("pickler.dask")
                                     is not None)).values())
        stats = c.run(lambda: __import__("pickler.dask").dask.stats()
                      if "pickler.dask" in __import__("sys").modules else None)
        return got, worker, list(stats.values())[0]

if __name__ == "__main__":
    import pickler.dask
    want = sum(i / 2 for i in range(1000))
    pickler.dask.reset_stats()
    stock_workers = run()
    local = pickler.dask.stats()
    preloaded = run(preload=["pickler.dask"], preload_nanny=["pickler.dask"],
                    scheduler_kwargs={"preload": ["pickler.dask"]})
    print(json.dumps({"want": want, "stock_workers": stock_workers,
                      "preloaded": preloaded, "local": local}))
'''


@cluster
def test_real_main_script(tmp_path):
    """__main__ functions and classes, with stock workers (the client and
    scheduler use pickler: its pickles load with stock distributed and
    cloudpickle, and the other way) and with preloaded ones."""
    script = tmp_path / "main_script.py"
    script.write_text(MAIN_SCRIPT)
    proc = subprocess.run([sys.executable, str(script)], env=_worker_env(), cwd=tmp_path,
                          check=False,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    got, worker_has_it, worker_stats = out["stock_workers"]
    assert got == out["want"] and worker_has_it == [False] and worker_stats is None
    got, worker_has_it, worker_stats = out["preloaded"]
    assert got == out["want"] and worker_has_it == [True]
    assert worker_stats["by_value"] > 0 and worker_stats["passes"] > 0
    local = out["local"]
    assert local["by_value"] > 0
    assert local["distributed.protocol.pickle.dumps"] > 0
    assert local["passes"] == _dumps_calls(local)     # each payload once


# -- a distributed that differs ------------------------------------------------------

def test_differing_internals_refuse_to_install(monkeypatch):
    """A missing or rebound attribute, or a new module holding the stock
    functions or the standard pickle: install() raises naming the version
    and replaces nothing."""
    pdask.uninstall()
    try:
        stock = {(m, a): getattr(sys.modules[m], a) for m, a, _ in pdask.ROUTES}
        cases = [
            (lambda: monkeypatch.delattr(distributed.scheduler, "dumps"),
             "distributed.scheduler has no attribute 'dumps'"),
            (lambda: monkeypatch.setattr(distributed.client, "pickle", types.ModuleType("x")),
             "distributed.client.pickle is not the standard pickle module"),
            (lambda: monkeypatch.setattr(distributed.worker, "stock_loads", dpp.loads,
                                         raising=False),
             "distributed.worker.stock_loads is distributed.protocol.pickle.loads"),
            (lambda: monkeypatch.setattr(distributed.nanny, "pickle", pickle),
             "distributed.nanny.pickle is the standard pickle module"),
        ]
        for change, message in cases:
            change()
            with pytest.raises(pdask.DistributedVersionError) as info:
                pdask.install()
            text = str(info.value)
            assert f"distributed {distributed.__version__}" in text
            assert message in text and "Nothing was replaced" in text
            now = {(m, a): getattr(sys.modules[m], a, None) for m, a, _ in pdask.ROUTES}
            changed = [k for k in stock if now[k] is not stock[k]]
            assert changed in ([], [("distributed.scheduler", "dumps")],
                               [("distributed.client", "pickle")])
            monkeypatch.undo()
    finally:
        pdask.install()
    assert pdask.installed()


@cluster
def test_import_fails_with_a_missing_attribute(tmp_path):
    code = ("import distributed.scheduler, distributed\n"
            "del distributed.scheduler.dumps\n"
            "try:\n"
            "    import pickler.dask\n"
            "except ImportError as e:\n"
            "    print(type(e).__name__, e)\n"
            "    import distributed.protocol.pickle as p, pickle\n"
            "    print(distributed.client.pickle is pickle, p.dumps.__module__)\n")
    proc = subprocess.run([sys.executable, "-c", code], env=_worker_env(), check=False,
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    first, second = proc.stdout.strip().splitlines()[-2:]
    assert first.startswith("DistributedVersionError")
    assert f"distributed {distributed.__version__}" in first
    assert "distributed.scheduler has no attribute 'dumps'" in first
    assert second == "True distributed.protocol.pickle"


def test_install_again_is_harmless():
    # Importing pickler.dask twice is harmless (the preload imports it again).
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        import importlib
        importlib.import_module("pickler.dask").install()
    assert pdask.installed()


def test_example_runs():
    """examples/dask_once.py (its headline figure) checks its own result."""
    script = SOURCE_ROOT / "examples" / "dask_once.py"
    if not script.exists():     # an installed pickler outside its checkout
        script = HERE.parent / "examples" / "dask_once.py"
    proc = subprocess.run([sys.executable, str(script)], env=_worker_env(), check=False,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    line, = proc.stdout.strip().splitlines()
    assert line.startswith("pickler.dask: a payload") and "1 pass" in line
