"""Process pools and queues that move large buffers through shared memory.

``pickler.multiprocessing.get_context(method)`` returns a multiprocessing
context (``"fork"``, ``"spawn"`` or ``"forkserver"``) whose ``Process``,
``Pool``, ``Queue``, ``SimpleQueue`` and ``Pipe`` -- and
``concurrent.futures.ProcessPoolExecutor(mp_context=ctx)`` -- pickle with
``pickler`` at protocol 5.  Every out-of-band buffer of ``threshold`` bytes or
more (numpy arrays, pandas blocks, anything that gives a ``PickleBuffer``) is
written once into a file in ``/dev/shm`` that is sent by name; smaller ones
travel in-band in the pickle.  The receiver maps the file privately
(``MAP_PRIVATE``) and unlinks its name: the arrays it gets are writable views
of that memory, copy-on-write, independent of the sender's and of any other
receiver's, and the memory goes back to the system when the last of them is
gone.  ``empty()`` and ``zeros()`` allocate arrays in shared memory, which are
then sent by reference, without any copy.

This is an orchestration module (plain Python): the per-object work is done by
the compiled ``pickler.Pickler`` and ``pickler.loads``, the per-byte work by
the kernel (one ``pwrite`` into tmpfs per buffer, ``mmap`` on the receiving
side); what remains is a few system calls per message.  See docs/processes.md.

Why not ``ctx.reducer``: in CPython, ``BaseContext.reducer`` is a property that
reads and writes the global ``multiprocessing.context.reduction`` (shared by
every context), and ``multiprocessing.connection`` and ``multiprocessing.queues``
bind ``reduction.ForkingPickler`` at import, so replacing the reducer neither
stays per-context nor reaches the queues.  This module instead gives its
contexts their own ``Connection``, ``SimpleQueue``, ``Queue``, ``Pool`` and
``Process`` classes, and for ``ProcessPoolExecutor`` (whose call queue is the
private ``concurrent.futures.process._SafeQueue``, not made by the context)
installs a subclass of ``_SafeQueue`` that behaves exactly like the original
unless its context is one of these.  Receivers need nothing special: what
travels is an ordinary pickle that calls ``pickler.multiprocessing._unpack``.
"""
import copyreg
import errno
import fcntl
import functools
import io
import itertools
import mmap
import multiprocessing as _mp
import os
import re
import secrets
import signal
import socket
import sys
import threading
import time
import weakref
from concurrent.futures import process as _cfprocess
from multiprocessing import (
    connection as _mpconn,
    context as _mpctx,
    pool as _mppool,
    queues as _mpqueues,
    reduction as _mpred,
    resource_tracker as _tracker,
    util as _mputil,
)

from ._pickler import Pickler as _Pickler
from ._unpickler import loads as _loads

__all__ = [
    "DEFAULT_DIRECTORY",
    "DEFAULT_PREFIX",
    "DEFAULT_THRESHOLD",
    "Reducer",
    "empty",
    "get_context",
    "release_segments",
    "zeros",
]

# Buffers of at least this many bytes go through shared memory (measured:
# benchmarks/bench_processes.py --threshold; docs/processes.md).
DEFAULT_THRESHOLD = 256 * 1024
DEFAULT_DIRECTORY = "/dev/shm"
DEFAULT_PREFIX = "pklr-"

_ALIGN = 64                      # offset of each buffer in a segment
_PAGE = mmap.PAGESIZE
_PREFIX_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz"
                          "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
_counter = itertools.count()
# Reentrant: weakref finalizers that take it (a channel or an empty() array
# going away) can run inside any allocation, also while this thread holds it.
_lock = threading.RLock()


def _after_fork_in_child():
    # A fork made while another thread held one of these locks (a pool's
    # result thread releasing a segment while the worker thread forks a new
    # worker) would leave it locked forever in the child.  The resource
    # tracker's lock has no at-fork handler of its own (3.10-3.13).
    global _lock
    _lock = threading.RLock()
    tracker = getattr(_tracker, "_resource_tracker", None)
    if tracker is not None and hasattr(tracker, "_lock"):
        tracker._lock = threading.RLock()
    # The parent's kept files are the parent's: the child neither reuses nor
    # removes them, and closes its copies of their descriptors so that the
    # parent's drop frees the memory.
    for entry in _kept:
        try:
            os.close(entry.fd)
        except OSError:
            pass
    _kept.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


# --------------------------------------------------------------------------
# Channels: where a message's segments go, and the name that lets the owner
# of a pool or queue find the ones nobody received.


class _Channel:
    """Options of one pool, queue, pipe or process, and its segment names.

    Pickled, it carries its options and token; everything else (the weak
    reference its kept files' finalizer needs) is per process.
    """

    __slots__ = ("__weakref__", "directory", "finalized", "keep", "prefix", "threshold",
                 "token", "tracked")

    def __init__(self, threshold, directory, prefix, token=None, keep=0):
        self.threshold = threshold
        self.directory = directory
        self.prefix = prefix
        self.token = token if token is not None else secrets.token_hex(6)
        # Bytes of segment files a sending process may keep for reuse (0:
        # every message gets a new file).
        self.keep = keep
        # The pid that registered the finalizer dropping its kept files when
        # this object is gone (per process: a forked child registers its own).
        self.finalized = None
        # The resource tracker unlinks leftovers with shm_unlink(), which only
        # knows /dev/shm: segments elsewhere are cleaned up by us alone.
        self.tracked = os.path.realpath(directory) == os.path.realpath(DEFAULT_DIRECTORY)

    def __reduce__(self):
        return (_Channel, (self.threshold, self.directory, self.prefix, self.token,
                           self.keep))

    def pattern(self):
        return f"{self.prefix}{self.token}-"

    def new_path(self):
        name = f"{self.prefix}{self.token}-{os.getpid()}-{next(_counter)}"
        return os.path.join(self.directory, name)

    def kept_path(self):
        # Never a message name (_SEGMENT_NAME does not match "k"): a receiver
        # cannot be made to map or unlink a kept file directly.
        name = f"{self.prefix}{self.token}-{os.getpid()}-k{next(_counter)}"
        return os.path.join(self.directory, name)

    def sweep(self):
        """Release every segment of this channel still in the directory
        (messages not received, files kept by any process)."""
        _drop_token(self.token)
        pattern = self.pattern()
        try:
            names = os.listdir(self.directory)
        except OSError:
            return 0
        count = 0
        for name in names:
            if name.startswith(pattern):
                count += _release(os.path.join(self.directory, name), self.tracked)
        return count


