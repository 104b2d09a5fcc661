/* The CPython version flags of _protocol.pxd.  Each compiled module is built
   for one interpreter version, so these are compile-time constants and a
   branch on them costs nothing. */
#ifndef PICKLER_PROTOCOL_H
#define PICKLER_PROTOCOL_H
#include <Python.h>

#define PICKLER_PY311 (PY_VERSION_HEX >= 0x030B0000)
#define PICKLER_PY312 (PY_VERSION_HEX >= 0x030C0000)
#define PICKLER_PY313 (PY_VERSION_HEX >= 0x030D0000)

#endif
