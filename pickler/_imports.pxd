# cython: language_level=3
"""Declarations of the import helper shared by the Pickler and the Unpickler
(see _imports.pyx)."""

# sys.modules[name] as PyImport_Import(name) would return it: through the
# running frame's __import__ when that is not the interpreter's own builtin
# or the module is not imported yet, else straight from sys.modules.
cdef object import_module(object name)