_DEFERRED_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_arrived = []          # signals that came while the main thread deferred them
_deferring = False     # the main thread is inside a _Deferred block


def _record(signum, frame):
    _arrived.append(signum)


class _DroppedSignals:
    """An unraisable-error hook, for the instant a deferred signal's handler
    goes back to SIG_DFL: CPython's report of a signal dropped in that
    instant puts the signal on _arrived; anything else goes to the previous
    hook."""

    __slots__ = ("previous",)

    def __init__(self, previous):
        self.previous = previous

    def __call__(self, unraisable):
        error = unraisable.exc_value
        if isinstance(error, OSError) and not error.errno:
            found = _DROPPED_SIGNAL.fullmatch(str(error))
            if found and int(found.group(1)) in _DEFERRED_SIGNALS:
                _arrived.append(int(found.group(1)))
                return
        self.previous(unraisable)


_DROPPED_SIGNAL = re.compile(r"Signal (\d+) ignored due to race condition")


class _Deferred:
    """Defer SIGTERM and SIGINT while a name and its tracker registration
    change together: Pool.terminate() SIGTERMs workers, KeyboardInterrupt
    can come between any two statements of the main thread, and a process
    stopped between the two would leave the tracker a name without a file
    (a leak report) or a file it does not know.

    Blocking the signals in this thread is not enough: the kernel hands a
    signal sent to the process to any thread that does not block it (numpy's
    BLAS threads, in a forkserver worker), and SIG_DFL then ends the whole
    process.  So in the main thread the two signals' handlers are replaced
    by one that records them; on leaving, the previous handlers come back
    (``signal.signal`` first runs what is pending) and whatever arrived is
    redelivered: SIG_DFL by os.kill (the process ends as it would have), a
    Python handler (KeyboardInterrupt) by a call.  Other threads, where
    Python cannot install handlers, only block them in themselves.
    """

    __slots__ = ("mask", "saved")

    def __enter__(self):
        global _deferring
        self.saved = self.mask = None
        if _deferring or threading.current_thread() is not threading.main_thread():
            self.mask = signal.pthread_sigmask(signal.SIG_BLOCK, _DEFERRED_SIGNALS)
            return
        saved = []
        try:
            for signum in _DEFERRED_SIGNALS:
                handler = signal.getsignal(signum)
                if handler is signal.SIG_DFL or callable(handler):
                    signal.signal(signum, _record)
                    saved.append((signum, handler))
        except ValueError:          # not the main interpreter: no handlers
            self._restore(saved)
            self.mask = signal.pthread_sigmask(signal.SIG_BLOCK, _DEFERRED_SIGNALS)
            return
        except BaseException:       # a pending signal's handler raised
            self._restore(saved)
            raise
        self.saved = saved
        _deferring = True

    @staticmethod
    def _restore(saved):
        raised = None
        for signum, handler in saved:
            while True:
                try:
                    signal.signal(signum, handler)
                    break
                except BaseException as e:  # noqa: BLE001 -- re-raised below
                    # Another signal's handler raised before the change:
                    # the handler is not back yet, try again.
                    raised = raised or e
        return raised

    def __exit__(self, *exc):
        global _deferring
        saved = self.saved
        if saved is None:
            if self.mask is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, self.mask)
            return
        _deferring = False
        # signal.signal() runs the handlers of what is pending, then swaps
        # the handler: a signal that comes between the two is dropped if
        # the new handler is SIG_DFL (CPython reports "Signal N ignored due
        # to race condition" as an unraisable error).  Catch that report
        # and count the signal as arrived; a second signal.signal() makes
        # CPython look at what came in that window at once.
        previous_hook = sys.unraisablehook
        sys.unraisablehook = _DroppedSignals(previous_hook)
        try:
            raised = self._restore(saved)
            raised = raised or self._restore(
                [(signum, handler) for signum, handler in saved
                 if handler is signal.SIG_DFL])
        finally:
            sys.unraisablehook = previous_hook
        if _arrived:
            arrived = sorted(set(_arrived))
            _arrived.clear()
            handlers = dict(saved)
            for signum in arrived:
                handler = handlers.get(signum)
                if handler is signal.SIG_DFL:
                    os.kill(os.getpid(), signum)
                elif handler is not None:
                    handler(signum, None)
        if raised is not None:
            raise raised


def _release(path, tracked):
    """Unlink a segment name; whoever succeeds also tells the tracker.

    unlink() succeeds for exactly one caller, so the name is unregistered
    exactly once (no double release), whoever gets there first: the receiver
    after mapping it, or the owner sweeping what was never received.
    """
    with _Deferred():
        try:
            os.unlink(path)
        except FileNotFoundError:
            return 0
        _untrack(path, tracked)
    return 1


def _track(path, tracked):
    if tracked:
        _tracker.register("/" + os.path.basename(path), "shared_memory")


def _untrack(path, tracked):
    if tracked:
        _tracker.unregister("/" + os.path.basename(path), "shared_memory")


def _new_name(make, path, tracked):
    """Make a segment file's new name `path` with make() (create, link or
    rename), registered with the tracker in the same deferred step: no
    signal lands between the name and its registration, and a make() that
    fails leaves neither.  Returns what make() returns."""
    with _Deferred():
        _track(path, tracked)
        try:
            return make()
        except BaseException:
            _untrack(path, tracked)
            raise


# Channels created in this process whose leftovers it sweeps when it exits
# (after multiprocessing has joined its children: see _exit_sweep).
_owned = {}
_finalizer_pid = None


def _own(channel):
    global _finalizer_pid
    with _lock:
        if _finalizer_pid != os.getpid():
            _owned.clear()
            _finalizer_pid = os.getpid()
            # exitpriority < 0: runs in multiprocessing's atexit handler after
            # the pools' finalizers and after the children are joined.
            _mputil.Finalize(None, _exit_sweep, exitpriority=-50)
        # What the exit sweep needs, not the channel: a pipe or queue dropped
        # unclosed lets its channel go, and with it the files kept for it.
        _owned[channel.token] = (channel.directory, channel.tracked, channel.pattern())
    return channel


def _disown(channel):
    with _lock:
        _owned.pop(channel.token, None)


def _exit_sweep():
    if _finalizer_pid != os.getpid():
        return
    with _lock:
        channels = list(_owned.values())
        _owned.clear()
    by_directory = {}
    for directory, tracked, pattern in channels:
        by_directory.setdefault((directory, tracked), []).append(pattern)
    for (directory, tracked), patterns in by_directory.items():
        patterns = tuple(patterns)
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            if name.startswith(patterns):
                _release(os.path.join(directory, name), tracked)


