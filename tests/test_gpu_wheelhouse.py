"""scripts/gpu_wheelhouse.py without the registry: wheels dealt into capped folders (big
ones in parts) and the check that every run-time requirement is carried or already there."""
from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("gpu_wheelhouse",
                                               ROOT / "scripts" / "gpu_wheelhouse.py")
wh = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(wh)


def test_big_wheels_are_cut_and_no_folder_exceeds_its_cap(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "big-1.0-py3-none-any.whl").write_bytes(b"x" * (5 * wh.MIB // 2))
    (cache / "small-1.0-py3-none-any.whl").write_bytes(b"y" * 1000)
    folders = wh.deal(cache, [tmp_path / "w1", tmp_path / "w2"], part_mib=1, folder_mib=2)
    names = sorted(p.name for f in folders for p in f.iterdir())
    assert names == ["big-1.0-py3-none-any.whl.part-aa", "big-1.0-py3-none-any.whl.part-ab",
                     "big-1.0-py3-none-any.whl.part-ac", "small-1.0-py3-none-any.whl"]
    for folder in folders:
        assert sum(p.stat().st_size for p in folder.iterdir()) <= 2 * wh.MIB


def test_missing_counts_run_time_requirements_and_ray_tune_only():
    wheels = {"ray": ["click>=7.0", "jsonschema", 'pydantic<3; extra == "tune"',
                      'fastapi; extra == "serve"', 'colorama; sys_platform == "win32"'],
              "optuna": ["alembic>=1.5.0", "sqlalchemy>=1.4.2"], "jsonschema": []}
    assert wh.missing(wheels) == ['ray → pydantic<3; extra == "tune"',
                                  "optuna → alembic>=1.5.0", "optuna → sqlalchemy>=1.4.2"]
