"""Build the compiled modules of pickler.

Every ``pickler/*.pyx`` becomes its own extension module (a module may be
assembled from several ``.pxi`` files with Cython's ``include``);
declarations shared between them live in the matching ``.pxd`` files and C
helpers in ``pickler/*.h``.  ``PICKLER_DEBUG=1`` builds
with line tracing and annotated HTML (never benchmark such a build).
``PICKLER_SANITIZE=address,undefined`` builds with gcc's sanitizers, as
``.ci/sanitize`` does (the interpreter must then preload their runtimes:
see that script).
"""
import glob
import os

from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("PICKLER_DEBUG") == "1"
SANITIZE = os.environ.get("PICKLER_SANITIZE", "")

directives = {
    "language_level": 3,
    "binding": True,
    "embedsignature": True,
    "auto_pickle": False,
    "boundscheck": False,
    "wraparound": False,
    "initializedcheck": False,
    "cdivision": True,
}
macros = []
if DEBUG:
    directives["linetrace"] = True
    macros += [("CYTHON_TRACE", "1"), ("CYTHON_TRACE_NOGIL", "1")]

compile_args = ["-O3"] if not DEBUG else ["-O0", "-g"]
link_args = []
if SANITIZE:
    # -O1 keeps the reports' stacks readable; frame pointers for the same.
    compile_args = ["-O1", "-g", "-fno-omit-frame-pointer",
                    "-fsanitize=" + SANITIZE]
    link_args = ["-fsanitize=" + SANITIZE]

# The compiled modules the package cannot work without; any further
# pickler/*.pyx is built too.  A source distribution or checkout that lacks
# one of them must fail here, loudly, instead of building a wheel that
# installs and then fails at ``import pickler``.
REQUIRED = ("_buffer", "_framer", "_imports", "_memo", "_pickler", "_unpickler",
            "_deterministic", "_safe")
sources = sorted(glob.glob(os.path.join("pickler", "*.pyx")))
found = {os.path.splitext(os.path.basename(path))[0] for path in sources}
missing = [name for name in REQUIRED if name not in found]
if missing:
    raise SystemExit(
        "pickler: missing Cython sources {} in {}: the source tree or sdist "
        "is incomplete (see MANIFEST.in)".format(
            ", ".join(f"pickler/{name}.pyx" for name in missing),
            os.path.abspath("pickler")))

extensions = [
    Extension(
        "pickler." + os.path.splitext(os.path.basename(path))[0],
        [path],
        include_dirs=["pickler"],   # the C headers next to the sources
        define_macros=macros,
        extra_compile_args=compile_args,
        extra_link_args=link_args,
    )
    for path in sources
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives=directives,
        annotate=DEBUG,
    ),
)
