"""The allowlist loader (pickler.safe_loads / SafeUnpickler / pickler.safe).

Hostile pickles, one test per published bypass technique, each at
protocols 0-5, are loaded in ONE subprocess worker with a ``sys.addaudithook``
oracle (no os.system, subprocess, exec, compile, open, socket, ctypes or
import event may fire) and a sentinel file the payloads try to create; a
positive control in the same worker proves the oracle sees an unsafe load.
Benign data (the plain-data part of the differential corpus, every numpy
array kind, the pandas and scipy objects of the scientific-stack tests)
loads under safe_loads to what pickler.loads gives.  A bounded fuzz run
mutates hostile and benign pickles under the same oracle.
"""
import collections
import copyreg
import io
import json
import os
import pickle
import random
import subprocess
import sys
import tempfile

import pytest

import fixtures
import pickler
from fixtures import (
    DC,
    MyBytes,
    MyDict,
    MyFloat,
    MyFrozenSet,
    MyInt,
    MyList,
    MySet,
    MyStr,
    MyTuple,
    Plain,
    Point,
    ReduceItems,
)
from pickler.safe import UnpicklingRefused

HERE = os.path.dirname(os.path.abspath(__file__))

try:
    import numpy as np
except ImportError:  # pragma: no cover
    np = None

SENTINEL_ENV = "PICKLER_SAFE_SENTINEL"


# ---------------------------------------------------------------------------
# Gadget classes: allowed by the tests that name them; each would create the
# sentinel if the loader called its overridden method.

def _touch():
    path = os.environ.get(SENTINEL_ENV)
    if path:
        with open(path, "w") as f:
            f.write("gadget ran")


class GadgetList(list):
    def extend(self, items):
        _touch()

    def append(self, item):
        _touch()


class GadgetDict(dict):
    def __setitem__(self, k, v):
        _touch()


class GadgetInit(list):
    def __init__(self, *args):
        _touch()


class GadgetSet(set):
    def add(self, item):
        _touch()


class GadgetObject:
    """An allowed plain class (BUILD / dunder injection target)."""


class Payload:
    """Pickles as (func, args) (a __reduce__ naming any callable)."""

    def __init__(self, func, args, state=None):
        self.rv = (func, args) if state is None else (func, args, state)

    def __reduce__(self):
        return self.rv


# ---------------------------------------------------------------------------
# Raw opcode helpers (protocol-0 opcodes are valid at every protocol)

def S(s):
    """A str pushed with UNICODE (raw-unicode-escape text line)."""
    return b"V" + s.encode("raw-unicode-escape") + b"\n"


