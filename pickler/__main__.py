"""``python -m pickler FILE ...``: print what pickle files contain.

The command line of ``python -m pickle``, loading with pickler's compiled
Unpickler: each file's first pickle is loaded and pretty-printed with
``pprint``; ``-`` reads standard input.  With no file it prints its help.
(``python -m pickle -t`` runs the stdlib module's doctests; pickler has no
such self-test option: its tests are in ``tests/``.)
"""
import argparse
import pprint
import sys

from . import load


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m pickler",
        description="display contents of the pickle files")
    parser.add_argument("pickle_file", nargs="*", help="the pickle file")
    args = parser.parse_args(argv)
    if not args.pickle_file:
        parser.print_help()
        return 0
    for name in args.pickle_file:
        if name == "-":
            obj = load(sys.stdin.buffer)
        else:
            with open(name, "rb") as f:
                obj = load(f)
        pprint.pprint(obj)
    return 0


if __name__ == "__main__":
    sys.exit(main())
