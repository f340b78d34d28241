"""benchmarks.gpu_ray on CPU: every variant runs the same trials through `tuner.run` and the
figures say they are CPU figures (the GPU ones come from scripts/gpu_check.sh)."""
from __future__ import annotations

import json

import pytest

from benchmarks import gpu_ray

pytestmark = [pytest.mark.ray]


def test_variants_ask_for_one_four_and_packs_per_unit():
    gpu = {label: (res, pack) for label, res, pack in gpu_ray.variants("cuda", [8, 32])}
    assert gpu["one-per-gpu"] == ({"cpus": 1, "gpus": 1}, None)
    assert gpu["four-per-gpu"] == ({"cpus": 1, "gpus": 0.25}, None)
    assert gpu["packed-32"] == ({"cpus": 1, "gpus": 1}, {"members": 32})
    cpu = {label: res for label, res, _ in gpu_ray.variants("cpu", [8])}
    assert cpu["four-per-gpu"] == {"cpus": 0.25, "gpus": 0}


def test_goals_need_both_ratios_at_k_8_and_up():
    rows = [{"variant": "four-per-gpu", "members": 1, "trials_per_hour": 200.0},
            {"variant": "packed-4", "members": 4, "trials_per_hour": 1000.0},
            {"variant": "packed-8", "members": 8, "trials_per_hour": 400.0},
            {"variant": "one-per-gpu", "members": 1, "trials_per_hour": 100.0}]
    gpu_ray.add_ratios(rows)
    lines = gpu_ray.goals(rows)
    assert len(lines) == 1 and "packed-8: 4.00× vs one per GPU" in lines[0]
    assert "2.00× vs four per GPU" in lines[0] and lines[0].endswith(": met")


def test_cpu_smoke_writes_cpu_figures(ray_session, tmp_path):
    out = tmp_path / "ray-trials"
    assert gpu_ray.main(["--device", "cpu", "--trials", "2", "--epochs", "1", "--ks", "2",
                         "--out", str(out)]) == 0
    report = json.loads((out / "results.json").read_text())
    rows = {r["variant"]: r for r in report["rows"]}
    assert set(rows) == {"one-per-gpu", "four-per-gpu", "packed-2"}
    for row in rows.values():
        assert row["trials"] == row["trials_done"] == 2 and row["epochs_trained"] == 2
        assert row["wall_s"] > 0 and row["trainer_s"] > 0
    assert rows["one-per-gpu"]["vs_one_per_gpu"] == 1.0
    assert "CPU figures" in (out / "results.md").read_text()
