"""Send numpy arrays to another process without copying them.

``pickler.multiprocessing.get_context()`` gives a multiprocessing context
whose pipes, queues, pools and processes pickle with pickler at protocol 5:
every large buffer travels through a shared-memory segment sent by name, and
the receiver's arrays are views of that memory.  Arrays allocated with
``pickler.multiprocessing.empty()`` already live in shared memory, so sending
them copies nothing at all: the receiver maps the sender's very file,
copy-on-write (its writes stay its own).
"""
import numpy as np

import pickler.multiprocessing as pmp


def mapped_file(a):
    """The file (and its inode) whose mapping holds the array's memory."""
    address = a.__array_interface__["data"][0]
    with open("/proc/self/maps") as f:
        for line in f:
            fields = line.split(None, 5)
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            if lo <= address < hi:
                return (fields[5].strip() if len(fields) > 5 else ""), int(fields[4])
    return "", 0


def receiver(conn):
    data = conn.recv()
    signal = data["signal"]
    inode = mapped_file(signal)[1]
    signal *= 2                       # writable; private to this process
    result = pmp.empty(signal.shape, signal.dtype)
    np.add(signal, data["labels"][:, None], out=result)
    conn.send({"result": result, "inode": inode, "meta": data["meta"]})


def main():
    ctx = pmp.get_context("spawn")
    signal = pmp.empty((1000, 1000), np.float64)      # 8 MB in shared memory
    signal[...] = 1.0
    labels = pmp.empty((1000,), np.float64)
    labels[...] = np.arange(1000)
    payload = {"signal": signal, "labels": labels, "meta": {"run": 7}}

    here, there = ctx.Pipe()
    proc = ctx.Process(target=receiver, args=(there,))
    proc.start()
    here.send(payload)
    answer = here.recv()
    proc.join()
    assert proc.exitcode == 0
    assert answer["meta"] == {"run": 7}
    # The receiver mapped the sender's own file: nothing was copied...
    assert answer["inode"] == mapped_file(signal)[1]
    # ...and its write stayed its own.
    assert (signal == 1.0).all()
    expected = 2.0 + np.arange(1000)[:, None]
    assert (answer["result"] == expected).all()
    # The result came back the same way: a view of the receiver's memory.
    assert "(deleted)" in mapped_file(answer["result"])[0]
    print(f"sent a {signal.nbytes:,}-byte array to a spawned process and got one back: "
          "both ways a view of the sender's shared memory, no copy")
    print("the receiver's write (signal *= 2) stayed private: the sender's array is unchanged")


if __name__ == "__main__":
    main()
