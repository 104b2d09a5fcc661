# cython: language_level=3
"""Copying a large payload into freshly allocated memory (C code in _copy.h),
for the pickler's framer and the unpickler.  Declarations only."""

cdef extern from "_copy.h":
    # Payloads from this size on are copied into memory advised for huge pages.
    const Py_ssize_t HUGE_PAGE_PAYLOAD "PICKLER_HUGE_PAGE_PAYLOAD"
    # memcpy into memory not touched yet, huge-page advised and page by page
    # for large sizes (see _copy.h for why).
    void copy_to_fresh "pickler_copy_to_fresh" (char *dst, const char *src,
                                                size_t n) noexcept nogil