def G(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def framed(proto, body):
    """*body* (ending with STOP) announced as protocol *proto*."""
    return (b"\x80" + bytes([proto]) if proto >= 2 else b"") + body


def sg(module, name):
    """STACK_GLOBAL of two literal strings (protocol 4+ opcodes)."""
    return (b"\x8c" + bytes([len(module)]) + module.encode() +
            b"\x8c" + bytes([len(name)]) + name.encode() + b"\x93")


CMD_TOUCH = "touch $PICKLER_SAFE_SENTINEL"
PY_TOUCH = "open(__import__('os').environ['PICKLER_SAFE_SENTINEL'], 'w').write('x')"


def _dumps_all(obj):
    return [(p, pickle.dumps(obj, protocol=p)) for p in range(6)]


def _raw_all(body):
    return [(p, framed(p, body)) for p in range(6)]


# ---------------------------------------------------------------------------
# The hostile corpus: technique -> (allow spec, [(protocol, pickle)], expect)
# expect is "refused" (UnpicklingRefused) or "loads" (the gadget is defused:
# the load succeeds without the override running).

def hostile_corpus():
    import builtins
    import operator
    import runpy
    import subprocess as sp
    c = {}

    def add(name, cases, allow=(), expect="refused"):
        c[name] = (allow, cases, expect)

    add("direct os.system", _dumps_all(Payload(os.system, (CMD_TOUCH,))))
    add("direct subprocess.Popen", _dumps_all(Payload(sp.Popen, (["sh", "-c", CMD_TOUCH],))))
    add("direct subprocess.check_output",
        _dumps_all(Payload(sp.check_output, (["sh", "-c", CMD_TOUCH],))))
    add("direct eval", _dumps_all(Payload(builtins.eval, (PY_TOUCH,))))
    add("direct exec", _dumps_all(Payload(builtins.exec, (PY_TOUCH,))))
    add("direct compile+exec", _raw_all(
        G("builtins", "exec") + b"(" + G("builtins", "compile") + b"(" + S(PY_TOUCH) +
        S("x") + S("exec") + b"tRtR."))
    add("builtins.open", _dumps_all(Payload(builtins.open, ("/tmp/pickler-safe-x", "w"))))
    add("getattr chain to a dunder of an allowed class", _raw_all(
        G("builtins", "getattr") + b"(" + G("collections", "OrderedDict") + S("__init__") +
        b"tR."))
    add("getattr chain from an allowed class to its module globals", _raw_all(
        G("builtins", "getattr") + b"(" + G("builtins", "getattr") + b"(" +
        G("collections", "OrderedDict") + S("__init__") + b"tR" + S("__globals__") + b"tR."))
    add("getattr of a bound method of an allowed value", _raw_all(
        G("builtins", "getattr") + b"(" + G("collections", "OrderedDict") +
        b")R" + S("pop") + b"tR."))
    add("operator.attrgetter chain", _dumps_all(Payload(operator.attrgetter, ("system",))))
    add("operator.methodcaller", _dumps_all(Payload(operator.methodcaller, ("system", CMD_TOUCH))))
    add("__reduce__ of an allowed-looking class: OrderedDict with a foreign factory",
        _raw_all(G("collections", "defaultdict") + b"(" + G("posix", "system") + b"tR."))
    add("__reduce__ of an allowed class with a non-allowed callable argument", _raw_all(
        G("collections", "defaultdict") + b"(" + G("builtins", "getattr") + b"tR."))
    add("copyreg._reconstructor with a dangerous class", _dumps_all(
        Payload(copyreg._reconstructor, (sp.Popen, object, None))))
    add("copyreg._reconstructor of an allowed class on itself (built-in __init__)", _raw_all(
        G("copyreg", "_reconstructor") + b"(" + G("test_safe", "GadgetList") +
        G("test_safe", "GadgetList") + b"(ltR."), allow=("test_safe.GadgetList",),
        expect="loads")
    add("copyreg._reconstructor on a base with a Python __init__", _raw_all(
        G("copyreg", "_reconstructor") + b"(" + G("test_safe", "GadgetInit") +
        G("test_safe", "GadgetInit") + b"(ltR."), allow=("test_safe.GadgetInit",))
    add("BUILD on an allowed function (modelscan#85: numpy.prod)", _raw_all(
        G("numpy._core.multiarray", "_reconstruct") + b"(dS'__code__'\nI1\nsb."),
        allow="numpy")
    add("BUILD on an allowed class", _raw_all(
        G("collections", "OrderedDict") + b"(dS'__setitem__'\nI1\nsb."))
    add("BUILD slot state on a class", _raw_all(
        G("collections", "OrderedDict") + b"(N(dS'fromkeys'\nI1\nstb."))
    add("BUILD on a module", _raw_all(G("os", "path") + b"(dS'x'\nI1\nsb."))
    add("__dict__ injection of __setstate__", _raw_all(
        G("test_safe", "GadgetObject") + b")R(dS'__setstate__'\n" + G("posix", "system") +
        b"sb."), allow=("test_safe.GadgetObject",))
    add("__dict__ injection of __class__", _raw_all(
        G("test_safe", "GadgetObject") + b")R(dS'__class__'\n" + G("test_safe", "GadgetObject") +
        b"sb."), allow=("test_safe.GadgetObject",))
    add("slot-state injection of __reduce_ex__", _raw_all(
        G("test_safe", "GadgetObject") + b")R(N(dS'__reduce_ex__'\nI1\nstb."),
        allow=("test_safe.GadgetObject",))
    add("dotted name to numpy.__builtins__ (modelscan#330)", [
        (p, framed(p, sg("numpy", "__builtins__.eval") + b"(" + S(PY_TOUCH) + b"tR."))
        for p in (4, 5)] + [(p, framed(p, G("numpy", "__builtins__") + b".")) for p in range(4)],
        allow="numpy")
    add("dotted name through an allowed class", [
        (p, framed(p, sg("numpy", "dtype.__init__.__globals__") + b".")) for p in (4, 5)] +
        [(p, framed(p, G("numpy", "dtype.__init__") + b".")) for p in range(4)], allow="numpy")
    add("STACK_GLOBAL from memoized strings", [
        (p, framed(p, b"\x8c\x02os\x94\x8c\x06system\x94" + b"00" + b"h\x00h\x01\x93" +
                   b"(" + S(CMD_TOUCH) + b"tR.")) for p in (4, 5)])
    add("memo PUT overwrite confusion (picklescan#14)", [
        (p, framed(p, b"\x8c\x0bcollections\x94\x8c\x0bOrderedDict\x94" +
                   b"\x8c\x02os\x8c\x06system" + b"q\x01" + b"0q\x00" + b"0" +
                   b"h\x00h\x01\x93(" + S(CMD_TOUCH) + b"tR.")) for p in (4, 5)])
    add("MARK confusion around STACK_GLOBAL", [
        (p, framed(p, b"(" + b"\x8c\x02os\x8c\x06system" + b"\x93" + b"1" +
                   sg("posix", "system") + b"(" + S(CMD_TOUCH) + b"tR.")) for p in (4, 5)])
    add("extension code registered for os.system", "EXT:os.system")
    add("extension cache poisoned with os.system", "EXTCACHE:os.system")
    add("list subclass with overridden extend (pytorch#189446)", _raw_all(
        G("test_safe", "GadgetList") + b")R(I1\nI2\ne."), allow=("test_safe.GadgetList",),
        expect="loads")
    add("list subclass with overridden append", _raw_all(
        G("test_safe", "GadgetList") + b")RI1\na."), allow=("test_safe.GadgetList",),
        expect="loads")
    add("dict subclass with overridden __setitem__", _raw_all(
        G("test_safe", "GadgetDict") + b")R(I1\nI2\nu."), allow=("test_safe.GadgetDict",),
        expect="loads")
    add("set subclass with overridden add", [
        (p, framed(p, G("test_safe", "GadgetSet") + b")R(K\x01\x90.")) for p in (4, 5)],
        allow=("test_safe.GadgetSet",), expect="loads")
    add("APPENDS to a non-list allowed object", _raw_all(
        G("test_safe", "GadgetObject") + b")R(I1\ne."), allow=("test_safe.GadgetObject",))
    add("SETITEMS on a non-dict allowed object", _raw_all(
        G("test_safe", "GadgetObject") + b")R(I1\nI2\nu."), allow=("test_safe.GadgetObject",))
    add("nested pickle.loads", _dumps_all(Payload(pickle.loads, (b"cos\nsystem\n.",))))
    add("nested _pickle.loads via _codecs.encode bytes", _raw_all(
        G("_pickle", "loads") + b"(" + G("_codecs", "encode") + b"(" +
        S("cos\nsystem\n(V" + CMD_TOUCH + "\ntR.") + S("latin1") + b"tRtR."))
    add("nested pickler.loads", _dumps_all(Payload(pickler.loads, (b"N.",))))
    add("_codecs.encode with another codec", _raw_all(
        G("_codecs", "encode") + b"(" + S("x") + S("rot13") + b"tR."))
    add("INST at protocols 0-1", _raw_all(b"(" + S(CMD_TOUCH) + b"ios\nsystem\n."))
    add("INST of an allowed class with a non-allowed callable argument", _raw_all(
        b"(" + G("builtins", "getattr") + b"icollections\ndefaultdict\n."))
    add("OBJ at protocols 0-1", _raw_all(b"(" + G("os", "system") + S(CMD_TOUCH) + b"o."))
    add("Python 2 names through fix_imports (__builtin__.eval)", _raw_all(
        G("__builtin__", "eval") + b"(" + S(PY_TOUCH) + b"tR."))
    add("Python 2 names through fix_imports (commands.getoutput)", _raw_all(
        G("commands", "getoutput") + b"(" + S(CMD_TOUCH) + b"tR."))
    add("types.CodeType + FunctionType", _raw_all(
        G("types", "FunctionType") + b"(" + G("types", "CodeType") + b")R(dtR."))
    add("marshal.loads of code", _raw_all(G("marshal", "loads") + b"(" + S("") + b"tR."))
    add("importlib.import_module", _dumps_all(Payload(__import__("importlib").import_module,
                                                      ("antigravity",))))
    add("builtins.__import__", _raw_all(G("builtins", "__import__") + b"(" + S("antigravity") +
                                        b"tR."))
    add("runpy._run_code", _dumps_all(Payload(runpy._run_code, (PY_TOUCH, {}))))
    for mod, name in [("pydoc", "pipepager"), ("cProfile", "run"), ("profile", "Profile.run"),
                      ("trace", "Trace.run"), ("code", "InteractiveInterpreter.runcode"),
                      ("timeit", "timeit"), ("doctest", "debug_script"),
                      ("ensurepip", "_run_pip"), ("venv", "create"), ("pip", "main"),
                      ("uuid", "_get_command_stdout"), ("_osx_support", "_read_output"),
                      ("imaplib", "IMAP4_stream"), ("pty", "spawn"), ("ctypes", "CDLL"),
                      ("io", "FileIO"), ("logging", "FileHandler"),
                      ("urllib.request", "urlopen"), ("pkgutil", "resolve_name"),
                      ("idlelib.pyshell", "ModifiedInterpreter.runcode"),
                      ("asyncio.unix_events", "_UnixSubprocessTransport._start"),
                      ("numpy.testing._private.utils", "runstring"),
                      ("numpy.f2py.crackfortran", "getlincoef"),
                      ("lib2to3.pgen2.grammar", "Grammar.loads"),
                      ("cloudpickle.cloudpickle", "_make_function"),
                      ("joblib.numpy_pickle", "load")]:
        cases = [(p, framed(p, G(mod, name) + b"(" + S(CMD_TOUCH) + b"tR.")) for p in range(6)]
        add(f"stdlib helper {mod}.{name}", cases, allow="numpy")
    add("numpy.dtype of a non-str", _raw_all(
        G("numpy", "dtype") + b"(" + G("numpy", "ndarray") + b"tR."), allow="numpy")
    add("numpy._reconstruct of a non-array class", _raw_all(
        G("numpy._core.multiarray", "_reconstruct") + b"(" + G("collections", "OrderedDict") +
        b"(I0\ntS'b'\ntR."), allow="numpy")
    add("numpy.ndarray called directly", _raw_all(
        G("numpy", "ndarray") + b"(I100000000000\ntR."), allow="numpy")
    add("numpy.load (file reads)", _raw_all(G("numpy", "load") + b"(" + S("/etc/passwd") +
                                           b"tR."), allow="numpy")
    add("persistent id without persistent_load", _raw_all(b"P" + b"x\n."))
    add("unregistered extension code", [(p, framed(p, b"\x82\xfe.")) for p in range(6)])
    add("fractions.Fraction exponent bomb", _raw_all(
        G("fractions", "Fraction") + b"(" + S("1e999999999") + b"tR."))
    add("bytearray of an int size", _raw_all(G("builtins", "bytearray") + b"(I1000000000000\ntR."))
    add("getattr to numpy's private module helpers", _raw_all(
        G("builtins", "getattr") + b"(" + G("numpy", "ndarray") + S("__reduce__") + b"tR."),
        allow="numpy")
    return c


def _allow_spec(spec):
    if spec == "numpy":
        return pickler.safe.numpy
    return spec


# ---------------------------------------------------------------------------
# The worker: runs the corpus under the audit hook, prints JSON results.

FORBIDDEN_EVENTS = ("os.system", "subprocess.Popen", "exec", "compile", "open",
                    "import", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                    "os.startfile", "ctypes.", "socket.", "marshal.loads",
                    "code.__new__", "function.__new__", "urllib.Request",
                    "webbrowser.open", "shutil.", "os.remove", "pty.spawn")


def worker(corpus_name, fuzz_iterations=0, seed=0):
    import numpy  # noqa: F401  (allowed code's imports happen before the hook records)
    sentinel = os.environ[SENTINEL_ENV]
    events = []
    state = {"on": False}

    def hook(ev, args):
        if state["on"] and ev.startswith(FORBIDDEN_EVENTS):
            events.append("{} {!r}".format(*(ev, args)[:200]))

    # Warm the policies (they resolve their names once, importing what the
    # allowlists name) so that any import during a load below is a finding.
    warm = [pickler.safe.numpy, (), ("test_safe.GadgetList",), ("test_safe.GadgetDict",),
            ("test_safe.GadgetInit",),
            ("test_safe.GadgetSet",), ("test_safe.GadgetObject",)]
    for allow in warm:
        pickler.safe_loads(pickle.dumps(None), allow=allow)
    corpus = hostile_corpus()
    sys.addaudithook(hook)
    results = []
    if corpus_name == "control":
        # Positive control: an unrestricted load of the same kind of payload
        # must be seen by the oracle.
        state["on"] = True
        try:
            pickler.loads(pickle.dumps(Payload(os.system, (CMD_TOUCH,))))
        finally:
            state["on"] = False
        results.append({"events": events[:], "sentinel": os.path.exists(sentinel)})
        print(json.dumps(results))
        return
    rng = random.Random(seed)
    for name, (allow, cases, expect) in corpus.items():
        if isinstance(cases, str):
            cases = _ext_cases(cases)
        for proto, data in cases:
            samples = [data]
            if fuzz_iterations:
                samples = [_mutate(rng, data) for _ in range(fuzz_iterations)]
            for sample in samples:
                del events[:]
                state["on"] = True
                outcome = "loads"
                try:
                    pickler.safe_loads(sample, allow=_allow_spec(allow))
                except UnpicklingRefused as e:
                    outcome = f"refused: {e}"
                except Exception as e:  # any exception is an outcome
                    outcome = f"error: {type(e).__name__}: {e}"
                finally:
                    state["on"] = False
                touched = os.path.exists(sentinel)
                if touched:
                    os.unlink(sentinel)
                if not fuzz_iterations or events or touched:
                    results.append({"technique": name, "protocol": proto,
                                    "outcome": outcome[:300], "events": events[:],
                                    "sentinel": touched, "expect": expect})
    if fuzz_iterations:
        for proto, data in _benign_fuzz_seeds():
            for _ in range(fuzz_iterations):
                del events[:]
                sample = _mutate(rng, data)
                state["on"] = True
                try:
                    pickler.safe_loads(sample, allow=pickler.safe.numpy)
                except Exception:  # raising is fine: the oracle decides
                    pass
                finally:
                    state["on"] = False
                touched = os.path.exists(sentinel)
                if events or touched:
                    results.append({"technique": "benign-fuzz", "protocol": proto,
                                    "outcome": "", "events": events[:],
                                    "sentinel": touched, "expect": "none"})
    print(json.dumps(results))


def _ext_cases(spec):
    kind, target = spec.split(":")
    module, name = target.rsplit(".", 1)
    code = 0xF0F0
    copyreg.add_extension(module, name, code)
    if kind == "EXTCACHE":
        copyreg._extension_cache[code] = os.system
    body = b"\x83\xf0\xf0(" + S(CMD_TOUCH) + b"tR."
    return [(p, framed(p, body)) for p in range(6)]


def _mutate(rng, data):
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        k = rng.random()
        i = rng.randrange(len(b)) if b else 0
        if k < 0.4 and b:
            b[i] = rng.randrange(256)
        elif k < 0.6:
            b.insert(i, rng.randrange(256))
        elif k < 0.8 and b:
            del b[i]
        else:
            j = rng.randrange(len(b)) if b else 0
            b[i:i] = b[j:j + rng.randint(1, 8)]
    return bytes(b)


def _benign_fuzz_seeds():
    objs = [[1, "a", (2.5, None)], {"k": [1, 2], "s": {1, 2}}, collections.OrderedDict(a=1),
            __import__("datetime").datetime(2020, 1, 2), __import__("decimal").Decimal("1.5")]
    if np is not None:
        objs += [np.arange(6.0).reshape(2, 3), np.array([(1, 2.5)], dtype=[("i", "i4"),
                                                                         ("f", "f8")])]
    return [(p, pickle.dumps(o, protocol=p)) for o in objs for p in range(6)]


def _run_worker(args, timeout=240):
    import pickler as pk
    root = os.path.dirname(os.path.dirname(os.path.abspath(pk.__file__)))
    with tempfile.TemporaryDirectory() as tmp:
        sentinel = os.path.join(tmp, "sentinel")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, HERE]))
        env[SENTINEL_ENV] = sentinel
        code = (f"import sys; sys.path.insert(0, {HERE!r}); import test_safe; "
                f"test_safe.worker(*{tuple(args)!r})")
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, timeout=timeout, cwd=tmp, check=False)
        assert proc.returncode == 0, proc.stderr[-3000:]
        out = proc.stdout.strip().splitlines()[-1]
        return json.loads(out)


