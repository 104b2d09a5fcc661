"""Inputs and user code that crashed pickler where _pickle survives (issue 14).

Each case runs in a child process (so a segmentation fault or an abort
fails the test instead of ending the run), with the same interpreter and
the pickler under test, and prints what it observed for the parent to check.
Under the sanitizer job the child inherits the sanitizer preload, so a
use-after-free there is reported as well.
"""
import os
import subprocess
import sys
import textwrap

import pytest

import pickler

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(pickler.__file__)))


PRELUDE = f"""
import io, pickle, _pickle, sys, threading, time, gc
import pickler
assert pickler.__file__.startswith({ROOT!r}), pickler.__file__
"""


def run_child(code, tmp_path, timeout=120):
    """Run `code` in a child process; return its stdout lines.  A child
    killed by a signal (a crash) or failing otherwise fails the test."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)
    proc = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(code)],
                          check=False, capture_output=True, text=True, timeout=timeout,
                          cwd=str(tmp_path), env=env)
    assert proc.returncode >= 0, (
        f"child crashed (signal {-proc.returncode}):\n{proc.stderr[-3000:]}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.split()




# -- 1. clear_memo() while a memoized object's __del__ replaces the memo ----

def test_clear_memo_del_replaces_memo(tmp_path):
    out = run_child("""
        class Evil:
            def __del__(self):
                p.memo = {}
                p.memo.clear()
        for method in ("clear_memo", "proxy_clear", "memo_copy"):
            p = pickler.Pickler(io.BytesIO(), 2)
            data = [Evil() for _ in range(50)]
            p.dump(data)
            del data
            if method == "clear_memo":
                p.clear_memo()
            elif method == "proxy_clear":
                p.memo.clear()
            else:
                p.memo.copy()
            p.clear_memo()
            assert len(p.memo) == 0
            p.dump([1, 2])     # still usable
            print(method, "ok")
    """, tmp_path)
    assert out == ["clear_memo", "ok", "proxy_clear", "ok", "memo_copy", "ok"]


def test_clear_memo_del_dumps_again(tmp_path):
    # A __del__ run by clear_memo() pickles with the same Pickler: the memo
    # keeps a consistent size, and later dumps still load.
    out = run_child("""
        armed = True
        class Evil:
            def __del__(self):
                if armed:
                    p.dump([object.__new__(Plain) for _ in range(20)])
        class Plain:
            pass
        f = io.BytesIO()
        p = pickler.Pickler(f, 2)
        data = [Evil() for _ in range(20)]
        p.dump(data)
        del data
        p.clear_memo()
        p.clear_memo()
        assert len(p.memo) == 0, len(p.memo)
        p.dump("end")
        armed = False     # the copies loaded below are not to write
        f.seek(0)
        u = pickler.Unpickler(f)
        n = 0
        while True:
            try:
                last = u.load()
            except EOFError:
                break
            n += 1
        print(last, n)
    """, tmp_path)
    assert out == ["end", "22"]


def test_dumps_spare_memo_released_by_del(tmp_path):
    # Temporaries of __reduce__ live in dumps()'s reused memo only; their
    # __del__ calls dumps() and loads() while it is released.
    out = run_child("""
        class Temp:
            def __reduce__(self):
                return (int, ())
            def __del__(self):
                assert pickler.loads(pickler.dumps([1, (2,)], 5)) == [1, (2,)]
        class Obj:
            def __reduce__(self):
                return (list, ([Temp(), Temp()],))
        for i in range(200):
            assert pickler.dumps([Obj(), Obj()], 5) == _pickle.dumps([Obj(), Obj()], 5)
        print("ok")
    """, tmp_path)
    assert out == ["ok"]


# -- 2. small thread stacks --------------------------------------------------

STACK_CHILD = textwrap.dedent("""
    class Node:
        def __init__(self, child):
            self.child = child
        def __reduce__(self):
            return (Node, (self.child,))

    def nest(kind, depth):
        obj = None
        for _ in range(depth):
            obj = Node(obj) if kind == "reduce" else [obj]
        return obj

    def attempt(fn, data):
        try:
            return ("ok", fn(data, 5))
        except RecursionError:
            return ("RecursionError", None)

    def in_thread(stack_kib, fn, data):
        res = []
        threading.stack_size(stack_kib * 1024)
        t = threading.Thread(target=lambda: res.append(attempt(fn, data)))
        t.start()
        t.join()
        threading.stack_size(0)
        return res[0]

    kind, depth, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    sys.setrecursionlimit(limit)
    data = nest(kind, depth)
    for kib in (128, 192, 256, 320):
        # _pickle may crash where pickler must not: run it only where the
        # recursion limit stops it first (checked by the parent).
        ours, blob = in_thread(kib, pickler.dumps, data)
        if ours == "ok":
            assert pickle.loads(blob) is not None or depth == 0
        print(kib, ours)