def release_segments(prefix=DEFAULT_PREFIX, directory=DEFAULT_DIRECTORY):
    """Unlink every segment named with ``prefix`` in ``directory``.

    For cleaning up after a process tree that was killed as a whole (SIGKILL
    of the parent skips every cleanup; the resource tracker then removes the
    segments in /dev/shm when the tree is gone).  Never call it while a
    process may still receive messages of that prefix.  Returns the count.
    """
    tracked = os.path.realpath(directory) == os.path.realpath(DEFAULT_DIRECTORY)
    count = 0
    for name in os.listdir(directory):
        if name.startswith(prefix):
            count += _release(os.path.join(directory, name), tracked)
    return count


# --------------------------------------------------------------------------
# Kept segment files: a sender rewrites the pages of a file it used before
# instead of filling new ones.
#
# Writing into new tmpfs pages costs about four times the copy itself (page
# faults and zeroing; `bench_processes.py --alloc`), so each sending process
# keeps the files of its recent messages, per channel, up to `keep` bytes in
# all, and writes the next message of that channel into one whose previous
# message is completely gone.  A message is then a second name (a hard link)
# for the kept file, which the receiver maps and unlinks as before.
#
# When is a kept file free?  A receiver's mapping is MAP_PRIVATE, which shows
# the file's current contents in every page the receiver has not written: the
# file may only be rewritten once no process maps it any more.  The receiver
# takes a shared flock() on the file before mapping it; the lock belongs to
# the open file description, which the mmap object holds (mmap duplicates the
# descriptor) until the mapping is unmapped, and which children forked
# meanwhile share with their copy of the mapping.  So the lock is held exactly
# while some process maps the file, and the kernel drops it when such a
# process dies.  The sender's test, for a file of its own:
#
#   * link count 2 or more: a message name still exists (in flight, not yet
#     received, or received and its name not yet unlinked): not free;
#   * link count 1, and that one name is the kept name: every message name is
#     gone, and the receiver unlinks its message name only after taking its
#     lock; then flock(LOCK_EX | LOCK_NB) succeeds only if nobody holds a lock:
#     free.  (A message name removed by its owner's sweep instead: the
#     receiver that opened it meanwhile finds its unlink refused and raises
#     rather than use a file that may be rewritten.)
#   * link count 0, or the kept name gone: swept by the channel's owner: the
#     sender forgets the file.
#
# Dropping a kept file (eviction, close, exit) unlinks its kept name and closes
# the descriptor: receivers still mapping it keep their pages, the kernel
# frees them after the last unmap.  A kept file's name carries its channel's
# token, so the owner's sweep and the resource tracker cover it like a message.

_FREE, _BUSY, _IN_FLIGHT, _GONE = range(4)
_MAX_KEPT = 16                   # kept files per process, all channels
_kept = []                       # _Kept entries of this process, oldest use first
_kept_exit_pid = None


class _Kept:
    """A segment file this process keeps for its channel's next messages."""

    __slots__ = ("fd", "mm", "path", "size", "taken", "token", "tracked", "view",
                 "written")

    def __init__(self, token, path, fd, tracked):
        self.token = token        # channel token (whose sweep removes the file)
        self.path = path          # the kept name
        self.fd = fd              # read-write descriptor, the sender's
        self.size = 0             # the file's length once the current send is written
        self.written = 0          # bytes from 0 whose pages the file has (written once)
        self.mm = None            # MAP_SHARED mapping of those bytes (reuse writes here)
        self.view = None          # writable memoryview of mm
        self.tracked = tracked    # registered with the resource tracker
        self.taken = False        # a send in some thread is using it

    def unmap(self):
        if self.view is not None:
            self.view.release()
            self.mm.close()
            self.view = self.mm = None


def _kept_state(entry):
    try:
        st = os.fstat(entry.fd)
    except OSError:
        return _GONE
    if st.st_nlink == 0:
        return _GONE
    if st.st_nlink > 1:
        return _IN_FLIGHT
    try:
        if os.stat(entry.path).st_ino != st.st_ino:
            return _GONE
    except OSError:
        return _GONE
    try:
        fcntl.flock(entry.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return _BUSY
    fcntl.flock(entry.fd, fcntl.LOCK_UN)
    return _FREE


def _drop(entry):
    """Forget a kept file (the caller holds _lock or owns the entry)."""
    try:
        _kept.remove(entry)
    except ValueError:
        pass
    fd, entry.fd = entry.fd, -1
    if fd < 0:
        return                    # dropped already (a reentrant finalizer)
    entry.unmap()
    try:
        os.close(fd)
    except OSError:
        pass
    _release(entry.path, entry.tracked)


def _drop_token(token, pid=None):
    """Drop this process's kept files of a channel (closed, swept, gone)."""
    if pid is not None and pid != os.getpid():
        return
    with _lock:
        for entry in [e for e in _kept if e.token == token and not e.taken]:
            _drop(entry)


def _drop_idle():
    """Drop every free kept file of this process; True if any was."""
    with _lock:
        idle = [e for e in _kept if not e.taken and _kept_state(e) in (_FREE, _GONE)]
        for entry in idle:
            _drop(entry)
    return bool(idle)


def _drop_all_kept():
    with _lock:
        for entry in [e for e in _kept if not e.taken]:
            _drop(entry)


def release_kept():
    """Give back the segment files this process keeps for reuse.

    Each sending process keeps the files of its recent messages (and of its
    ``empty()`` arrays that are gone) to write the next ones into: up to a
    context's ``keep`` bytes.  They go when their pipe or queue is closed,
    when a pool or executor shuts down, and when the process exits; this
    releases them now.  Files still mapped by a receiver stay in memory
    until it lets go.
    """
    _drop_all_kept()


def _register_kept(entry, keep):
    """Add a new kept file and trim to `keep` bytes (the caller holds _lock)."""
    global _kept_exit_pid
    if _kept_exit_pid != os.getpid():
        _kept_exit_pid = os.getpid()
        _mputil.Finalize(None, _drop_all_kept, exitpriority=-40)
    _kept.append(entry)
    _trim(keep, entry)


def _trim(keep, current):
    total = sum(e.size for e in _kept)
    for entry in _kept.copy():     # _drop() removes from it
        if total <= keep and len(_kept) <= _MAX_KEPT:
            break
        if entry is not current and not entry.taken:
            total -= entry.size
            _drop(entry)


def _wait_free(entry, size):
    # Worth a short wait when the alternative is a new file: the receiver
    # of the previous message is usually releasing it right now (a worker
    # drops its arguments just after sending its result).  Bounded by a
    # tenth of what new pages for `size` bytes would cost.
    deadline = time.monotonic() + min(0.25, size / 4e9)
    delay = 5e-5
    while _kept_state(entry) != _FREE:
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.005)
    return True


