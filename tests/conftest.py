"""pytest configuration for the pickler test-suite.

* Hypothesis profiles: ``ci`` (used when the CI environment variable is set),
  ``dev`` (default) and ``thorough``; pick one explicitly with
  ``HYPOTHESIS_PROFILE=name``.
* The report header names the ``pickler`` package actually imported, so a
  run that picked up the source tree instead of the installed package shows.
* The terminal summary prints how many objects and comparisons the
  differential tests made.
"""
import os

from hypothesis import HealthCheck, settings

_slow_ok = [HealthCheck.too_slow, HealthCheck.data_too_large,
            HealthCheck.filter_too_much]
settings.register_profile("dev", max_examples=100, deadline=None,
                          suppress_health_check=_slow_ok)
# CI: 2 cores and a 90-minute budget shared by four Python versions.
settings.register_profile("ci", max_examples=500, deadline=None,
                          database=None, print_blob=True,
                          suppress_health_check=_slow_ok)
settings.register_profile("thorough", max_examples=3000, deadline=None,
                          suppress_health_check=_slow_ok)
PROFILE = os.environ.get(
    "HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")
settings.load_profile(PROFILE)


def pytest_configure(config):
    # Hypothesis warns when the repr of a generated (possibly cyclic) object
    # graph is large; that is expected for these tests.
    config.addinivalue_line(
        "filterwarnings",
        "ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning")
    config.addinivalue_line(
        "markers",
        "ecosystem: runs a library's own test-suite stock and with pickler.Pickler "
        "as its Pickler's base (test_ecosystem.py; slow)")
    config.addinivalue_line(
        "markers",
        "cluster: starts dask.distributed processes (LocalCluster, dask worker; "
        "test_dask.py): deselect with -m 'not cluster' where processes cannot start")


def pytest_report_header(config):
    import _pickle

    import pickler
    lines = [f"pickler imported from: {os.path.dirname(pickler.__file__)}"]
    mod = getattr(pickler.Pickler, "__module__", "?")
    lines.append("pickler.Pickler is {}.{}{}".format(
        mod, pickler.Pickler.__qualname__,
        "  (SHIM: this is _pickle itself)" if pickler.Pickler is _pickle.Pickler
        else ""))
    lines.append(f"hypothesis profile: {PROFILE}")
    return lines


def pytest_terminal_summary(terminalreporter):
    import sys
    difftools = sys.modules.get("difftools")
    if difftools is None or not difftools.objects:
        return
    tr = terminalreporter
    tr.section("pickler differential cases")
    for kind in sorted(difftools.objects):
        tr.write_line(f"{kind!s:<12} {difftools.objects[kind]:7d} objects  "
                      f"{difftools.comparisons[kind]:8d} comparisons with _pickle")
    tr.write_line("{!s:<12} {:7d} objects  {:8d} comparisons with _pickle".format(
        "total", sum(difftools.objects.values()),
        sum(difftools.comparisons.values())))
