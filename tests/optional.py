"""Optional packages of the suite: without one a developer's run skips, in CI it fails.

A test that needs a package outside the core dependencies (an extra of pyproject.toml: the
``bench`` peers, or ``lightning`` / ``optuna-dashboard`` of ``test``) calls ``require``. A
fresh machine without that extra then gets a skip that says how to install it; CI (``CI`` set,
as GitHub Actions and most CI systems do) installs every extra (``.ci/run``), so there a
missing package means the setup lost it, and the test fails instead of silently not running.
"""

from __future__ import annotations

import importlib
import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require(module: str, why: str):
    """Import ``module``; without it skip (``why``: which extra, how to install) or, in CI, fail."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if in_ci():
            pytest.fail(f"CI must run the tests that need {module} (.ci/run installs it; "
                        f"{why}): {exc}")
        pytest.skip(f"{module} missing: {why}")