def _acquire(channel, size):
    """A kept file for a `size`-byte message of `channel`, marked taken.

    A free one of the channel (the smallest that is large enough, else the
    largest), or a new one.  None when the message alone is more than the
    channel may keep: it then gets a file of its own, as with keep=0.
    """
    if size > channel.keep:
        return None
    best = waiting = None
    with _lock:
        for entry in _kept.copy():     # _drop() removes from it
            if entry.taken or entry.token != channel.token:
                continue
            state = _kept_state(entry)
            if state == _GONE:
                _drop(entry)
            elif state == _FREE:
                if best is None or (
                        (entry.size >= size) > (best.size >= size)
                        or (entry.size >= size and entry.size < best.size)
                        or (best.size < size and entry.size > best.size)):
                    best = entry
            elif state == _BUSY and entry.size >= size and (
                    waiting is None or entry.size < waiting.size):
                waiting = entry
        if best is None and waiting is not None and (
                sum(e.size for e in _kept) + size > channel.keep):
            waiting.taken = True
        else:
            waiting = None
        if best is not None:
            best.taken = True
    if waiting is not None:
        if _wait_free(waiting, size):
            best = waiting
        else:
            waiting.taken = False
    if best is None:
        path, fd = _create_named(channel.kept_path, channel.tracked)
        best = _Kept(channel.token, path, fd, channel.tracked)
        best.taken = True
        with _lock:
            _kept.append(best)
        if channel.finalized != os.getpid():
            channel.finalized = os.getpid()
            weakref.finalize(channel, _drop_token, channel.token,
                             os.getpid()).atexit = False
    elif best.size > 2 * size:
        # Much larger than needed: give the rest of its pages back (and the
        # mapping first: its pages past the new end would fault).
        best.unmap()
        os.ftruncate(best.fd, size)
        best.size = best.written = size
    with _lock:
        _kept.remove(best)
        best.size = max(best.size, size)      # what it holds once written
        _register_kept(best, channel.keep)
    return best


# --------------------------------------------------------------------------
# Arrays allocated in shared memory: sent by reference.

_shared = {}    # start address -> (end, path, size, directory, tracked, owner pid, prefix)
_shared_exit_pid = None
_keep_by_directory = {}


def _empty_key(realdir, prefix):
    return f"e:{realdir}:{prefix}"


def _forget_shared(start, fd):
    entry = _shared.pop(start, None)
    if entry is not None and entry[5] == os.getpid() and _keep_empty(entry, fd):
        return
    try:
        os.close(fd)
    except OSError:
        pass
    if entry is not None and entry[5] == os.getpid():
        _release(entry[1], entry[4])


def _keep_empty(entry, fd):
    """Keep the file of an empty() array that is gone, for the next empty()
    of about its size: its pages are allocated already.  Renamed to a kept
    name (receivers map it by their own names); reused once free, as the
    kept files of messages are."""
    _end, path, _size, realdir, tracked, _pid, prefix = entry
    keep = _keep_by_directory.get(realdir)
    if keep is None:
        keep = _keep_by_directory[realdir] = _default_keep(realdir)
    try:
        size = os.fstat(fd).st_size
    except OSError:
        return False
    if size > keep:
        return False
    kept = os.path.join(os.path.dirname(path),
                        f"{prefix}e-{os.getpid()}-k{next(_counter)}")
    with _Deferred():
        try:
            _new_name(functools.partial(os.rename, path, kept), kept, tracked)
        except OSError:
            return False
        _untrack(path, tracked)
    entry = _Kept(_empty_key(realdir, prefix), kept, fd, tracked)
    entry.size = size
    with _lock:
        _register_kept(entry, keep)
    return True


def _take_kept_empty(realdir, prefix, size):
    """A free kept empty() file of `size` to 2 x `size` bytes, or None."""
    key = _empty_key(realdir, prefix)
    with _lock:
        for entry in _kept.copy():
            if (entry.token == key and not entry.taken
                    and size <= entry.size <= 2 * size + _PAGE):
                state = _kept_state(entry)
                if state == _FREE:
                    _kept.remove(entry)
                    return entry
                if state == _GONE:
                    _drop(entry)
    return None


def _release_all_shared():
    # At exit (also in children, which leave with os._exit after running
    # multiprocessing's finalizers): names of arrays still alive go.
    for entry in _shared.copy().values():
        if entry[5] == os.getpid():
            _release(entry[1], entry[4])


def _buffer_address(view):
    import numpy
    return numpy.frombuffer(view, numpy.uint8).__array_interface__["data"][0]


def empty(shape, dtype=float, order="C", *, directory=DEFAULT_DIRECTORY,
          prefix=DEFAULT_PREFIX):
    """A numpy array whose memory is a file in shared memory.

    Sending it (or any contiguous view of it) through a pickler context with
    the same directory costs no copy: the message carries a new name (a hard
    link) for the same file, which the receiver maps copy-on-write.  The
    receiver's writes stay private; the sender's writes after the send are
    seen by a receiver in every page that receiver has not written itself,
    so hand the array over (or send a copy) if the receiver must see a
    snapshot.  Space is reserved up front (an ENOSPC ``OSError`` here, never
    a SIGBUS later).  When the last array viewing it is gone in this process,
    the file is kept for the next ``empty()`` of about its size (allocated
    pages are four times faster to fill than new ones; reused only once no
    process maps it), up to the default ``keep`` bytes per process, and
    removed at exit or by ``release_kept()``; its memory is freed when no
    process maps it any more.
    """
    return _empty(shape, dtype, order, directory, prefix)[0]


