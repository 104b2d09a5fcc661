"""pytest plugin (-p eco_plugin) for a library's own test-suite: writes the
outcome of every test, and the base-class check, as JSON to the file named
by PICKLER_ECO_REPORT when the session ends."""
import json
import os

_failed = set()
_passed = set()
_skipped = set()


def pytest_runtest_logreport(report):
    if report.failed:
        _failed.add(report.nodeid)
    elif report.skipped and report.when in ("setup", "call"):
        _skipped.add(report.nodeid)
    elif report.passed and report.when == "call":
        _passed.add(report.nodeid)


def pytest_collectreport(report):
    if report.failed:
        _failed.add("collect:" + report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    from eco_check import check_bases
    try:
        checked = check_bases()
        error = None
    except Exception as e:  # reported, and the test fails on it
        checked, error = [], f"{type(e).__name__}: {e}"
    with open(os.environ["PICKLER_ECO_REPORT"], "w") as f:
        json.dump({"passed": sorted(_passed - _failed),
                   "failed": sorted(_failed),
                   "skipped": sorted(_skipped - _failed - _passed),
                   "checked": checked, "check_error": error}, f)
