# cython: language_level=3, binding=True, embedsignature=True, auto_pickle=False
"""Protocol 4+ framing and the flushing of the output buffer to a file.

The bytes match CPython's C pickler exactly:

* frames are committed between two objects once they hold at least
  FRAME_SIZE_TARGET (64 KiB) bytes; when pickling to a file, each committed
  frame is passed to ``file.write()`` as one ``bytes`` object;
* a frame with fewer than FRAME_SIZE_MIN payload bytes loses its header;
* a payload of FRAME_SIZE_TARGET bytes or more (bytes, str, bytearray,
  PickleBuffer) is written outside any frame: the current frame is committed,
  the opcode header is written unframed and, when pickling to a file, the
  buffer is flushed and the payload object itself is passed to ``write()``,
  with no copy; for ``dumps()`` the payload is copied into the buffer once,
  after growing it to the exact size needed.
"""
from libc.string cimport memmove

from ._buffer cimport WriteBuffer, buf_reserve, buf_write
from ._copy cimport copy_to_fresh
from ._protocol cimport FRAME, put_le

cdef extern from "Python.h":
    const Py_ssize_t PY_SSIZE_T_MAX

cdef enum:
    # After a flush to a file the next storage starts at the size the last
    # one reached, but never more than this, so that dumping one huge object
    # does not pin a huge buffer for the rest of the pickle.
    MAX_FLUSH_CAPACITY = 256 * 1024


cdef class Framer(WriteBuffer):

    def __cinit__(self):
        self.framing = False
        self.frame_start = -1
        self.boundary = PY_SSIZE_T_MAX
        self.file_write = None
        self.flush_capacity = self.initial_capacity

    cdef int open_frame(self) except -1:
        self.frame_start = self.length
        buf_reserve(self, FRAME_HEADER_SIZE)
        self.boundary = self.frame_start + FRAME_HEADER_SIZE + FRAME_SIZE_TARGET
        return 0

    cdef int _commit_frame(self) except -1:
        cdef Py_ssize_t payload
        cdef char *header
        if self.frame_start < 0:
            return 0
        payload = self.length - self.frame_start - FRAME_HEADER_SIZE
        header = self.ptr + self.frame_start
        if payload >= FRAME_SIZE_MIN:
            header[0] = <char>FRAME
            put_le(header + 1, <unsigned long long>payload, 8)
        else:
            memmove(header, header + FRAME_HEADER_SIZE, <size_t>payload)
            self.length -= FRAME_HEADER_SIZE
        self.frame_start = -1
        self.boundary = PY_SSIZE_T_MAX
        return 0

    def commit_frame(self, force=False):
        """Commit the current frame if it is full (or `force` is true) and,
        when pickling to a file, write out everything buffered so far.

        For Pickler subclasses that write to the file themselves between
        two objects (as pickle._Pickler's framer.commit_frame allows).
        """
        if self.framing and self.frame_start >= 0:
            if force or self.length - self.frame_start - FRAME_HEADER_SIZE >= FRAME_SIZE_TARGET:
                self._commit_frame()
                if self.file_write is not None:
                    self.flush_to_file()
                    self.allocate(self.flush_capacity)
                self.open_frame()
        elif force and self.file_write is not None and self.length:
            self.flush_to_file()
            self.allocate(self.flush_capacity)

    property current_frame:
        """While frames are in use (protocol 4+, inside dump()), a view on
        the open frame whose tell() is the number of bytes it holds, as
        pickle._Pickler's framer.current_frame (a BytesIO); else None.

        file.tell() + current_frame.tell() is the size of the pickle so
        far, as dill's trace computes it: what is buffered and not yet in
        the file is counted in the frame.
        """
        def __get__(self):
            if not self.framing:
                return None
            view = FrameView.__new__(FrameView)
            (<FrameView>view).framer = self
            return view

    cdef int start_framing(self) except -1:
        self.framing = True
        return self.open_frame()

    cdef int end_framing(self) except -1:
        self._commit_frame()
        self.framing = False
        return 0

    cdef void abort(self) noexcept:
        """Forget framing state after an error; the buffer content is garbage."""
        self.framing = False
        self.frame_start = -1
        self.boundary = PY_SSIZE_T_MAX
        self.length = 0

    cdef int frame_full(self) except -1:
        self._commit_frame()
        if self.file_write is not None:
            self.flush_to_file()
            self.allocate(self.flush_capacity)
        return self.open_frame()

    cdef int flush_to_file(self) except -1:
        """Commit the open frame and pass everything buffered to file.write().

        The buffer's storage object itself is handed to write() and the buffer
        is left without storage (callers that go on writing allocate a new
        one): a file object may keep what it was given (e.g. a list of
        chunks), so memory handed out is never written to again.
        """
        cdef Py_ssize_t next_capacity = self.capacity
        self._commit_frame()
        if next_capacity > MAX_FLUSH_CAPACITY:
            next_capacity = MAX_FLUSH_CAPACITY
        if next_capacity < self.initial_capacity:
            next_capacity = self.initial_capacity
        self.flush_capacity = next_capacity
        chunk = self.detach()
        self.file_write(chunk)
        return 0

    cdef int write_large(self, const char *header, Py_ssize_t header_size,
                         const char *data, Py_ssize_t data_size,
                         object payload) except -1:
        """Write an opcode header and its payload of FRAME_SIZE_TARGET bytes
        or more (bytes, str, bytearray data; smaller ones go straight into
        the frame, see write_payload) outside any frame.

        `payload` is the object handed to file.write() when the payload goes
        straight to the file; None means "make a bytes copy of `data`" (CPython
        does the same for str, whose UTF-8 form has no object of its own).
        """
        cdef bint framing = self.framing
        self._commit_frame()
        self.framing = False
        if self.file_write is not None:
            buf_write(self, header, header_size)
            self.flush_to_file()
            if payload is None:
                payload = data[:data_size]
            self.file_write(payload)
            self.allocate(self.flush_capacity)
        else:
            self.reserve_exact(header_size + data_size)
            buf_write(self, header, header_size)
            # Storage of this size is allocated for this pickle: not touched yet.
            copy_to_fresh(buf_reserve(self, data_size), data, <size_t>data_size)
        self.framing = framing
        if framing:
            self.open_frame()
        return 0


cdef class FrameView:
    """Framer.current_frame: tell() (and len()) of the open frame."""
    cdef Framer framer

    def tell(self):
        cdef Framer framer = self.framer
        if framer.frame_start >= 0:
            return framer.length - FRAME_HEADER_SIZE
        return framer.length

    def __len__(self):
        return self.tell()
