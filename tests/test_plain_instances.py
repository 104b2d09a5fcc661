"""Instances of plain classes: pickler writes object's default reduction
directly (no reduce tuple); every way a class or an instance can change that
reduction must be noticed.  Differential against _pickle, every protocol."""
import _pickle
import abc
import dataclasses
import io
import pickle

import pytest

import pickler

PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)


def both(obj, proto):
    """Pickle with _pickle first (observing an object can change its pickle),
    then with pickler, to bytes and through a file; return both outcomes."""
    def run(mod):
        try:
            data = mod.dumps(obj, proto)
        except Exception as exc:  # the type is compared
            return type(exc)
        f = io.BytesIO()
        mod.Pickler(f, proto).dump(obj)
        assert f.getvalue() == data
        return data
    return run(_pickle), run(pickler)


def check(obj):
    for proto in PROTOCOLS:
        expected, got = both(obj, proto)
        assert got == expected, (proto, expected, got)


class Plain:
    pass


class WithInit:
    def __init__(self, a=1, b="x"):
        self.a = a
        self.b = b


class Child(WithInit):
    def __init__(self):
        super().__init__(2, "y")
        self.c = [1, 2]


class Meta(abc.ABC):
    @abc.abstractmethod
    def f(self): ...


class Concrete(Meta):
    def f(self):
        return 1


class WithSlotsBase:
    __slots__ = ("s",)


class SlotsChild(WithSlotsBase):
    def __init__(self):
        self.s = 1
        self.d = 2


class WithGetstate(WithInit):
    def __getstate__(self):
        return {"only": self.a}


class WithReduce(WithInit):
    def __reduce__(self):
        return (WithInit, (self.a, self.b))


class WithReduceEx(WithInit):
    def __reduce_ex__(self, proto):
        return (WithInit, (proto, self.b))


class WithNewargs(WithInit):
    def __getnewargs__(self):
        return (self.a,)

    def __new__(cls, *args):
        return super().__new__(cls)


class WithNewargsEx(WithInit):
    def __getnewargs_ex__(self):
        return (self.a,), {}

    def __new__(cls, *args, **kwargs):
        return super().__new__(cls)


class ClassProperty(WithInit):
    @property
    def __class__(self):
        return WithInit


class ListChild(list):
    pass


class DictChild(dict):
    pass


class ExcChild(Exception):
    pass


class IntChild(int):
    pass


@dataclasses.dataclass
class DC:
    x: int
    y: str = "y"


@dataclasses.dataclass(frozen=True)
class FrozenDC:
    x: int


@pytest.mark.parametrize("factory", [
    Plain, WithInit, Child, Concrete, SlotsChild, WithGetstate, WithReduce,
    WithReduceEx, lambda: WithNewargs(3), lambda: WithNewargsEx(4),
    ClassProperty, lambda: ListChild([1, 2]), lambda: DictChild(a=1),
    lambda: ExcChild("e"), lambda: IntChild(5), lambda: DC(1),
    lambda: FrozenDC(2),
], ids=lambda f: getattr(f, "__name__", "lambda"))
def test_instance_kinds(factory):
    check(factory())
    check([factory(), factory()])


def test_empty_and_shared_dict():
    a = Plain()
    check(a)
    b = WithInit()
    check([b, b.__dict__, b])          # the state dict memoized and reused
    c = WithInit()
    check([c.__dict__, c])             # the dict pickled before its owner


def test_self_reference():
    a = WithInit()
    a.me = a
    a.lst = [a]
    check(a)
    b = WithInit()
    b.d = {"b": b, "t": (b,)}
    check([b, (b, b)])


def test_instance_attribute_named_like_a_hook():
    for name in ("__reduce_ex__", "__reduce__", "__getstate__"):
        a = WithInit()
        setattr(a, name, lambda *args: (WithInit, ()))
        for proto in PROTOCOLS:
            expected, got = both(a, proto)
            assert got == expected


def test_class_changed_after_pickling():
    class Late:
        def __init__(self):
            self.v = 1
    Late.__qualname__ = "Late"
    globals()["Late"] = Late
    try:
        check(Late())
        Late.__reduce__ = lambda self: (WithInit, (9,))
        check(Late())
        del Late.__reduce__
        check(Late())
        # A change to a base class counts too.
        WithInit.__getstate__ = lambda self: {"changed": True}
        try:
            check(Child())
        finally:
            del WithInit.__getstate__
        check(Child())
    finally:
        del globals()["Late"]


