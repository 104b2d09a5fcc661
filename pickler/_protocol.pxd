# cython: language_level=3
"""The pickle protocol, written once for both halves: opcodes, protocol and
frame limits, little-endian integer helpers, and the CPython version flags.

Both the pickler and the unpickler (and the capability modules) cimport
from here; nothing else in the tree spells an opcode value, a frame size or
a version check.  This file holds declarations and inline helpers only:
no state, no Python objects.
"""
from libc.stdint cimport uint64_t


# Opcodes, as the byte values the stream carries (see pickletools).

cdef enum:
    MARK = 0x28             # '('
    STOP = 0x2e             # '.'
    POP = 0x30              # '0'
    POP_MARK = 0x31         # '1'
    DUP = 0x32              # '2'
    FLOAT = 0x46            # 'F'
    INT = 0x49              # 'I'
    BININT = 0x4a           # 'J'
    BININT1 = 0x4b          # 'K'
    LONG = 0x4c             # 'L'
    BININT2 = 0x4d          # 'M'
    NONE = 0x4e             # 'N'
    PERSID = 0x50           # 'P'
    BINPERSID = 0x51        # 'Q'
    REDUCE = 0x52           # 'R'
    STRING = 0x53           # 'S'
    BINSTRING = 0x54        # 'T'
    SHORT_BINSTRING = 0x55  # 'U'
    UNICODE = 0x56          # 'V'
    BINUNICODE = 0x58       # 'X'
    APPEND = 0x61           # 'a'
    BUILD = 0x62            # 'b'
    GLOBAL = 0x63           # 'c'
    DICT = 0x64             # 'd'
    EMPTY_DICT = 0x7d       # '}'
    APPENDS = 0x65          # 'e'
    GET = 0x67              # 'g'
    BINGET = 0x68           # 'h'
    INST = 0x69             # 'i'
    LONG_BINGET = 0x6a      # 'j'
    LIST = 0x6c             # 'l'
    EMPTY_LIST = 0x5d       # ']'
    OBJ = 0x6f              # 'o'
    PUT = 0x70              # 'p'
    BINPUT = 0x71           # 'q'
    LONG_BINPUT = 0x72      # 'r'
    SETITEM = 0x73          # 's'
    TUPLE = 0x74            # 't'
    EMPTY_TUPLE = 0x29      # ')'
    SETITEMS = 0x75         # 'u'
    BINFLOAT = 0x47         # 'G'
    # protocol 2
    PROTO = 0x80
    NEWOBJ = 0x81
    EXT1 = 0x82
    EXT2 = 0x83
    EXT4 = 0x84
    TUPLE1 = 0x85
    TUPLE2 = 0x86
    TUPLE3 = 0x87
    NEWTRUE = 0x88
    NEWFALSE = 0x89
    LONG1 = 0x8a
    LONG4 = 0x8b
    # protocol 3
    BINBYTES = 0x42         # 'B'
    SHORT_BINBYTES = 0x43   # 'C'
    # protocol 4
    SHORT_BINUNICODE = 0x8c
    BINUNICODE8 = 0x8d
    BINBYTES8 = 0x8e
    EMPTY_SET = 0x8f
    ADDITEMS = 0x90
    FROZENSET = 0x91
    NEWOBJ_EX = 0x92
    STACK_GLOBAL = 0x93
    MEMOIZE = 0x94
    FRAME = 0x95
    # protocol 5
    BYTEARRAY8 = 0x96
    NEXT_BUFFER = 0x97
    READONLY_BUFFER = 0x98

# Protocol limits.
cdef enum:
    HIGHEST_PROTOCOL = 5
    BATCHSIZE = 1000            # items per APPENDS / SETITEMS / ADDITEMS batch
    FAST_NESTING_LIMIT = 50     # fast mode starts tracking cycles past this depth

# Frames (protocol 4+).
cdef enum:
    FRAME_SIZE_MIN = 4             # smaller frames are dropped (header removed)
    FRAME_SIZE_TARGET = 64 * 1024  # a frame is committed once it holds this much
    FRAME_HEADER_SIZE = 9          # FRAME opcode + 8-byte little-endian length


# The CPython this module is compiled for (each build is for one version, so
# these are C constants; see _protocol.h).  Named after the first version
# that has the behaviour.
cdef extern from "_protocol.h":
    const bint PY311 "PICKLER_PY311"
    const bint PY312 "PICKLER_PY312"
    const bint PY313 "PICKLER_PY313"


# Little-endian integers, as every sized opcode argument is written.  `n` is
# a constant at every call site, so the C compiler unrolls the loops.

cdef inline void put_le(char *p, uint64_t v, int n) noexcept nogil:
    """Write the low `n` bytes of `v` at `p`, least significant first."""
    cdef int i
    for i in range(n):
        p[i] = <char>((v >> (8 * i)) & 0xff)


cdef inline uint64_t get_le(const char *p, int n) noexcept nogil:
    """The unsigned value of the `n` bytes at `p`, least significant first."""
    cdef const unsigned char *u = <const unsigned char *>p
    cdef uint64_t x = 0
    cdef int i
    for i in range(n):
        x |= (<uint64_t>u[i]) << (8 * i)
    return x


cdef inline long get_le_signed32(const char *p) noexcept nogil:
    """BININT's argument: a signed 32-bit little-endian integer."""
    return <long>(<int>(<unsigned int>get_le(p, 4)))
