"""A missing YAHPO data folder fails the benchmark tests in CI and skips them elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # four pytest subprocesses, ~3 s each

HERE = Path(__file__).resolve().parent


def _pytest(tmp_path, ci: str | None):
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["TUNER_BENCHDATA"] = str(tmp_path)  # an empty folder: no data there
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-o", "addopts=", "-q", "-p", "no:cacheprovider", "-rs",
         str(HERE / "test_bench_yahpo.py"), "-k", "budget_and_regret"],
        cwd=HERE.parents[1], env=env, capture_output=True, text=True, timeout=240)


@pytest.mark.parametrize("ci", ["true", "1"])
def test_missing_data_fails_in_ci(tmp_path, ci):
    proc = _pytest(tmp_path, ci)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 error" in proc.stdout and "may not skip for missing YAHPO data" in proc.stdout
    assert f"YAHPO surrogate data not found at {tmp_path}" in proc.stdout


@pytest.mark.parametrize("ci", [None, "false"])
def test_missing_data_skips_elsewhere(tmp_path, ci):
    proc = _pytest(tmp_path, ci)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 skipped" in proc.stdout and "YAHPO data v1.0.2 not found" in proc.stdout