@pytest.fixture(scope="module")
def hostile_results():
    results = _run_worker(["hostile"])
    by = collections.defaultdict(list)
    for r in results:
        by[r["technique"]].append(r)
    return by


def test_oracle_positive_control():
    """The oracle sees an unrestricted load run os.system and its sentinel."""
    (r,) = _run_worker(["control"])
    assert any(e.startswith("os.system") for e in r["events"]), r
    assert r["sentinel"]


HOSTILE = hostile_corpus()


@pytest.mark.parametrize("technique", list(HOSTILE))
def test_hostile(hostile_results, technique):
    _allow, cases, expect = HOSTILE[technique]
    got = hostile_results[technique]
    assert len(got) == (6 if isinstance(cases, str) else len(cases))
    for r in got:
        assert not r["events"], r
        assert not r["sentinel"], r
        if expect == "refused":
            # refused with the loader's own exception, or (for a malformed
            # or unregistered stream) the core's UnpicklingError/ValueError
            assert r["outcome"].startswith(("refused", "error: UnpicklingError",
                                            "error: ValueError")), r
        else:
            assert r["outcome"] == "loads", r


def test_fuzz_hostile_and_benign():
    """Mutated hostile and benign pickles: return or raise, never crash (the
    worker exits normally) and never a forbidden event or the sentinel."""
    results = _run_worker(["hostile", 5, 12345])
    assert results == []


