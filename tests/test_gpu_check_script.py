"""scripts/gpu_check.sh, as far as a machine without a GPU can run it: the plan it prints,
and the one-line refusal that keeps CPU figures from being filed as GPU ones."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu_check.sh"


def _run(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "PYTHON": sys.executable}
    return subprocess.run(["bash", str(SCRIPT), *args, "--out", str(tmp_path / "gpu")],
                          cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)


def test_dry_run_shows_every_step_and_runs_nothing(tmp_path):
    done = _run("--dry-run", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    for step, command in (("gpu-tests", "-m pytest -p no:cacheprovider -m gpu -rs"),
                          ("packing", "-m benchmarks.packing --device cuda --ks 1,8,16,32")):
        assert f"\n{step} (at most " in done.stdout and command in done.stdout, done.stdout
    assert not (tmp_path / "gpu").exists()


def test_without_a_gpu_it_refuses_in_one_line(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a GPU is here: the script would run for real")
    done = _run(tmp_path=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "no CUDA GPU" in done.stderr
    assert not (tmp_path / "gpu").exists()


def test_an_unknown_argument_is_one_line(tmp_path):
    done = _run("--bogus", tmp_path=tmp_path)
    assert done.returncode == 2 and "unknown argument --bogus" in done.stderr
