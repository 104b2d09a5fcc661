"""Differential tests on what scientists pickle beyond numpy: pandas
objects (frames, indexes, extension arrays, scalars) and scipy sparse
matrices.

Every object goes through ``difftools.check`` (the same bytes and
``write()`` calls as ``_pickle`` at protocols 0-5, in-band and
out-of-band) and is loaded back by both unpicklers from the same bytes.
pandas and scipy are test dependencies (pyproject ``[test]``), so these
tests run in CI; ``importorskip`` only keeps a bare checkout collectable.
"""
import _pickle
import pickle

import pytest

import pickler
from difftools import check

np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas", reason="pandas is a [test] dependency")
sparse = pytest.importorskip("scipy.sparse", reason="scipy is a [test] dependency")


def pandas_objects():
    rng = np.random.default_rng(0)
    n = 60
    frame = pd.DataFrame({
        "float": rng.random(n),
        "int": rng.integers(0, 10, n),
        "str": [f"row{i}" for i in range(n)],
        "category": pd.Categorical(rng.choice(["u", "v", "w"], n)),
        "when": pd.date_range("2020-01-01", periods=n, freq="h", tz="UTC"),
        "nullable_int": pd.array(rng.integers(0, 5, n), dtype="Int64"),
        "nullable_bool": pd.array([True, False, None] * (n // 3), dtype="boolean"),
        "delta": pd.timedelta_range("1D", periods=n),
    })
    yield "dataframe", frame
    yield "series", frame["float"]
    yield "categorical", frame["category"].values
    yield "datetime_index", pd.DatetimeIndex(frame["when"])
    yield "multiindex_frame", frame.set_index(["int", "str"])
    yield "transposed_frame", frame[["float", "int"]].T
    yield "period_index", pd.period_range("2020-01", periods=12, freq="M")
    yield "interval_index", pd.interval_range(0, 10)
    yield "range_index", pd.RangeIndex(0, 100, 3)
    yield "sparse_array", pd.arrays.SparseArray([0, 0, 1, 2, 0])
    yield "string_array", pd.array(["a", None, "c"], dtype="string")
    yield "scalars", [pd.Timestamp("2021-03-28 01:30", tz="Europe/Paris"),
                      pd.Timedelta("1D 2h"), pd.NaT, pd.NA, pd.offsets.BDay(3)]
    # One block of 400 KB: its data is a large payload (a frame of its own).
    yield "wide_frame", pd.DataFrame(rng.random((1000, 50)))
    # The same frame three times and a view of it: memo references.
    yield "shared_frames", {"a": frame, "b": [frame, frame], "c": frame["int"]}


def sparse_matrices():
    yield "csr", sparse.random(40, 40, density=0.1, format="csr", random_state=0)
    yield "coo", sparse.random(20, 30, density=0.1, format="coo", random_state=1)
    yield "csc_array", sparse.csc_array(np.eye(5))
    yield "dok", sparse.dok_matrix(np.diag([1.0, 2.0, 3.0]))


def _params(gen):
    return [pytest.param(obj, id=name) for name, obj in gen()]


def _loads_agree(data, buffers=None):
    """Both unpicklers load `data` into objects that pickle the same."""
    kw = {} if buffers is None else {"buffers": buffers}
    ours = pickler.loads(data, **kw)
    theirs = _pickle.loads(data, **kw)
    assert type(ours) is type(theirs)
    assert _pickle.dumps(ours, protocol=5) == _pickle.dumps(theirs, protocol=5)
    return ours


@pytest.mark.parametrize("obj", _params(pandas_objects) + _params(sparse_matrices))
def test_same_bytes_as_c(obj):
    check(obj)
    check(obj, protocols=(5,), oob="none")
    check(obj, protocols=(5,), oob="true")


@pytest.mark.parametrize("obj", _params(pandas_objects) + _params(sparse_matrices))
def test_loads_as_c(obj):
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        _loads_agree(_pickle.dumps(obj, protocol=proto))
    buffers = []
    data = pickler.dumps(obj, protocol=5, buffer_callback=buffers.append)
    _loads_agree(data, [b.raw() for b in buffers])


def test_frame_out_of_band_shares_memory():
    frame = pd.DataFrame(np.arange(20000.0).reshape(4000, 5))
    buffers = []
    data = pickler.dumps(frame, protocol=5, buffer_callback=buffers.append)
    assert buffers, "the frame's block went in-band"
    back = pickler.loads(data, buffers=buffers)
    pd.testing.assert_frame_equal(back, frame)
    block = np.asarray(back.values)
    assert any(np.shares_memory(block, np.frombuffer(b, dtype=np.uint8))
               for b in buffers)
