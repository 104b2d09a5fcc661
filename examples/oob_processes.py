"""Send numpy arrays to another process without copying them.

The arrays live in shared memory.  The sender pickles the data structure with
protocol 5 and a buffer_callback: the pickle holds only the metadata, and the
callback receives views (PickleBuffer) of the arrays' memory.  Only the small
pickle and the names/offsets of the buffers cross the pipe; the receiver maps
the same shared memory and passes the views to loads(buffers=...), which
rebuilds the arrays on top of that memory: no byte of array data is copied.
"""
import multiprocessing as mp
from multiprocessing import shared_memory

import numpy as np

import pickler


def shared_array(shape, dtype, segments):
    """An array allocated in a new shared-memory segment."""
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    shm = shared_memory.SharedMemory(create=True, size=max(nbytes, 1))
    segments[shm.name] = shm
    return np.ndarray(shape, dtype=dtype, buffer=shm.buf)


def locate(buffer, segments):
    """(segment name, offset, length, readonly) of a PickleBuffer's memory."""
    with buffer.raw() as view:
        start = np.frombuffer(view, np.uint8).__array_interface__["data"][0]
        for name, shm in segments.items():
            base = np.frombuffer(shm.buf, np.uint8).__array_interface__["data"][0]
            if base <= start < base + shm.size:
                return name, start - base, view.nbytes, view.readonly
    raise ValueError("buffer is not in shared memory")


def receiver(conn):
    data, locations = conn.recv()
    opened, views = [], []
    for name, offset, length, readonly in locations:
        shm = shared_memory.SharedMemory(name=name)
        opened.append(shm)
        view = shm.buf[offset:offset + length]
        views.append(view.toreadonly() if readonly else view)
    result = pickler.loads(data, buffers=views)
    # Work on the arrays in place: the sender sees the change.
    result["signal"] *= 2
    conn.send((float(result["signal"].sum()), result["meta"]))
    del result, views, view
    for shm in opened:
        shm.close()


def main():
    segments = {}
    signal = shared_array((1000, 1000), np.float64, segments)
    signal[...] = 1.0
    labels = shared_array((1000,), np.int32, segments)
    labels[...] = np.arange(1000)
    payload = {"signal": signal, "labels": labels, "meta": {"run": 7}}

    buffers = []
    data = pickler.dumps(payload, protocol=5, buffer_callback=buffers.append)
    locations = [locate(b, segments) for b in buffers]
    print(f"pickle: {len(data)} bytes; out-of-band: "
          f"{sum(loc[2] for loc in locations):,} bytes in {len(buffers)} buffers")

    parent, child = mp.Pipe()
    proc = mp.Process(target=receiver, args=(child,))
    proc.start()
    parent.send((data, locations))
    total, meta = parent.recv()
    proc.join()
    assert proc.exitcode == 0
    assert meta == {"run": 7}
    assert total == 2.0 * signal.size
    assert (signal == 2.0).all()   # modified in place by the other process
    print("receiver doubled the shared array in place: no copies made")
    del signal, labels, payload, buffers
    for shm in segments.values():
        shm.close()
        shm.unlink()


if __name__ == "__main__":
    main()