# ---------------------------------------------------------------------------
# In-process checks of the refusal itself

def test_refusal_names_global_opcode_offset():
    data = b"\x80\x02cos\nsystem\nq\x00."
    with pytest.raises(UnpicklingRefused) as ei:
        pickler.safe_loads(data)
    e = ei.value
    assert isinstance(e, pickle.UnpicklingError)
    assert (e.module, e.name, e.opcode, e.offset) == ("os", "system", "GLOBAL", 2)
    assert "os.system" in str(e) and "offset 2" in str(e)


def test_refusal_offsets_of_call_and_build():
    body = b"\x80\x04" + sg("collections", "OrderedDict") + b"(I1\ntR."
    with pytest.raises(UnpicklingRefused) as ei:
        pickler.safe_loads(body)
    assert ei.value.opcode == "REDUCE" and ei.value.offset == len(body) - 2
    body = b"\x80\x02" + G("collections", "OrderedDict") + b")R}(S'__class__'\nI1\nub."
    with pytest.raises(UnpicklingRefused) as ei:
        pickler.safe_loads(body)
    assert ei.value.opcode == "BUILD" and ei.value.offset == len(body) - 2


def test_refusal_offset_from_file():
    data = b"\x80\x02N0" + G("os", "system") + b"."
    f = io.BytesIO(b"xyz" + data)
    f.read(3)
    with pytest.raises(UnpicklingRefused) as ei:
        pickler.safe_load(f)
    assert ei.value.offset == 3 + 4


