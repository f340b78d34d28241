"""scripts/gpu_check.sh, as far as a machine without a GPU can run it: the plan it prints,
the wheelhouse it joins back from parts, and the one-line refusal that keeps CPU figures from
being filed as GPU ones."""
from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu_check.sh"


def _run(*args: str, tmp_path: Path, out: bool = True) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "PYTHON": sys.executable}
    extra = ["--out", str(tmp_path / "gpu")] if out else []
    return subprocess.run(["bash", str(SCRIPT), *args, *extra], cwd=ROOT, capture_output=True,
                          text=True, env=env, timeout=120)


def test_dry_run_shows_every_step_and_runs_nothing(tmp_path):
    done = _run("--dry-run", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    for step, command in (
            ("gpu-tests", "-m pytest -p no:cacheprovider -m gpu -rs"),
            ("packing", "-m benchmarks.packing --device cuda --ks 8,16,32"),
            ("ray-trials", "-m benchmarks.gpu_ray --device cuda --trials 32"),
            ("data-parallel", "-m benchmarks.data_parallel --device cuda --workers 2 "
                              "--gpus-per-worker 0.5")):
        assert f"\n{step} (at most " in done.stdout and command in done.stdout, done.stdout
    assert f"--out {tmp_path / 'gpu'}/ray-trials" in done.stdout
    assert not (tmp_path / "gpu").exists()


def test_the_steps_and_the_install_fit_in_eight_minutes(tmp_path):
    done = _run("--dry-run", tmp_path=tmp_path)
    limits = [int(s) for s in re.findall(r"\(at most (\d+) s\)", done.stdout)]
    assert len(limits) == 6 and sum(limits) <= 480, limits  # install + five steps


def test_dry_run_shows_the_wheelhouse_install_and_pythonpath(tmp_path):
    for name in ("w1", "w2"):
        (tmp_path / name).mkdir()
    done = _run("--dry-run", "--wheelhouse", f"{tmp_path / 'w1'}:{tmp_path / 'w2'}",
                tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"assemble /tmp/tuner-wheels from {tmp_path / 'w1'}:{tmp_path / 'w2'}" in done.stdout
    assert "pip install -q --no-index --no-deps" in done.stdout
    assert "--target /tmp/tuner-site" in done.stdout
    assert f"PYTHONPATH={ROOT}" in done.stdout


def _wheel(path: Path, size: int) -> bytes:
    with zipfile.ZipFile(path, "w") as zf:  # stored, so the parts are large enough to split
        zf.writestr("pkg/__init__.py", bytes(range(256)) * (size // 256))
        zf.writestr("pkg-1.0.dist-info/METADATA", "Name: pkg\nVersion: 1.0\n")
    return path.read_bytes()


def _wheelhouse(tmp_path: Path) -> tuple[Path, Path, dict[str, bytes]]:
    """A whole wheel in one folder, a wheel cut in three parts spread over two folders."""
    one, two, src = tmp_path / "whl1", tmp_path / "whl2", tmp_path / "src"
    for d in (one, two, src):
        d.mkdir()
    small = _wheel(one / "small-1.0-py3-none-any.whl", 1000)
    big = _wheel(src / "big-2.0-cp312-cp312-manylinux2014_x86_64.whl", 30000)
    third = len(big) // 3 + 1
    for i, (suffix, folder) in enumerate((("aa", two), ("ab", one), ("ac", two))):
        (folder / f"big-2.0-cp312-cp312-manylinux2014_x86_64.whl.part-{suffix}").write_bytes(
            big[i * third:(i + 1) * third])
    return one, two, {"small-1.0-py3-none-any.whl": small,
                      "big-2.0-cp312-cp312-manylinux2014_x86_64.whl": big}


def test_assemble_joins_parts_across_folders_in_suffix_order(tmp_path):
    one, two, wheels = _wheelhouse(tmp_path)
    dest = tmp_path / "joined"
    done = _run("--assemble", str(dest), "--wheelhouse", f"{one}:{two}", tmp_path=tmp_path,
                out=False)
    assert done.returncode == 0, done.stderr
    assert "assembled 2 wheels" in done.stdout
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == wheels


def test_assemble_names_a_wheel_with_a_part_missing(tmp_path):
    one, two, _ = _wheelhouse(tmp_path)
    done = _run("--assemble", str(tmp_path / "joined"), "--wheelhouse", str(one),
                tmp_path=tmp_path, out=False)  # the parts in `two` are not given
    assert done.returncode != 0
    assert "big-2.0-cp312-cp312-manylinux2014_x86_64.whl does not join" in done.stderr


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
