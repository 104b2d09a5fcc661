# cython: language_level=3
"""Declarations of the framer: protocol 4+ frames over the write buffer."""
from libc.string cimport memcpy

from ._buffer cimport WriteBuffer, buf_reserve
from ._protocol cimport FRAME_SIZE_MIN, FRAME_SIZE_TARGET, FRAME_HEADER_SIZE


cdef class Framer(WriteBuffer):
    # Frames are regions of the output buffer.  While framing is on, a frame
    # is always open: its 9 header bytes are reserved at `frame_start` as soon
    # as the previous frame is committed, and patched (or removed, for
    # payloads under FRAME_SIZE_MIN bytes) when it is committed.  This gives
    # the same bytes as CPython, which reserves the header lazily at the next
    # write, because nothing is written between a commit and the next opcode.
    cdef bint framing              # protocol >= 4 and inside dump()
    cdef Py_ssize_t frame_start    # offset of the open frame's header, -1 if none
    cdef Py_ssize_t boundary       # buffer length at which the open frame is full;
                                   # PY_SSIZE_T_MAX when no frame is open, so the
                                   # per-object check is a single comparison
    cdef object file_write         # bound write() of the target file; None for dumps()
    cdef Py_ssize_t flush_capacity  # storage size to start with after a flush

    cdef int start_framing(self) except -1
    cdef int end_framing(self) except -1
    cdef int open_frame(self) except -1
    cdef int _commit_frame(self) except -1
    cdef int frame_full(self) except -1
    cdef int flush_to_file(self) except -1
    cdef int write_large(self, const char *header, Py_ssize_t header_size,
                         const char *data, Py_ssize_t data_size,
                         object payload) except -1
    cdef void abort(self) noexcept


cdef inline int opcode_boundary(Framer framer) except -1:
    """Between two objects: commit (and flush to the file) a full frame."""
    if framer.length >= framer.boundary:
        return framer.frame_full()
    return 0


cdef inline int write_payload(Framer framer, const char *header, Py_ssize_t header_size,
                              const char *data, Py_ssize_t data_size,
                              object payload) except -1:
    """An opcode header and its payload: small ones straight into the
    frame, large ones through Framer.write_large (outside any frame)."""
    cdef char *p
    if data_size >= FRAME_SIZE_TARGET:
        return framer.write_large(header, header_size, data, data_size, payload)
    p = buf_reserve(framer, header_size + data_size)
    memcpy(p, header, <size_t>header_size)
    memcpy(p + header_size, data, <size_t>data_size)
    return 0