def _empty(shape, dtype, order, directory, prefix):
    global _shared_exit_pid
    import numpy
    dtype = numpy.dtype(dtype)
    if dtype.hasobject:
        raise TypeError("pickler.multiprocessing.empty: object arrays cannot "
                        "live in shared memory")
    if isinstance(shape, int):
        shape = (shape,)
    shape = tuple(int(n) for n in shape)
    if any(n < 0 for n in shape):
        raise ValueError("negative dimensions are not allowed")
    nbytes = dtype.itemsize
    for n in shape:
        nbytes *= n
    size = max(nbytes, 1)
    channel = _Channel(1, directory, prefix, token="e")
    realdir = os.path.realpath(directory)
    reused = _take_kept_empty(realdir, prefix, size) if _kept else None
    if reused is not None:
        path, fd = reused.path, reused.fd
    else:
        path = channel.new_path()
        fd = _create(path, channel.tracked)
    try:
        try:
            os.posix_fallocate(fd, 0, size)
        except OSError as e:
            raise OSError(e.errno, f"pickler.multiprocessing.empty: cannot reserve "
                          f"{size} bytes in {directory}: {e.strerror}",
                          directory) from None
        mm = mmap.mmap(fd, size, flags=mmap.MAP_SHARED,
                       prot=mmap.PROT_READ | mmap.PROT_WRITE)
    except BaseException:
        os.close(fd)
        _release(path, channel.tracked)
        raise
    if _shared_exit_pid != os.getpid():
        _shared_exit_pid = os.getpid()
        _mputil.Finalize(None, _release_all_shared, exitpriority=-60)
    start = _buffer_address(memoryview(mm))
    _shared[start] = (start + size, path, size, realdir, channel.tracked, os.getpid(),
                      prefix)
    weakref.finalize(mm, _forget_shared, start, fd)
    return numpy.ndarray(shape, dtype, buffer=mm, order=order), reused is not None


def zeros(shape, dtype=float, order="C", *, directory=DEFAULT_DIRECTORY,
          prefix=DEFAULT_PREFIX):
    """Like ``empty()``; the memory is zero (new space reads as zeros, a
    reused file is cleared)."""
    a, reused = _empty(shape, dtype, order, directory, prefix)
    if reused:
        a.fill(0)
    return a


def _locate_shared(view, realdir):
    if not _shared:
        return None
    start = _buffer_address(view)
    end = start + view.nbytes
    for base, (limit, path, size, directory, _t, _pid, _p) in _shared.copy().items():
        if base <= start and end <= limit and directory == realdir:
            return path, size, start - base
    return None


# --------------------------------------------------------------------------
# Sending: pickle with pickler at protocol 5; large buffers to shared memory.


def _dispatch_table():
    # What ForkingPickler uses: copyreg's table plus multiprocessing's
    # registered reducers (connections, sockets, methods, partials, ...).
    table = copyreg.dispatch_table.copy()
    table.update(_mpred.ForkingPickler._extra_reducers)
    return table


class _Packed:
    """A message: the pickle and the segments holding its large buffers.

    Pickled by any pickler, it becomes a call to ``_unpack``, so every
    receiver (including the stdlib's unchanged ``recv``/``get`` code)
    rebuilds the object.
    """

    __slots__ = ("descs", "meta")

    def __init__(self, meta, descs):
        self.meta = meta
        self.descs = descs

    def __reduce__(self):
        return (_unpack, (self.meta, self.descs))

    def wire(self):
        """The bytes to send: a standard pickle of the object."""
        if self.descs is None:
            return self.meta          # no segments: the pickle itself
        return _dumps_plain(self)

    def discard(self):
        """Release the segments of a message that was not sent."""
        if self.descs is not None:
            for path, _length, tracked in self.descs[0]:
                _release(path, tracked)
            self.descs = None


def _dumps_plain(obj):
    f = io.BytesIO()
    p = _Pickler(f, 5)
    p.dispatch_table = _dispatch_table()
    p.dump(obj)
    return f.getvalue()


def _pack(obj, channel):
    views = []
    threshold = channel.threshold

    def callback(buffer):
        try:
            view = buffer.raw()
        except BufferError:       # not contiguous: in-band, as pickle would
            return True
        if view.nbytes < threshold:
            return True
        views.append(view)
        return False

    f = io.BytesIO()
    p = _Pickler(f, 5, buffer_callback=callback)
    p.dispatch_table = _dispatch_table()
    p.dump(obj)
    meta = f.getvalue()
    if not views:
        return _Packed(meta, None)
    try:
        return _Packed(meta, _store(views, channel))
    finally:
        for view in views:
            view.release()


def _write_all(fd, view, offset, path):
    done, n = 0, view.nbytes
    while done < n:
        k = os.pwrite(fd, view[done:], offset + done)
        if k <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        done += k


def _create(path, tracked):
    return _new_name(functools.partial(
        os.open, path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600),
        path, tracked)


def _link(source, path, tracked):
    """A second name for a segment file (a message's own name)."""
    _new_name(functools.partial(os.link, source, path), path, tracked)


def _create_named(next_path, tracked):
    """Create a new file under the first free name next_path() gives (a
    name may be taken by a dead sender whose pid was recycled); its path
    and descriptor."""
    for _attempt in range(8):
        path = next_path()
        try:
            return path, _create(path, tracked)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free segment name", path)


def _store_copies(copies, size, channel):
    """Write the copied buffers into one file; its message name's entry."""
    try:
        return _write_segment(copies, size, channel)
    except OSError as e:
        if e.errno not in _NO_ROOM:
            raise
        # Kept files of this process that nobody uses any more take room
        # too: give them back and try once more.
        if not (_kept and _drop_idle()):
            raise
        return _write_segment(copies, size, channel)


_NO_ROOM = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.ENOMEM)


def _write_segment(copies, size, channel):
    entry = _acquire(channel, size)
    if entry is None:
        # Not kept: a file of its own, under its message name.
        path, fd = _create_named(channel.new_path, channel.tracked)
    else:
        path, fd = entry.path, entry.fd
    try:
        try:
            if entry is not None and entry.written >= size:
                # Pages the file has: a plain copy through the sender's own
                # shared mapping (no page faults after the first reuse, no
                # SIGBUS: nothing past what pwrite() allocated).
                if entry.view is None or len(entry.view) < size:
                    entry.unmap()
                    entry.mm = mmap.mmap(fd, entry.written, flags=mmap.MAP_SHARED,
                                         prot=mmap.PROT_READ | mmap.PROT_WRITE)
                    entry.view = memoryview(entry.mm)
                target = entry.view
                for view, offset in copies:
                    target[offset:offset + view.nbytes] = view
            else:
                for view, offset in copies:
                    _write_all(fd, view, offset, path)
                if entry is not None:
                    entry.written = size
        except OSError as e:
            if e.errno in _NO_ROOM:
                raise OSError(
                    e.errno, f"pickler.multiprocessing: no room for a {size}-byte "
                    f"shared-memory segment in {channel.directory} ({e.strerror}); "
                    "nothing was sent", path) from None
            raise
        if entry is None:
            return (path, size, channel.tracked)
        entry.size = max(entry.size, size)
        # The message's own name for the kept file (the receiver unlinks it).
        name = channel.new_path()
        _link(path, name, channel.tracked)
        return (name, size, channel.tracked)
    except BaseException:
        # Nothing partial stays: a file of its own goes, a kept one too (its
        # pages may hold half a message, and it may have grown).
        if entry is None:
            _release(path, channel.tracked)
        else:
            with _lock:
                _drop(entry)
        raise
    finally:
        if entry is None:
            try:
                os.close(fd)
            except OSError:
                pass
        else:
            entry.taken = False