""")


@pytest.mark.parametrize("kind,depth,limit", [
    ("reduce", 400, 1000),     # the case: _pickle writes it at 192-320 KiB
    ("reduce", 900, 1000),
    ("list", 400, 1000),
    ("list", 30000, 100000),   # a high limit: only the stack guard stops it
    ("reduce", 30000, 100000),
])
def test_small_thread_stacks_dump(tmp_path, kind, depth, limit):
    code = STACK_CHILD.replace("sys.argv[1], int(sys.argv[2]), int(sys.argv[3])",
                               f"{kind!r}, {depth}, {limit}")
    out = run_child(code, tmp_path)
    results = dict(zip(out[0::2], out[1::2]))
    assert set(results) == {"128", "192", "256", "320"}
    assert set(results.values()) <= {"ok", "RecursionError"}
    if depth > 10000:
        assert set(results.values()) == {"RecursionError"}


def test_deep_reduce_same_bytes_as_c_pickler(tmp_path):
    # Where neither pickler is near the end of its stack, deep data gives
    # _pickle's bytes (the guard changes nothing there).
    code = STACK_CHILD.replace("sys.argv[1], int(sys.argv[2]), int(sys.argv[3])",
                               "'reduce', 400, 1000")
    code = code.replace("for kib in (128, 192, 256, 320):", "for kib in ():")
    code += textwrap.dedent("""
        theirs, cblob = in_thread(0, _pickle.dumps, data)
        ours, blob = in_thread(0, pickler.dumps, data)
        print(theirs, ours, blob == cblob)
    """)
    out = run_child(code, tmp_path)
    assert out == ["ok", "ok", "True"]


def test_deep_load_in_small_thread(tmp_path):
    # Loading is iterative in both picklers: deep data needs no C stack.
    out = run_child("""
        blob = b"\\x80\\x05" + b"]" * 100000 + b"N" + b"a" * 100000 + b"."
        res = []
        threading.stack_size(128 * 1024)
        def unwind(obj):
            # taken apart level by level: freeing 100000 nested lists in a
            # 128 KiB thread overflows the stack in CPython 3.13 itself
            n = 0
            while obj is not None:
                inner = obj[0]
                obj.clear()
                obj, n = inner, n + 1
            return n
        def run():
            res.append(unwind(pickler.loads(blob)))
            res.append(unwind(pickler.Unpickler(io.BytesIO(blob)).load()))
        t = threading.Thread(target=run)
        t.start()
        t.join()
        print(res)
    """, tmp_path)
    assert out == ["[100000,", "100000]"]


# -- 3. one Unpickler used by two threads ------------------------------------

@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_unpickler_shared_by_threads_refused(tmp_path, protocol):
    out = run_child("""
        protocol = PROTOCOL
        a_in_hook = threading.Event()
        b_done = threading.Event()
        class Key:
            def __init__(self, n):
                self.n = n
            def __reduce__(self):
                return (Key, (self.n,))
            def __hash__(self):
                if threading.current_thread().name == "A" and not a_in_hook.is_set():
                    a_in_hook.set()
                    b_done.wait(10)
                return hash(self.n)
            def __eq__(self, other):
                return isinstance(other, Key) and other.n == self.n
        data = {Key(i): i for i in range(5)}
        blob = pickle.dumps(data, protocol)
        class Switch(io.BytesIO):
            pass
        u = pickler.Unpickler(io.BytesIO(blob))
        results = {}
        def a():
            results["A"] = len(u.load())
        def b():
            a_in_hook.wait(10)
            try:
                u.load()
                results["B"] = "loaded"
            except RuntimeError as e:
                results["B"] = str(e)
            finally:
                b_done.set()
        ta = threading.Thread(target=a, name="A")
        tb = threading.Thread(target=b, name="B")
        ta.start(); tb.start(); ta.join(); tb.join()
        print(results["A"], results["B"].replace(" ", "_"))
        # Used one after the other, from different threads: allowed.
        u = pickler.Unpickler(io.BytesIO(blob + blob))
        t = threading.Thread(target=lambda: u.load())
        t.start(); t.join()
        print(len(u.load()))
    """.replace("PROTOCOL", str(protocol)), tmp_path)
    assert out == ["5", "Unpickler_object_is_already_used_by_another_thread", "5"]


def test_unpickler_reentrant_load_same_thread_allowed(tmp_path):
    # _pickle allows load() re-entered from a hook on the same thread (it
    # reads on from the same file); so does pickler.
    out = run_child("""
        class P(pickler.Unpickler):
            def persistent_load(self, pid):
                return ("inner", self.load())
        class PC(_pickle.Unpickler):
            def persistent_load(self, pid):
                return ("inner", self.load())
        f = io.BytesIO()
        class Pk(pickle.Pickler):
            def persistent_id(self, obj):
                return 1 if obj == "x" else None
        Pk(f, 2).dump(["x"])
        pickle.dump([7], f, 2)
        blob = f.getvalue()
        out = []
        for cls in (P, PC):
            try:
                out.append(repr(cls(io.BytesIO(blob)).load()))
            except Exception as e:
                out.append(type(e).__name__)
        print(out[0] == out[1])
    """, tmp_path)
    assert out == ["True"]


# -- 4. a set that changes while it is pickled -------------------------------

def test_set_grows_and_shrinks_back(tmp_path):
    out = run_child("""
        class Adder:
            def __init__(self, s, n):
                self.s, self.n = s, n
            def __hash__(self):
                return self.n
            def __eq__(self, other):
                return self is other
            def __reduce__(self):
                if self.n == 1:
                    self.s.update(range(100, 130))          # grows (resizes)
                else:
                    self.s.difference_update(range(100, 130))   # back to its size
                return (int, (self.n,))
        class Grower(Adder):
            def __reduce__(self):
                self.s.add(1000)
                return (int, ())
        def make(cls):
            s = set(range(10))
            s.add(cls(s, 1))
            s.add(cls(s, 2))
            return s
        for proto in (4, 5):
            for cls in (Adder, Grower):
                out = []
                for m in (_pickle, pickler):
                    try:
                        out.append(m.dumps(make(cls), proto))
                    except RuntimeError as e:
                        out.append(str(e))
                print(proto, cls.__name__, out[0] == out[1], type(out[0]).__name__)
    """, tmp_path)
    assert out == ["4", "Adder", "True", "bytes", "4", "Grower", "True", "str",
                   "5", "Adder", "True", "bytes", "5", "Grower", "True", "str"]


# -- 5. a file whose read(n) returns more than n bytes -----------------------

def test_read_returns_more_than_asked(tmp_path):
    out = run_child("""
        class Greedy:
            def __init__(self, data, extra, readinto):
                self.data, self.pos, self.extra = data, 0, extra
                if readinto:
                    self.readinto = self._readinto
            def read(self, n):
                r = self.data[self.pos:self.pos + n + self.extra]
                self.pos += len(r)
                return r
            def _readinto(self, buf):
                r = self.read(len(buf))
                buf[:len(r)] = r[:len(buf)]
                return len(r)
            def readline(self):
                i = self.data.index(b"\\n", self.pos) + 1
                r, self.pos = self.data[self.pos:i], i
                return r
        cases = [b"C\\x00.", b"NC\\x00.", b"N0C\\x00.", b"\\x80\\x04C\\x00.",
                 b"NB\\x00\\x00\\x00\\x00.", b"N\\x80\\x05\\x96" + bytes(8) + b".",
                 b"N\\x8e" + bytes(8) + b".", b"I1\\nC\\x00.", b"NC\\x01x."]
        same = 0
        for data in cases:
            for extra in (0, 1, 3):
                for readinto in (False, True):
                    out = []
                    for m in (_pickle, pickler):
                        try:
                            out.append(repr(m.Unpickler(Greedy(data, extra, readinto)).load()))
                        except Exception as e:
                            out.append("%s: %s" % (type(e).__name__, e))
                    assert out[0] == out[1], (data, extra, readinto, out)
                    same += 1
        print(same)
    """, tmp_path)
    assert out == [str(9 * 3 * 2)]


# -- 6. a buffer_callback that releases its PickleBuffer ---------------------

def test_buffer_callback_releasing_buffer_raises(tmp_path):
    # _pickle copies the memory of the released buffer into the pickle
    # (undefined); pickler refuses with ValueError (docs/unpickler.md,
    # deliberate differences).
    out = run_child("""
        arr = bytearray(b"abcdefgh" * 100)
        def release(buf):
            buf.release()
            return True     # in-band: the data would be read after the release
        for data in (pickle.PickleBuffer(arr), [pickle.PickleBuffer(arr)] * 2):
            try:
                pickler.dumps(data, 5, buffer_callback=release)
                print("no-error")
            except ValueError as e:
                print("ValueError")
            try:
                pickler.Pickler(io.BytesIO(), 5, buffer_callback=release).dump(data)
                print("no-error")
            except ValueError as e:
                print("ValueError")
        print(bytes(arr[:8]).decode())
    """, tmp_path)
    assert out == ["ValueError"] * 4 + ["abcdefgh"]


# -- objects user code reaches during dump/load stay valid --------------------

def test_pickler_mutated_by_hooks_during_dump(tmp_path):
    out = run_child("""
        results = []
        class Mutating(pickler.Pickler):
            action = None
            def reducer_override(self, obj):
                if type(obj) is Leaf:
                    act = self.action
                    if act == "memo_dict":
                        self.memo = {}
                    elif act == "memo_proxy":
                        self.memo = pickler.Pickler(io.BytesIO()).memo
                    elif act == "clear":
                        self.clear_memo()
                    elif act == "memo_clear":
                        self.memo.clear()
                    elif act == "copy":
                        self.memo.copy()
                    elif act == "init":
                        try:
                            self.__init__(io.BytesIO(), 2)
                        except RuntimeError as e:
                            results.append(str(e))
                    elif act == "dump":
                        try:
                            self.dump(1)
                        except RuntimeError as e:
                            results.append(str(e))
                    gc.collect()
                return NotImplemented
        class Leaf:
            def __reduce__(self):
                return (Leaf, ())
        data = []
        for i in range(30):
            shared = [i]
            data.append((Leaf(), shared, shared, [Leaf(), {"k": shared}]))
        for act in ("memo_dict", "memo_proxy", "clear", "memo_clear", "copy", "init", "dump"):
            for proto in (0, 2, 4, 5):
                f = io.BytesIO()
                p = Mutating(f, proto)
                p.action = act
                p.dump(data)
                back = pickle.loads(f.getvalue())
                assert len(back) == 30 and back[5][1] == [5], act
        print(len(results), sorted(set(results)))
    """, tmp_path)
    assert out[0] == str(2 * 4 * 30 * 2)
    assert "Pickler object is already used" in " ".join(out)


def test_unpickler_mutated_by_hooks_during_load(tmp_path):
    out = run_child("""
        results = []
        class U(pickler.Unpickler):
            action = None
            def find_class(self, module, name):
                act = self.action
                if act == "memo_dict":
                    self.memo = {0: "x"}
                elif act == "memo_clear":
                    self.memo.clear()
                elif act == "copy":
                    self.memo.copy()
                elif act == "init":
                    try:
                        self.__init__(io.BytesIO(b"N."))
                    except RuntimeError as e:
                        results.append(str(e))
                gc.collect()
                return super().find_class(module, name)
        class Leaf:
            def __reduce__(self):
                return (Leaf, ())
        data = [(Leaf(), [i], {"k": [i]}) for i in range(30)]
        for act in ("memo_dict", "memo_clear", "copy", "init"):
            for proto in (0, 2, 4, 5):
                blob = pickle.dumps(data, proto)
                u = U(io.BytesIO(blob))
                u.action = act
                try:
                    back = u.load()
                except Exception as e:      # a cleared memo may break GETs
                    back = type(e).__name__
                results.append("done")
        print(results.count("done"), len(results))
    """, tmp_path)
    assert out[0] == "16"


def test_loads_spare_unpickler_taken_by_another_thread(tmp_path):
    # A __del__ run while loads() releases its memo finds the Unpickler
    # loads() reuses (gc.get_objects()) and starts a load with it in another
    # thread, which is paused in its file's read() when loads() goes on
    # resetting the object: loads() leaves it to that load.
    out = run_child("""
        started, resume = threading.Event(), threading.Event()
        results = []
        class PausingFile(io.BytesIO):
            def read(self, n=-1):
                started.set()
                resume.wait(10)
                return io.BytesIO.read(self, n)
        def other(u):
            u.__init__(PausingFile(pickle.dumps([1, "two", (3,)] * 50, 2)))
            results.append(u.load())
        class Trigger:
            def __reduce__(self):
                return (Trigger, ())
            def __del__(self):
                if results or started.is_set():
                    return
                spare = [o for o in gc.get_objects()
                         if type(o) is pickler.Unpickler and o is not keep]
                if spare:
                    t = threading.Thread(target=other, args=(spare[0],))
                    t.start()
                    started.wait(10)
                    threads.append(t)
        keep, threads = None, []
        # a Trigger only the memo holds (BINPUT, then POP), then the value 5:
        # it dies when loads() clears its memo
        blob = b"\\x80\\x02" + pickle.dumps(Trigger(), 2)[2:-1] + b"0K\\x05."
        back = pickler.loads(blob)
        assert back == 5 and started.is_set()
        # loads() again while that load is paused: it must not get the same object
        assert pickler.loads(pickle.dumps([7, (8,)], 2)) == [7, (8,)]
        resume.set()
        for t in threads:
            t.join()
        print(len(threads), results == [[1, "two", (3,)] * 50])
        print(pickler.loads(pickle.dumps({"k": [1, 2]}, 2)) == {"k": [1, 2]})
    """, tmp_path)
    assert out == ["1", "True", "True"]
