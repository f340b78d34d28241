"""In CI a benchmark test skipped for missing YAHPO data is a failure, not a skip.

The data-backed tests skip when ``yahpo.data_dir()`` raises ``DataMissing`` (a developer
without ``../shared/benchdata`` still gets a green run). CI has the data, so a skip there
means the CI setup lost it and the benchmark tests silently stopped running; with ``CI`` set
(GitHub Actions and most CI systems set ``CI=true``) such a skip is reported as a failure that
says where the data was looked for.
"""

from __future__ import annotations

import os

import pytest

from benchmarks import yahpo
from tests.optional import in_ci, require


PEER_HINTS = {
    "syne_tune": "pip install --no-deps syne-tune==0.16.0, see docs/benchmarks.md",
    "xgboost": 'pip install "xgboost-cpu>=3.2" (Syne Tune\'s BORE), see docs/benchmarks.md',
    "dehb": "pip install --no-deps dehb==0.1.2, see docs/benchmarks.md",
    "smac": "pip install smac",
}


def method_peers(method: str) -> tuple[str, ...]:
    """The optional modules that building and running ``benchmarks.peers`` method ``method``
    imports: Syne Tune's ``syne-*`` (BORE's also xgboost), SMAC's ``smac-*``, DEHB. (By name:
    importing ``benchmarks.syne_peers`` here would import Ray into every conftest load.)"""
    if method.startswith("syne-"):
        return ("syne_tune", "xgboost") if "bore" in method else ("syne_tune",)
    if method.startswith("smac-"):
        return ("smac",)
    return ("dehb",) if method == "dehb" else ()


def require_peer(module: str, hint: str | None = None):
    """Import an optional benchmark peer (the ``bench`` extra). Without it a developer's run
    skips; CI installs every peer (``.ci/run``), so there a missing one fails the test."""
    return require(module, f"the optional 'bench' extra: {hint or PEER_HINTS[module]}")


def require_method(method: str) -> None:
    """``require_peer`` for every optional module that method ``method`` needs (none for ours,
    Ray's, Optuna's and random)."""
    for module in method_peers(method):
        require_peer(module)


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