def _store(views, channel):
    """Write the views into segments; returns (segments, specs)."""
    realdir = os.path.realpath(channel.directory)
    segments = []          # (path, map length, tracked)
    specs = []             # (segment index, offset, nbytes, readonly)
    copies = []            # (view, offset) into the copy segment (index 0)
    links = {}             # file of an empty() array -> segment index
    size = 0
    for view in views:
        located = _locate_shared(view, realdir)
        if located is not None:
            source, file_size, offset = located
            index = links.get(source)
            if index is None:
                index = links[source] = len(segments) + 1   # shifted below
                segments.append((source, file_size))
            specs.append([index, offset, view.nbytes, view.readonly])
        else:
            size = (size + _ALIGN - 1) & ~(_ALIGN - 1)
            specs.append([0, size, view.nbytes, view.readonly])
            copies.append((view, size))
            size += view.nbytes
    made = []
    try:
        if copies:
            made.append(_store_copies(copies, size, channel))
        for source, file_size in segments:
            # A new name for the same file: the receiver unlinks it, the
            # array's own name stays until the array is gone.
            path = channel.new_path()
            with _Deferred():
                _link(source, path, channel.tracked)
                made.append((path, file_size, channel.tracked))
    except BaseException:
        for path, _length, tracked in made:
            _release(path, tracked)
        raise
    if not copies:
        for spec in specs:
            spec[0] -= 1
    return tuple(made), tuple(tuple(spec) for spec in specs)


# --------------------------------------------------------------------------
# Receiving.


_SEGMENT_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}[0-9a-f]{12}-[0-9]+-[0-9]+\Z")


def _is_segment(path):
    return isinstance(path, str) and _SEGMENT_NAME.match(os.path.basename(path)) is not None


def _map(path, length):
    if not _is_segment(path):
        # _unpack unlinks what it maps: never a file that is not a segment.
        raise ValueError(f"pickler.multiprocessing: {path!r} is not a segment name")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise FileNotFoundError(
            errno.ENOENT, "pickler.multiprocessing: shared-memory segment of this "
            "message is gone (received twice, or released by its owner's shutdown)",
            path) from None
    try:
        # The shared lock tells the sender its file is mapped (see "Kept
        # segment files"); it lives with the descriptor the mmap object
        # duplicates, until the mapping is gone.
        fcntl.flock(fd, fcntl.LOCK_SH)
        return mmap.mmap(fd, length, flags=mmap.MAP_PRIVATE,
                         prot=mmap.PROT_READ | mmap.PROT_WRITE)
    finally:
        os.close(fd)


def _unpack(meta, descs):
    """Rebuild a message: map its segments privately, then load the pickle."""
    if descs is None:
        return _loads(meta)
    segments, specs = descs
    maps = []
    try:
        for path, length, tracked in segments:
            maps.append(memoryview(_map(path, length)))
            # Mapped: the name is no longer needed, the mapping keeps the
            # memory until the last view of it is gone.  Only the receiver
            # that unlinks it may use it: a name its owner swept meanwhile
            # belongs to a message nobody waits for, whose file may already
            # hold another message.
            if not _release(path, tracked):
                raise FileNotFoundError(
                    errno.ENOENT, "pickler.multiprocessing: shared-memory segment "
                    "of this message was released by its owner's shutdown", path)
    except BaseException:
        for segment in segments:
            if _is_segment(segment[0]):
                _release(segment[0], segment[2])
        raise
    buffers = []
    for index, offset, nbytes, readonly in specs:
        view = maps[index][offset:offset + nbytes]
        buffers.append(view.toreadonly() if readonly else view)
    del maps
    return _loads(meta, buffers=buffers)


# --------------------------------------------------------------------------
# The primitives.


class Connection(_mpconn.Connection):
    """A ``multiprocessing.connection.Connection`` whose ``send`` uses pickler."""

    _pk_channel = None

    def send(self, obj):
        """Send a picklable object; large buffers through shared memory."""
        self._check_closed()
        self._check_writable()
        packed = _pack(obj, self._pk_channel or _default_channel())
        try:
            self._send_bytes(packed.wire())
        except BaseException:
            packed.discard()
            raise

    def close(self):
        """Close; a sending end also gives back the files it kept."""
        if self._handle is not None and self.writable and self._pk_channel is not None:
            _drop_token(self._pk_channel.token)
        super().close()


def _rebuild_connection(df, readable, writable, channel):
    conn = Connection(df.detach(), readable, writable)
    conn._pk_channel = channel
    return conn


def _reduce_connection(conn):
    df = _mpred.DupFd(conn.fileno())
    return _rebuild_connection, (df, conn.readable, conn.writable, conn._pk_channel)


_mpred.register(Connection, _reduce_connection)


def _pipe(duplex, channel):
    if duplex:
        s1, s2 = socket.socketpair()
        s1.setblocking(True)
        s2.setblocking(True)
        c1, c2 = Connection(s1.detach()), Connection(s2.detach())
    else:
        fd1, fd2 = os.pipe()
        c1 = Connection(fd1, writable=False)
        c2 = Connection(fd2, readable=False)
    c1._pk_channel = c2._pk_channel = channel
    return c1, c2


class SimpleQueue(_mpqueues.SimpleQueue):
    """``multiprocessing.SimpleQueue`` pickling with pickler."""

    def __init__(self, *, ctx, channel=None):
        self._pk_channel = channel if channel is not None else _own(_default_channel())
        self._pk_owner = os.getpid()
        self._reader, self._writer = _pipe(False, self._pk_channel)
        self._rlock = ctx.Lock()
        self._poll = self._reader.poll
        self._wlock = ctx.Lock()

    def __getstate__(self):
        return super().__getstate__() + (self._pk_channel, self._pk_owner)

    def __setstate__(self, state):
        super().__setstate__(state[:-2])
        self._pk_channel, self._pk_owner = state[-2:]

    def put(self, obj):
        packed = _pack(obj, self._pk_channel)
        try:
            data = packed.wire()
            with self._wlock:
                self._writer.send_bytes(data)
        except BaseException:
            packed.discard()
            raise

    def close(self):
        """Close; in the creating process, also release undelivered segments."""
        super().close()
        _drop_token(self._pk_channel.token)
        if self._pk_owner == os.getpid():
            self._pk_channel.sweep()
            _disown(self._pk_channel)


