/* Copying a large payload into memory just allocated for it (the result of
   dumps(), the bytes or bytearray of a load).  Shared by the pickler's framer
   and the unpickler through _copy.pxd.  No state; nothing here touches a
   Python object. */
#ifndef PICKLER_COPY_H
#define PICKLER_COPY_H
#include <Python.h>
#include <string.h>
#include <stdint.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif
#define PICKLER_HUGE_PAGE ((uintptr_t)2 << 20)
/* Copies from this size on go page by page (pickler_copy_to_fresh).
   Measured on the development machine (glibc 2.36, 2 MiB pages):
   from 8 to 192 MiB both ways take the same time, from 256 MiB the
   paged copy takes 0.6 of it. */
#define PICKLER_CHUNKED_COPY_MIN ((size_t)64 << 20)

/* Payloads from this size on are copied into memory the kernel is
   asked to back with transparent huge pages: a copy into freshly
   allocated memory is bound by page faults, and 2 MiB pages take 512
   times fewer of them. */
#define PICKLER_HUGE_PAGE_PAYLOAD ((Py_ssize_t)8 << 20)

/* Ask the kernel to back the whole 2 MiB pages of [start, start+size)
   with transparent huge pages (Linux; a no-op elsewhere or when the
   kernel declines). */
static inline void pickler_advise_huge_pages(char *start, size_t size) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    uintptr_t first = ((uintptr_t)start + PICKLER_HUGE_PAGE - 1) & ~(PICKLER_HUGE_PAGE - 1);
    uintptr_t last = ((uintptr_t)start + (uintptr_t)size) & ~(PICKLER_HUGE_PAGE - 1);
    if (last > first) {
        (void)madvise((void *)first, (size_t)(last - first), MADV_HUGEPAGE);
    }
#else
    (void)start; (void)size;
#endif
}

/* memcpy into memory not touched yet (storage allocated for this
   payload).  From PICKLER_HUGE_PAGE_PAYLOAD the destination is first
   advised for huge pages.  From PICKLER_CHUNKED_COPY_MIN the copy goes
   one 2 MiB page of the destination at a time: each page is zeroed by
   the kernel when the copy first touches it, and a copy of page size
   overwrites those zeros while they are still in the cache.  One
   memcpy of hundreds of MiB uses non-temporal stores instead (glibc,
   sizes well above the last-level cache), which write around the
   cache: the zeroed lines are written back to memory as well, one more
   pass over the data. */
static inline void pickler_copy_to_fresh(char *dst, const char *src, size_t n) {
    size_t step, off = 0;
    if (n >= (size_t)PICKLER_HUGE_PAGE_PAYLOAD) {
        pickler_advise_huge_pages(dst, n);
    }
    if (n < PICKLER_CHUNKED_COPY_MIN) {
        memcpy(dst, src, n);
        return;
    }
    step = PICKLER_HUGE_PAGE - ((uintptr_t)dst & (PICKLER_HUGE_PAGE - 1));
    while (off < n) {
        if (step > n - off) {
            step = n - off;
        }
        memcpy(dst + off, src + off, step);
        off += step;
        step = PICKLER_HUGE_PAGE;
    }
}

#endif