RECORDED = []


class Recorder(list):
    def __init__(self, *a):
        RECORDED.append(a)


def test_nothing_runs_before_refusal():
    """A refused REDUCE leaves the allowed calls before it done and nothing
    after it: the recording class's constructor is not called again."""
    calls = RECORDED
    del calls[:]
    data = pickle.dumps([Payload(Recorder, (1,)), Payload(os.system, ("true",)),
                         Payload(Recorder, (2,))], protocol=2)
    with pytest.raises(UnpicklingRefused):
        pickler.safe_loads(data, allow=(Recorder,))
    assert calls == [(1,)]


def test_never_allowed_cannot_be_allowed():
    for entry in (os.system, eval, exec, getattr, "builtins.eval", "os.system",
                  "subprocess.Popen", "pickle.loads", "pickler.loads", "marshal.loads",
                  "importlib.import_module", "runpy._run_code", "types.FunctionType",
                  "socket.socket", "io.FileIO", "ctypes.CDLL", "numpy.__builtins__",
                  "collections.OrderedDict.__init__", "numpy.load"):
        with pytest.raises(ValueError, match="never allowed"):
            pickler.safe_loads(pickle.dumps(None), allow=(entry,))


def test_unsafe_opt_out_is_explicit():
    data = pickle.dumps(Payload(os.getpid, ()))
    with pytest.raises(UnpicklingRefused):
        pickler.safe_loads(data)
    with pytest.raises(ValueError):
        pickler.safe_loads(data, allow=(os.getpid,))
    assert pickler.safe_loads(data, unsafe_allow_code_execution=(os.getpid,)) == os.getpid()