class Queue(_mpqueues.Queue):
    """``multiprocessing.Queue`` pickling with pickler.

    Unlike the standard Queue, ``put`` pickles in the calling thread: an
    unpicklable object or a full /dev/shm raises there, and the sender may
    change its array as soon as ``put`` returns.
    """

    def __init__(self, maxsize=0, *, ctx, channel=None):
        super().__init__(maxsize, ctx=ctx)
        self._pk_channel = channel if channel is not None else _own(_default_channel())

    def __getstate__(self):
        return super().__getstate__() + (self._pk_channel,)

    def __setstate__(self, state):
        super().__setstate__(state[:-1])
        self._pk_channel = state[-1]

    def put(self, obj, block=True, timeout=None):
        if self._closed:
            raise ValueError(f"Queue {self!r} is closed")
        packed = _pack(obj, self._pk_channel)
        try:
            super().put(packed, block, timeout)
        except BaseException:
            packed.discard()
            raise

    def close(self):
        """Close; this process's files kept for the queue go (messages
        already put stay until received, or until the owner exits)."""
        super().close()
        _drop_token(self._pk_channel.token)


class JoinableQueue(Queue, _mpqueues.JoinableQueue):
    """``multiprocessing.JoinableQueue`` pickling with pickler (``put`` as in
    ``Queue``; ``task_done`` and ``join`` are the standard ones)."""


class Pool(_mppool.Pool):
    """``multiprocessing.pool.Pool`` whose queues pickle with pickler.

    ``terminate()`` and ``join()`` release the segments of tasks and results
    that no process will receive any more (tasks still queued when the pool
    is terminated, results of killed workers).
    """

    def _pk_sweep(self):
        for name in ("_inqueue", "_outqueue", "_change_notifier"):
            queue = getattr(self, name, None)
            channel = getattr(queue, "_pk_channel", None)
            if channel is not None:
                channel.sweep()
                _disown(channel)

    def terminate(self):
        try:
            super().terminate()
        finally:
            self._pk_sweep()

    def join(self):
        super().join()
        self._pk_sweep()


class _ProcessMixin:
    """Spawned processes: the Process object (target, args, kwargs and
    attributes) is pickled with pickler when the child starts."""

    _pk_options = None

    def __reduce_ex__(self, protocol):
        cls = type(self)
        while cls.__dict__.get("_pk_dynamic"):
            cls = cls.__bases__[0]
        state = dict(self.__dict__)
        state.pop("_pk_channel", None)
        if _mpctx.get_spawning_popen() is None:
            return (_rebuild_process, (cls, state))
        channel = _own(_Channel(*(self._pk_options or _DEFAULT_OPTIONS)))
        self._pk_channel = channel
        return (_rebuild_process, (cls, _pack(state, channel)))

    def join(self, timeout=None):
        super().join(timeout)
        channel = self.__dict__.get("_pk_channel")
        if channel is not None and self.exitcode is not None:
            # The child is gone: whatever it did not receive never will be.
            channel.sweep()
            _disown(channel)


def _rebuild_process(cls, state):
    obj = cls.__new__(cls)
    obj.__dict__.update(state)
    return obj


class SpawnProcess(_ProcessMixin, _mpctx.SpawnProcess):
    pass


class ForkServerProcess(_ProcessMixin, _mpctx.ForkServerProcess):
    pass


ForkProcess = _mpctx.ForkProcess   # nothing is pickled to start a fork


class Reducer(_mpred.AbstractReducer):
    """``multiprocessing.reduction`` with pickler's Pickler (protocol 5).

    What a pickler context's ``reducer`` returns.  Informational: the stdlib
    binds its reducer at import and shares it between contexts, so a context
    cannot install one; the primitives above carry the buffers.
    """

    class ForkingPickler:
        @classmethod
        def dumps(cls, obj, protocol=None):
            return memoryview(_dumps_plain(obj))

        loads = staticmethod(_loads)

        register = classmethod(lambda cls, type_, reduce: _mpred.register(type_, reduce))

    @staticmethod
    def dump(obj, file, protocol=None):
        file.write(_dumps_plain(obj))


_reducer = None
_DEFAULT_OPTIONS = (DEFAULT_THRESHOLD, DEFAULT_DIRECTORY, DEFAULT_PREFIX)


def _default_channel():
    return _Channel(*_DEFAULT_OPTIONS)


def _default_keep(directory):
    # A sixteenth of the smaller of the tmpfs and the physical memory: 1.5 GiB
    # on a 24 GiB machine, 4 MiB in a container with Docker's 64 MiB /dev/shm.
    try:
        st = os.statvfs(directory)
        room = st.f_blocks * st.f_frsize
    except OSError:
        room = 0
    try:
        ram = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        ram = room
    return min(room, ram) // 16