def test_dispatch_table_and_reducer_override_still_first():
    class P(pickler.Pickler):
        def reducer_override(self, obj):
            if isinstance(obj, WithInit):
                return (Plain, ())
            return NotImplemented

    class CP(_pickle.Pickler):
        def reducer_override(self, obj):
            if isinstance(obj, WithInit):
                return (Plain, ())
            return NotImplemented

    for proto in PROTOCOLS:
        f, g = io.BytesIO(), io.BytesIO()
        P(f, proto).dump([WithInit(), Plain()])
        CP(g, proto).dump([WithInit(), Plain()])
        assert f.getvalue() == g.getvalue()
        f, g = io.BytesIO(), io.BytesIO()
        p, q = pickler.Pickler(f, proto), _pickle.Pickler(g, proto)
        p.dispatch_table = q.dispatch_table = {Plain: lambda o: (WithInit, ())}
        p.dump([Plain(), WithInit()])
        q.dump([Plain(), WithInit()])
        assert f.getvalue() == g.getvalue()


def test_roundtrip():
    obj = [Child(), DC(3), Plain()]
    for proto in PROTOCOLS:
        back = pickle.loads(pickler.dumps(obj, proto))
        assert back[0].__dict__ == obj[0].__dict__
        assert back[1] == obj[1]
        assert type(back[2]) is Plain


class LoopingGetattr(WithInit):
    def __getattr__(self, key):
        return self.missing


class LoggingGetattribute(WithInit):
    seen = []

    def __getattribute__(self, name):
        LoggingGetattribute.seen.append(name)
        return super().__getattribute__(name)


def test_custom_attribute_lookup():
    # A __getattr__ that recurses forever: whatever _pickle raises (3.10
    # looks __getstate__ up on the instance), pickler raises too.
    for proto in PROTOCOLS:
        expected, got = both(LoopingGetattr(), proto)
        assert got == expected
    check(LoggingGetattribute())
    for proto in PROTOCOLS:
        LoggingGetattribute.seen.clear()
        _pickle.dumps(LoggingGetattribute(), proto)
        c_seen = list(LoggingGetattribute.seen)
        LoggingGetattribute.seen.clear()
        pickler.dumps(LoggingGetattribute(), proto)
        assert LoggingGetattribute.seen == c_seen


@pytest.mark.parametrize("hook", ["persistent_id", "reducer_override"])
@pytest.mark.parametrize("change", ["set slot", "delete slot", "clear dict",
                                    "add to empty dict", "set attribute"])
def test_state_is_taken_before_the_class_is_pickled(hook, change):
    # object.__reduce_ex__ takes the state (the __dict__ itself, the slot
    # values as they are) before anything is pickled; a hook called for the
    # class that changes the instance must change the pickle as it does
    # with _pickle.
    def make():
        if change in ("set slot", "delete slot"):
            obj = SlotsAndDict()
            obj.x = 1
            obj.y = 2
        elif change == "add to empty dict":
            obj = Plain()
        else:
            obj = WithInit()
        return obj

    def touch(obj):
        if change == "set slot":
            obj.x = "changed"
        elif change == "delete slot":
            del obj.x
        elif change == "clear dict":
            obj.__dict__.clear()
        else:
            obj.z = "added"

    outputs = []
    for impl in (_pickle, pickler):
        for proto in PROTOCOLS:
            obj = make()

            def hook_fn(self, o, obj=obj):
                if o is type(obj):
                    touch(obj)
                return None if hook == "persistent_id" else NotImplemented
            P = type("P", (impl.Pickler,), {hook: hook_fn})
            f = io.BytesIO()
            try:
                P(f, proto).dump(obj)
            except TypeError as exc:     # slots below protocol 2: the type is compared
                outputs.append(type(exc))
            else:
                outputs.append(f.getvalue())
    half = len(outputs) // 2
    assert outputs[half:] == outputs[:half]


class OnlySlots:
    __slots__ = ("a", "b", "__c")

    def __init__(self, a=1):
        self.a = a
        self.__c = "private"


class SlotsAndDict:
    __slots__ = ("x", "__dict__", "__weakref__")