def test_allow_entries_exact():
    """A string entry allows that name only: no dotted traversal, and the
    object is found in the module's __dict__, never its __getattr__."""
    data = pickle.dumps(Plain(5), protocol=2)
    assert pickler.safe_loads(data, allow=("fixtures.Plain",)).x == 5
    with pytest.raises(UnpicklingRefused):
        pickler.safe_loads(data, allow=("fixtures.Plai",))
    data4 = pickle.dumps(fixtures.A.B.C(), protocol=4)
    with pytest.raises(UnpicklingRefused):
        pickler.safe_loads(data4, allow=("fixtures.A",))
    assert type(pickler.safe_loads(data4, allow=("fixtures.A.B.C",))) is fixtures.A.B.C
    import types
    mod = types.ModuleType("pickler_safe_lazy_mod")
    looked = []
    mod.__getattr__ = lambda name: looked.append(name) or Plain
    sys.modules["pickler_safe_lazy_mod"] = mod
    try:
        with pytest.raises(UnpicklingRefused):
            pickler.safe_loads(b"\x80\x02cpickler_safe_lazy_mod\nPlain\n)\x81.",
                               allow=("pickler_safe_lazy_mod.Plain",))
        assert looked == []
    finally:
        del sys.modules["pickler_safe_lazy_mod"]


def test_persistent_load_only_when_given():
    data = b"\x80\x02X\x01\x00\x00\x00aQ."
    with pytest.raises(pickle.UnpicklingError):
        pickler.safe_loads(data)
    u = pickler.SafeUnpickler(io.BytesIO(data))
    u.persistent_load = lambda pid: ("got", pid)
    assert u.load() == ("got", "a")


def test_safe_unpickler_is_an_unpickler():
    assert issubclass(pickler.SafeUnpickler, pickler.Unpickler)
    u = pickler.SafeUnpickler(io.BytesIO(pickle.dumps({1: [2]})), allow=pickler.safe.numpy)
    assert u.load() == {1: [2]}
    assert "numpy.dtype" in u.allowed
    with pytest.raises(UnpicklingRefused):
        u.find_class("os", "system")


def test_allowlists_combine():
    data = pickle.dumps([Plain(2), np.arange(3)] if np is not None else [Plain(2)], protocol=4)
    for allow in (pickler.safe.numpy + (Plain,), (Plain,) + pickler.safe.numpy,
                  pickler.safe.numpy + pickler.safe.pandas + "fixtures.Plain",
                  (pickler.safe.numpy, Plain)):
        assert _same(pickler.safe_loads(data, allow=allow), pickler.loads(data))
    combined = pickler.safe.numpy + pickler.safe.pandas
    assert len(combined) == len(pickler.safe.pandas)      # pandas includes numpy
    assert "numpy.dtype" in combined and "pandas.DataFrame" in combined
    with pytest.raises(UnpicklingRefused):
        pickler.safe_loads(data, allow=pickler.safe.numpy)


def test_getattr_reaches_only_allowed_names():
    data = pickle.dumps(fixtures.A.cmethod, protocol=2)      # getattr(A, 'cmethod')
    with pytest.raises(UnpicklingRefused):
        pickler.safe_loads(data, allow=("fixtures.A",))
    assert pickler.safe_loads(
        data, allow=("fixtures.A", "fixtures.A.cmethod")) == fixtures.A.cmethod


# ---------------------------------------------------------------------------
# scan