class _ContextMixin:
    def _pk_setup(self, threshold, directory, prefix, keep=None):
        if threshold is None:
            threshold = DEFAULT_THRESHOLD
        if directory is None:
            directory = DEFAULT_DIRECTORY
        if prefix is None:
            prefix = DEFAULT_PREFIX
        threshold = int(threshold)
        if threshold < 1:
            raise ValueError("threshold must be at least 1 byte")
        if not os.path.isdir(directory):
            raise ValueError(f"segment directory {directory!r} does not exist")
        if not prefix or len(prefix) > 64 or not set(prefix) <= _PREFIX_CHARS:
            raise ValueError("prefix must be 1-64 characters of [A-Za-z0-9._-]")
        self._pk_options = (threshold, directory, prefix)
        if keep is None:
            keep = _default_keep(directory)
        keep = int(keep)
        if keep < 0:
            raise ValueError("keep must be 0 or more bytes")
        self._pk_keep = keep
        if self._pk_options != _DEFAULT_OPTIONS:
            base = type(self).Process
            if issubclass(base, _ProcessMixin):
                self.Process = type(base.__name__, (base,), {
                    "_pk_options": self._pk_options, "_pk_dynamic": True,
                    "__module__": __name__, "__qualname__": base.__qualname__})
        _install_executor_queue()

    @property
    def threshold(self):
        return self._pk_options[0]

    @property
    def directory(self):
        return self._pk_options[1]

    @property
    def prefix(self):
        return self._pk_options[2]

    @property
    def keep(self):
        return self._pk_keep

    def _pk_channel(self):
        channel = _own(_Channel(*self._pk_options, keep=self._pk_keep))
        if channel.tracked:
            # Children forked before the tracker starts would start their own
            # and register there names that others unregister here.
            _tracker.ensure_running()
        return channel

    def Pipe(self, duplex=True):
        """Two connected ``Connection`` objects that pickle with pickler."""
        return _pipe(duplex, self._pk_channel())

    def Queue(self, maxsize=0):
        return Queue(maxsize, ctx=self, channel=self._pk_channel())

    def JoinableQueue(self, maxsize=0):
        return JoinableQueue(maxsize, ctx=self, channel=self._pk_channel())

    def SimpleQueue(self):
        return SimpleQueue(ctx=self, channel=self._pk_channel())

    def Pool(self, processes=None, initializer=None, initargs=(),
             maxtasksperchild=None):
        return Pool(processes, initializer, initargs, maxtasksperchild, context=self)

    def get_context(self, method=None):
        if method is None:
            return self
        threshold, directory, prefix = self._pk_options
        return get_context(method, threshold=threshold, directory=directory,
                           prefix=prefix, keep=self._pk_keep)

    @property
    def reducer(self):
        global _reducer
        if _reducer is None:
            _reducer = Reducer()
        return _reducer

    @reducer.setter
    def reducer(self, value):
        raise AttributeError(
            "a pickler.multiprocessing context's reducer cannot be replaced "
            "(the stdlib's reducer is global to all contexts)")

    def __repr__(self):
        threshold, directory, _ = self._pk_options
        return (f"<pickler.multiprocessing {self._name} context, "
                f"threshold={threshold}, directory={directory!r}, keep={self._pk_keep}>")


class ForkContext(_ContextMixin, _mpctx.ForkContext):
    Process = ForkProcess

    def __init__(self, threshold=None, directory=None, prefix=None, keep=None):
        self._pk_setup(threshold, directory, prefix, keep)


class SpawnContext(_ContextMixin, _mpctx.SpawnContext):
    Process = SpawnProcess

    def __init__(self, threshold=None, directory=None, prefix=None, keep=None):
        self._pk_setup(threshold, directory, prefix, keep)


class ForkServerContext(_ContextMixin, _mpctx.ForkServerContext):
    Process = ForkServerProcess

    def __init__(self, threshold=None, directory=None, prefix=None, keep=None):
        self._pk_setup(threshold, directory, prefix, keep)


_CONTEXTS = {"fork": ForkContext, "spawn": SpawnContext,
             "forkserver": ForkServerContext}


def get_context(method=None, *, threshold=None, directory=None, prefix=None,
                keep=None):
    """A multiprocessing context whose primitives pickle with pickler.

    ``method``: ``"fork"``, ``"spawn"``, ``"forkserver"`` or None (the
    start method ``multiprocessing.get_context()`` would use).
    ``threshold``: out-of-band buffers of this many bytes or more go through
    shared memory (default ``DEFAULT_THRESHOLD``). ``directory``: a tmpfs
    directory for the segments (default ``/dev/shm``). ``prefix``: the start
    of every segment name (default ``"pklr-"``).  ``keep``: bytes of
    segment files each sending process keeps to write its next messages into
    (rewriting pages costs a quarter of filling new ones; default a sixteenth
    of the smaller of the tmpfs and the physical memory; 0: a new file for
    every message).
    """
    if method is None:
        method = (_mp.get_start_method(allow_none=True)
                  or _mpctx._default_context._default_context.get_start_method())
    try:
        cls = _CONTEXTS[method]
    except KeyError:
        raise ValueError(f"cannot find context for {method!r}") from None
    ctx = cls(threshold, directory, prefix, keep)
    ctx._check_available()
    return ctx


# --------------------------------------------------------------------------
# concurrent.futures.ProcessPoolExecutor(mp_context=ctx)



class _PicklerSafeQueue(_cfprocess._SafeQueue):
    """``_SafeQueue`` that packs with pickler when its context is ours.

    For any other context every method is the original's.
    """

    _pk_channel = None
    _pk_owner = None

    def __init__(self, max_size=0, *, ctx, pending_work_items, shutdown_lock,
                 thread_wakeup):
        super().__init__(max_size, ctx=ctx, pending_work_items=pending_work_items,
                         shutdown_lock=shutdown_lock, thread_wakeup=thread_wakeup)
        if isinstance(ctx, _ContextMixin):
            self._pk_channel = ctx._pk_channel()
            self._pk_owner = os.getpid()

    def put(self, obj, block=True, timeout=None):
        channel = self._pk_channel
        if channel is None or obj is None:
            return super().put(obj, block, timeout)
        try:
            packed = _pack(obj, channel)
        except Exception as e:  # noqa: BLE001 -- handed to the future, as stdlib does
            # The standard queue pickles in its feeder thread and reports a
            # failure on the task's future; so do we.
            self._on_queue_feeder_error(e, obj)
            return
        try:
            super().put(packed, block, timeout)
        except BaseException:
            packed.discard()
            raise

    def join_thread(self):
        super().join_thread()
        if self._pk_channel is not None and self._pk_owner == os.getpid():
            # The executor calls this when it shuts down (or breaks): tasks
            # still queued will not be received any more.
            self._pk_channel.sweep()
            _disown(self._pk_channel)


_installed = False
_OriginalSafeQueue = _PicklerSafeQueue.__mro__[1]
while _OriginalSafeQueue.__name__ == "_PicklerSafeQueue":   # module reloaded
    _OriginalSafeQueue = _OriginalSafeQueue.__mro__[1]


def _rebuild_safe_queue(state):
    queue = _OriginalSafeQueue.__new__(_OriginalSafeQueue)
    queue.__setstate__(state)
    return queue


def _reduce_safe_queue(queue):
    # Executors made before the switch hold the original class, which
    # pickle can no longer find by its name: rebuild it through this module.
    return (_rebuild_safe_queue, (queue.__getstate__(),))


def _install_executor_queue():
    global _installed
    if not _installed:
        _mpred.register(_OriginalSafeQueue, _reduce_safe_queue)
        _cfprocess._SafeQueue = _PicklerSafeQueue
        _installed = True
