"""In CI a benchmark test skipped for missing YAHPO data is a failure, not a skip.

The data-backed tests skip when ``yahpo.data_dir()`` raises ``DataMissing`` (a developer
without ``../shared/benchdata`` still gets a green run). CI has the data, so a skip there
means the CI setup lost it and the benchmark tests silently stopped running; with ``CI`` set
(GitHub Actions and most CI systems set ``CI=true``) such a skip is reported as a failure that
says where the data was looked for.
"""

from __future__ import annotations

import importlib
import os

import pytest

from benchmarks import yahpo


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_peer(module: str, hint: str):
    """Import an optional benchmark peer (the ``bench`` extra). Without it a developer's run
    skips; CI installs every peer (``.ci/run``), so there a missing one fails the test."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if in_ci():
            pytest.fail(f"CI must run the {module} peer (.ci/run installs it): {exc}")
        pytest.skip(f"{module} is in the optional 'bench' extra ({hint})")


def _data_skip(report: pytest.TestReport) -> bool:
    if not report.skipped:
        return False
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    return "yahpo data" in str(reason).lower()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if in_ci() and _data_skip(report):
        try:
            yahpo.data_dir()
            where = "the data folder exists, yet the test skipped for missing data"
        except yahpo.DataMissing as exc:
            where = str(exc)
        report.outcome = "failed"
        report.longrepr = (f"CI={os.environ['CI']}: a benchmark test may not skip for missing "
                           f"YAHPO data in CI. {where}")
    return report
