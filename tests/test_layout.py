"""The source layout's rules (docs/design.md, "Source layout"), checked on
the Cython sources next to this test-suite:

* C code lives in headers, not in string literals (`cdef extern from *`);
* protocol knowledge is written once: no opcode enum outside _protocol.pxd;
* every `.pxi` is included by exactly one `.pyx`, and every header it names
  exists;
* every source file starts by saying what it holds.
"""
import pathlib
import re

import pytest

SOURCES = pathlib.Path(__file__).resolve().parent.parent / "pickler"
CYTHON = sorted(SOURCES.glob("*.pyx")) + sorted(SOURCES.glob("*.pxd")) + sorted(
    SOURCES.glob("*.pxi"))

pytestmark = pytest.mark.skipif(
    not (SOURCES / "_pickler.pyx").exists(),
    reason="the Cython sources are not next to the tests (an installed copy)")


@pytest.mark.parametrize("path", CYTHON, ids=lambda p: p.name)
def test_no_c_in_string_literals(path):
    assert "extern from *" not in path.read_text(), path.name


@pytest.mark.parametrize("path", CYTHON, ids=lambda p: p.name)
def test_opcodes_only_in_the_protocol_layer(path):
    if path.name == "_protocol.pxd":
        return
    # An opcode defined as a constant: NAME = 0x.. in an enum or assignment.
    defined = re.findall(r"^\s*[A-Z_]*(?:MARK|STOP|PROTO|FRAME|BININT\w*|MEMOIZE)\s*=\s*0x",
                         path.read_text(), re.MULTILINE)
    assert defined == [], (path.name, defined)


def test_every_pxi_is_included_once():
    included = {}
    for pyx in SOURCES.glob("*.pyx"):
        for name in re.findall(r'^include "([^"]+)"', pyx.read_text(), re.MULTILINE):
            included.setdefault(name, []).append(pyx.name)
    for pxi in SOURCES.glob("*.pxi"):
        assert len(included.get(pxi.name, [])) == 1, (pxi.name, included.get(pxi.name))
    assert set(included) <= {p.name for p in SOURCES.glob("*.pxi")}


def test_every_named_header_exists():
    for path in CYTHON:
        for header in re.findall(r'extern from "([^"]+\.h)"', path.read_text()):
            if header != "Python.h":
                assert (SOURCES / header).exists(), (path.name, header)


@pytest.mark.parametrize(
    "path", CYTHON + sorted(SOURCES.glob("*.h")), ids=lambda p: p.name)
def test_each_file_says_what_it_holds(path):
    lines = [line for line in path.read_text().splitlines()
             if line.strip() and not line.startswith("# cython:")]
    first = lines[0].lstrip()
    assert first.startswith(('"""', "#", "/*")), (path.name, first)