class DeepSlots(OnlySlots):
    __slots__ = ("d",)


class SlotsThenPlain(OnlySlots):
    pass


def test_slots():
    a = OnlySlots()
    check(a)
    check(OnlySlots(None))
    empty = OnlySlots.__new__(OnlySlots)        # no slot set at all
    check(empty)
    b = SlotsAndDict()
    check(b)
    b.x = [1]
    check(b)
    b.extra = "in dict"
    check(b)
    c = DeepSlots(3)
    c.d = {"k": c}
    check(c)
    d = SlotsThenPlain(4)
    d.more = 5
    check([d, d])


def test_slotnames_cache_is_honoured():
    class Cached:
        __slots__ = ("p", "q")
    Cached.__qualname__ = "Cached"
    globals()["Cached"] = Cached
    try:
        o = Cached()
        o.p, o.q = 1, 2
        check(o)
        # copyreg caches the names on the class; a changed cache is used.
        Cached.__slotnames__ = ["q"]
        check(o)
    finally:
        del globals()["Cached"]


class Chain:
    def __init__(self, child):
        self.child = child

    def __reduce__(self):
        return (Chain, (self.child,))


def test_deep_data_in_a_thread_with_a_small_stack():
    # Whatever the interpreter's recursion limit, running out of C stack
    # raises RecursionError instead of crashing.
    import threading

    x = None
    for _ in range(20000):
        x = Chain(x)
    outcome = []

    def run():
        try:
            pickler.dumps(x, 4)
            outcome.append("ok")
        except RecursionError:
            outcome.append("RecursionError")

    old = threading.stack_size(1024 * 1024)
    try:
        t = threading.Thread(target=run)
        t.start()
        t.join()
    finally:
        threading.stack_size(old)
    assert outcome == ["RecursionError"]
    assert pickler.dumps([1, 2]) == _pickle.dumps([1, 2])


def test_pickling_an_instance_caches_slotnames_in_its_class_as_pickle_does():
    # object.__reduce_ex__(2+) stores copyreg._slotnames() in the class
    # (__slotnames__, [] without __slots__); cloudpickle pickles a dynamic
    # class's __dict__ by value, so its pickle of an instance holds them.
    def classes():
        class NoSlots:
            def __init__(self):
                self.a = 1

        class WithSlots:
            __slots__ = ("x", "__weakref__")

        class SubWithSlots(NoSlots):
            __slots__ = ("y",)
        return NoSlots, WithSlots, SubWithSlots

    for proto in PROTOCOLS:
        seen = {}
        for mod in (_pickle, pickler):
            found = []
            for cls in classes():
                assert "__slotnames__" not in cls.__dict__
                error = None
                try:
                    mod.dumps(cls(), proto)
                except Exception as exc:   # local classes: after the reduction
                    error = type(exc).__name__
                found.append((cls.__dict__.get("__slotnames__", "absent"), error))
            seen[mod] = found
        assert seen[pickler] == seen[_pickle], proto
        if proto >= 2:
            assert "absent" not in [names for names, _ in seen[pickler]]


# Reduce callables that are classes: save_reduce reads their __name__ as
# type.__name__ gives it (heap types: their name; static types: tp_name
# after the last dot) to decide on NEWOBJ / NEWOBJ_EX, as _pickle does.
class _Base:
    pass


_NewobjNamed = type("__newobj__", (), {"__module__": __name__})
_NewobjExNamed = type("__newobj_ex__", (), {"__module__": __name__})
globals()["__newobj__"] = _NewobjNamed
globals()["__newobj_ex__"] = _NewobjExNamed


class _ReducesTo:
    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


@pytest.mark.parametrize("func,args", [
    (_NewobjNamed, (_Base,)),                 # heap type named __newobj__
    (_NewobjNamed, (_Base, 1)),
    (_NewobjNamed, ()),                       # NEWOBJ arglist is empty
    (_NewobjNamed, (3,)),                     # args[0] is not a type
    (_NewobjExNamed, (_Base, (), {})),
    (_NewobjExNamed, (_Base, ())),            # wrong length
    (_Base, ()),                              # an ordinary class
    (__import__("datetime").date, (b"\x07\xe8\x01\x02",)),   # static type
    (__import__("collections").OrderedDict, ()),
])
def test_class_reduce_callables_match_c(func, args):
    obj = _ReducesTo(func, args)
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        try:
            ref, ref_exc = _pickle.dumps(obj, proto), None
        except Exception as e:
            ref, ref_exc = None, e
        try:
            ours, our_exc = pickler.dumps(obj, proto), None
        except Exception as e:
            ours, our_exc = None, e
        assert ours == ref, proto
        assert type(our_exc) is type(ref_exc), (proto, our_exc, ref_exc)
        assert str(our_exc) == str(ref_exc)