def test_scan_lists_globals_without_running():
    data = b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94" + b"00" + b"h\x00h\x01\x93" + \
        b"(" + S(CMD_TOUCH) + b"tR."
    refs = pickler.safe.scan(data)
    assert [(r.module, r.name, r.opcode) for r in refs] == [("os", "system", "STACK_GLOBAL")]
    assert refs[0].offset == data.index(b"\x93")
    refs = pickler.safe.scan(pickle.dumps(collections.OrderedDict(a=1), protocol=0))
    assert ("collections", "OrderedDict", "GLOBAL") in [(r.module, r.name, r.opcode) for r in refs]
    refs = pickler.safe.scan(b"(" + S("x") + b"ios\nsystem\n.")
    assert [(r.module, r.name, r.opcode, r.offset) for r in refs] == [("os", "system", "INST", 4)]
    with pytest.raises(pickle.UnpicklingError):
        pickler.safe.scan(b"\x80\x04\x8c\xff")


# ---------------------------------------------------------------------------
# Benign data loads identically

def _same(a, b):
    return pickle.dumps(a, protocol=5) == pickle.dumps(b, protocol=5)


PLAIN_TAGS = ("int ", "float ", "complex", "bools", "str len", "bytes len", "bytearray len",
              "empty-bytearray", "range-slice", "datetime", "decimal", "fraction", "uuid",
              "pathlib", "array", "memo-heavy", "shared-refs")


def _plain_corpus():
    for gen in (fixtures.corpus_containers, fixtures.corpus_scalars, fixtures.corpus_objects):
        for tag, obj in gen():
            if tag.startswith(("list", "tuple", "dict", "set", "frozenset", "strlist",
                               "strdict", "nested-tuple")) or tag.startswith(PLAIN_TAGS):
                yield tag, obj
    c = collections
    yield "collections", [c.OrderedDict([(1, 2), ("a", "b")]), c.defaultdict(list, {1: [2]}),
                          c.defaultdict(None), c.deque([1, 2, 3], maxlen=5), c.deque(),
                          c.Counter("hello")]


@pytest.mark.parametrize("proto", range(6))
def test_plain_corpus_loads_identically(proto):
    n = 0
    for tag, obj in _plain_corpus():
        try:
            data = pickle.dumps(obj, protocol=proto)
        except (pickle.PicklingError, ValueError, TypeError):
            continue    # not picklable at this protocol (big ints at protocol 0)
        assert _same(pickler.safe_loads(data), pickler.loads(data)), tag
        n += 1
    assert n > 100


USER_CLASSES = (MyList, MyDict, MySet, MyFrozenSet, MyTuple, MyStr, MyBytes, MyInt, MyFloat,
                Plain, DC, Point)


@pytest.mark.parametrize("proto", range(6))
def test_allowed_user_classes_load_identically(proto):
    objs = [MyList(range(1001)), MyDict((i, None) for i in range(1001)), MySet(range(5)),
            MyFrozenSet(range(5)), MyTuple(range(3)), MyStr("abc"), MyBytes(b"x"),
            MyInt(2 ** 70), MyFloat(-0.0), Plain(), DC(1, [DC(2)]), Point(1, 2),
            fixtures._with_attr(MyList([1, 2]), note="n")]
    for obj in objs:
        data = pickle.dumps(obj, protocol=proto)
        assert _same(pickler.safe_loads(data, allow=USER_CLASSES), pickler.loads(data)), obj


def test_overridden_container_methods_are_not_called():
    """ReduceItems overrides append/extend/__setitem__ (no-ops) and is not a
    list or dict: its items are refused rather than fed to the overrides."""
    data = pickle.dumps(ReduceItems(3), protocol=2)
    with pytest.raises(UnpicklingRefused):
        pickler.safe_loads(data, allow=(ReduceItems,))
    g = pickler.safe_loads(pickle.dumps(GadgetList([1, 2]), protocol=2), allow=(GadgetList,))
    assert type(g) is GadgetList and list(g) == [1, 2]
    d = pickler.safe_loads(pickle.dumps(GadgetDict(a=1), protocol=2), allow=(GadgetDict,))
    assert type(d) is GadgetDict and dict(d) == {"a": 1}


@pytest.mark.skipif(np is None, reason="numpy is a [test] dependency")
@pytest.mark.parametrize("tag", [t for t, _ in fixtures.numpy_arrays()] if np is not None else [])
def test_numpy_arrays_load_identically(tag):
    arr = dict(fixtures.numpy_arrays())[tag]
    for p in range(6):
        data = pickle.dumps(arr, protocol=p)
        assert _same(pickler.safe_loads(data, allow=pickler.safe.numpy), pickler.loads(data))
    buffers = []
    data = pickle.dumps(arr, protocol=5, buffer_callback=buffers.append)
    got = pickler.safe_loads(data, allow=pickler.safe.numpy, buffers=buffers)
    assert _same(got, pickler.loads(data, buffers=buffers))
    with pytest.raises(UnpicklingRefused):
        pickler.safe_loads(pickle.dumps(arr, protocol=2))     # numpy not allowed


@pytest.mark.skipif(np is None, reason="numpy is a [test] dependency")
def test_numpy_scalars_and_dtypes():
    objs = [np.float64(1.5), np.int8(-3), np.str_("x"), np.dtype("f8"), type(np.dtype("f8")),
            np.dtype([("a", "<i4"), ("b", "O")]), np.datetime64("2020-01-01")]
    for p in range(6):
        data = pickle.dumps(objs, protocol=p)
        assert _same(pickler.safe_loads(data, allow=pickler.safe.numpy), pickler.loads(data))


def _scientific():
    try:
        import test_scientific_stack as T
    except Exception:  # pandas/scipy missing: the module skips itself
        return [], []
    return list(T.pandas_objects()), list(T.sparse_matrices())


def test_pandas_objects_load_identically():
    pytest.importorskip("pandas", reason="pandas is a [test] dependency")
    pandas_objs, _ = _scientific()
    assert pandas_objs
    for tag, obj in pandas_objs:
        for p in range(6):
            data = pickle.dumps(obj, protocol=p)
            assert _same(pickler.safe_loads(data, allow=pickler.safe.pandas),
                         pickler.loads(data)), (tag, p)
        buffers = []
        data = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
        got = pickler.safe_loads(data, allow=pickler.safe.numpy + pickler.safe.pandas,
                                 buffers=buffers)
        assert _same(got, pickler.loads(data, buffers=buffers)), tag


def test_arrow_backed_pandas_objects_load_with_the_pandas_allowlist():
    """pandas 3 stores every string column in arrow arrays when pyarrow is
    installed; "...[pyarrow]" dtypes do so on pandas 2 too."""
    pd = pytest.importorskip("pandas", reason="pandas is a [test] dependency")
    # pyarrow comes with dask[dataframe] in the [test] extra
    pa = pytest.importorskip("pyarrow", reason="pyarrow is needed for arrow-backed arrays")
    objs = [pd.array(["a", None, "ccc"], dtype="string[pyarrow]"),
            pd.Series([1, None, 3], dtype="int64[pyarrow]"),
            pd.Series(["x", None], dtype=pd.ArrowDtype(pa.string())),
            pd.DataFrame({"s": pd.array(["u", "v"], dtype="string[pyarrow]"),
                          "f": pd.Series([0.5, None], dtype="float64[pyarrow]")})]
    for obj in objs:
        for p in range(6):
            data = pickle.dumps(obj, protocol=p)
            assert _same(pickler.safe_loads(data, allow=pickler.safe.pandas),
                         pickler.loads(data)), (obj, p)
        buffers = []
        data = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
        assert _same(pickler.safe_loads(data, allow=pickler.safe.pandas, buffers=buffers),
                     pickler.loads(data, buffers=buffers)), obj


def test_arrow_array_with_offsets_past_its_buffer_is_refused():
    """Technique: an allowed rebuilder fed lying metadata (pyarrow's
    _restore_array trusts offsets; reading the array would go past its data
    buffer). The pandas allowlist's _restore_array validates in full."""
    pa = pytest.importorskip("pyarrow", reason="pyarrow is needed for arrow-backed arrays")
    import struct

    from pyarrow.lib import _restore_array
    good = pa.array(["ab", "cd"])
    _, (state,) = good.__reduce__()
    typ, length, nulls, offset, bufs, children, dictionary = state
    lying = pa.py_buffer(struct.pack("<3i", 0, 2, 4000))
    bad = (typ, length, nulls, offset, [bufs[0], lying, bufs[2]], children, dictionary)

    class Crafted:
        def __reduce__(self):
            return (_restore_array, (bad,))

    for p in (2, 5):
        data = pickle.dumps(Crafted(), protocol=p)
        # the stock rebuilder returns the broken array without a word
        with pytest.raises(pa.ArrowInvalid):
            pickle.loads(data).validate(full=True)
        with pytest.raises(pickle.UnpicklingError, match="invalid arrow array"):
            pickler.safe_loads(data, allow=pickler.safe.pandas)


def test_scipy_sparse_with_scanned_names():
    """No ready-made scipy allowlist: scan() lists the names, and allowing
    exactly those (plus numpy) loads the matrices."""
    pytest.importorskip("scipy.sparse", reason="scipy is a [test] dependency")
    _, sparse_objs = _scientific()
    assert sparse_objs
    for tag, obj in sparse_objs:
        for p in range(6):
            data = pickle.dumps(obj, protocol=p)
            with pytest.raises(UnpicklingRefused):
                pickler.safe_loads(data, allow=pickler.safe.numpy)
            names = tuple(sorted({f"{r.module}.{r.name}" for r in pickler.safe.scan(data)
                                  if (r.module or "").startswith("scipy")}))
            got = pickler.safe_loads(data, allow=(pickler.safe.numpy,) + names)
            assert _same(got, pickler.loads(data)), (tag, p)


def test_example_runs():
    """examples/safe.py checks its own results (exit status) and prints its
    headline figure."""
    pytest.importorskip("numpy")
    root = os.path.dirname(os.path.dirname(os.path.abspath(pickler.__file__)))
    script = os.path.join(os.path.dirname(HERE), "examples", "safe.py")
    proc = subprocess.run([sys.executable, script], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, PYTHONPATH=root), check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "safe_loads:" in proc.stdout and "refused: True" in proc.stdout


def test_safe_unpickler_signature_is_its_own():
    # inspect.signature() reads the class's text signature; it must name
    # SafeUnpickler's own parameters (not the inherited Unpickler's) and
    # agree with what __init__ accepts.
    import inspect
    sig = inspect.signature(pickler.SafeUnpickler)
    assert list(sig.parameters) == [
        "file", "allow", "fix_imports", "encoding", "errors", "buffers",
        "unsafe_allow_code_execution"]
    assert sig.parameters["allow"].kind is inspect.Parameter.KEYWORD_ONLY
    assert sig.parameters["buffers"].default is None
    u = pickler.SafeUnpickler(io.BytesIO(pickler.dumps([1])), **{
        name: p.default for name, p in sig.parameters.items()
        if p.default is not inspect.Parameter.empty})
    assert u.load() == [1]
