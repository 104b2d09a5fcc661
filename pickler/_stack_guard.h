/* The pickler's stack guard: how far down the running thread's stack may
   grow before pickling deeper data raises RecursionError instead of
   overflowing it.  Used through `enter_recursive_call` (_pickler.pxd) by the
   Pickler and the DeterministicPickler.  Holds no Python state; the floor
   is found once per thread (thread-local), so this needs no lock. */
#ifndef PICKLER_STACK_GUARD_H
#define PICKLER_STACK_GUARD_H
#include <Python.h>
#include <stdint.h>

/* The margin kept above the lowest usable address: what runs between two
   checks (one nesting level of the save path's frames and the user code it
   calls, at most a few KiB) and raising the error. */
#define PICKLER_STACK_MARGIN_MAX ((size_t)256 * 1024)

#if defined(__linux__) && defined(__GNUC__)
#include <pthread.h>
/* The lowest usable address of the running thread's stack (measured,
   whatever its size: 128 KiB threads on musl, small
   threading.stack_size() stacks) plus the margin.  Found once per thread;
   NULL when unknown (no check). */
static __thread char *pickler_thread_stack_floor = NULL;
static __thread int pickler_thread_stack_known = 0;
static inline char *pickler_stack_floor(void) {
    if (!pickler_thread_stack_known) {
        pthread_attr_t attr;
        void *base = NULL;
        size_t size = 0, margin;
        pickler_thread_stack_known = 1;
        if (pthread_getattr_np(pthread_self(), &attr) == 0) {
            if (pthread_attr_getstack(&attr, &base, &size) == 0 && base != NULL
                    && size > 0) {
                /* a sixteenth of the stack, 16 KiB to 256 KiB */
                margin = size / 16;
                if (margin < 16 * 1024) margin = 16 * 1024;
                if (margin > PICKLER_STACK_MARGIN_MAX) margin = PICKLER_STACK_MARGIN_MAX;
                if (margin < size) {
                    pickler_thread_stack_floor = (char *)base + margin;
                }
            }
            pthread_attr_destroy(&attr);
        }
    }
    return pickler_thread_stack_floor;
}
#else
static inline char *pickler_stack_floor(void) { return NULL; }
#endif

/* True when the stack pointer is below the floor, within the margin
   (unsigned arithmetic: one subtraction and one comparison; a NULL floor,
   or code running on another stack below this thread's, such as a
   coroutine library's, is never "below the floor"). */
static inline int pickler_below_stack_floor(char *floor) {
    char here;
    return (size_t)((uintptr_t)floor - (uintptr_t)&here - 1) < PICKLER_STACK_MARGIN_MAX;
}

#endif