# -- classes that define only __reduce__ ----------------------------------------
# Without an instance __dict__, object's attribute lookup and metaclass
# `type`, pickler calls the class's __reduce__ function itself instead of
# going through object.__reduce_ex__; everything else must still go there.

class SlotReduce:
    __slots__ = ("a", "b")

    def __init__(self, a, b):
        self.a = a
        self.b = b

    def __reduce__(self):
        return (SlotReduce, (self.a, self.b))


class SlotReduceChild(SlotReduce):
    __slots__ = ("c",)

    def __init__(self, a, b, c=None):
        super().__init__(a, b)
        self.c = c


class SlotReduceWithDict(SlotReduce):
    """Adds an instance __dict__, which could shadow __reduce__."""


class StaticReduce:
    __slots__ = ()

    @staticmethod
    def __reduce__():
        return (StaticReduce, ())


class ClassReduce:
    __slots__ = ()

    @classmethod
    def __reduce__(cls):
        return (cls, ())


class ReduceMeta(type):
    def __getattribute__(cls, name):
        if name == "__reduce__":
            return object.__reduce__
        return super().__getattribute__(name)


class MetaReduce(metaclass=ReduceMeta):
    """type(obj).__reduce__ is object's through the metaclass: the class
    function is not called and object's default reduction is used."""
    __slots__ = ("x",)

    def __init__(self):
        self.x = 1

    def __reduce__(self):
        raise AssertionError("not reached through object.__reduce_ex__")


class SlotReduceEx(SlotReduce):
    __slots__ = ()

    def __reduce_ex__(self, proto):
        return (SlotReduce, ("ex", proto))


class RaisingReduce:
    __slots__ = ()

    def __reduce__(self):
        raise ValueError("no")


class BadReduce:
    __slots__ = ()

    def __reduce__(self):
        return 42


class AttrErrorReduce:
    __slots__ = ()

    def __reduce__(self):
        raise AttributeError("inside __reduce__")


class GetattrReduce:
    __slots__ = ()

    def __getattr__(self, name):
        raise AttributeError(name)

    def __reduce__(self):
        return (GetattrReduce, ())


@pytest.mark.parametrize("factory", [
    lambda: SlotReduce(1, "x"),
    lambda: [SlotReduce(i, [i]) for i in range(5)],
    lambda: SlotReduceChild(1, 2, 3),
    lambda: SlotReduceWithDict(1, 2),
    lambda: StaticReduce(),
    lambda: ClassReduce(),
    lambda: MetaReduce(),
    lambda: SlotReduceEx(1, 2),
    lambda: RaisingReduce(),
    lambda: BadReduce(),
    lambda: AttrErrorReduce(),
    lambda: GetattrReduce(),
], ids=["slots", "list", "child", "with_dict", "staticmethod", "classmethod",
        "metaclass", "reduce_ex", "raises", "bad_value", "attribute_error",
        "getattr"])
def test_classes_with_only_reduce(factory):
    check(factory())


def test_instance_dict_shadowing_reduce():
    obj = SlotReduceWithDict(1, 2)
    obj.__reduce__ = lambda: (SlotReduce, ("from the instance", 0))
    check(obj)
    _expected, got = both(obj, 4)
    assert b"from the instance" in got


def test_reduce_replaced_on_the_class_after_pickling():
    obj = SlotReduce(1, 2)
    check(obj)
    original = SlotReduce.__dict__["__reduce__"]
    try:
        SlotReduce.__reduce__ = lambda self: (SlotReduce, ("replaced", 0))
        check(obj)
        assert b"replaced" in both(obj, 4)[1]
        del SlotReduce.__reduce__          # object's __reduce__ again
        check(obj)
    finally:
        SlotReduce.__reduce__ = original
    check(obj)
