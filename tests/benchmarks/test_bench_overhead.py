"""The overhead benchmark's figures: medians per variant and N, and the marginal cost per
trial from two trial counts (fixed start-up costs cancel)."""

from __future__ import annotations

import pytest

from benchmarks.overhead import format_tables, summarise


def _row(variant, n, tune_s, reports=100, init_s=4.0):
    return {"variant": variant, "n": n, "tune_s": tune_s, "init_s": init_s,
            "process_s": tune_s + init_s + 3, "reports": reports, "trials": n}


ROWS = [
    # tuner-launch: 2 s of fixed cost + 0.05 s per trial; one noisy repeat at N=40
    _row("tuner-launch", 40, 4.0), _row("tuner-launch", 40, 9.0), _row("tuner-launch", 40, 4.0),
    _row("tuner-launch", 80, 6.0), _row("tuner-launch", 80, 6.0), _row("tuner-launch", 80, 6.1),
    _row("ray-defaults", 40, 61.0, 400), _row("ray-defaults", 80, 121.0, 800),
]


def test_medians_per_variant_and_size_and_marginal_cost_per_trial():
    summary, marginal = summarise(ROWS)
    by = {(s["variant"], s["n"]): s for s in summary}
    assert by["tuner-launch", 40]["tune_s"] == 4.0  # the noisy 9 s run is outvoted
    assert by["tuner-launch", 40]["runs"] == 3
    assert by["tuner-launch", 80]["per_trial_s"] == pytest.approx(6.0 / 80)
    assert by["ray-defaults", 40]["per_report_s"] == pytest.approx(61.0 / 400)
    assert marginal["tuner-launch"] == pytest.approx(0.05)
    assert marginal["ray-defaults"] == pytest.approx(1.5)


def test_tables_put_the_ratios_side_by_side():
    tables = format_tables(ROWS)
    # per trial at N=40: 0.1 s vs 1.525 s; marginal: 0.05 s vs 1.5 s
    assert "| tuner-launch | 40 | 3 | 11.0 | 4.00 | 4.00 | 100 | 0.100 | 40.0 | 1/15.2 | – |" \
        in tables
    assert "| tuner-launch | 0.050 | 1/30.0 | – |" in tables
    assert "| ray-defaults | 1.500 | 1.0× | – |" in tables


def test_profile_runs_the_driver_under_cprofile_scripts_as_files(tmp_path):
    from benchmarks.overhead import _profiled

    assert _profiled(["py", "-m", "tuner", "launch", "x.yaml"], tmp_path, None, "t") == \
        ["py", "-m", "tuner", "launch", "x.yaml"]
    out = tmp_path / "prof"
    assert _profiled(["py", "-m", "tuner", "launch", "x.yaml"], tmp_path, out, "t") == \
        ["py", "-m", "cProfile", "-o", str(out / "t.prof"), "-m", "tuner", "launch", "x.yaml"]
    cmd = _profiled(["py", "-c", "print(1)", "a", "b"], tmp_path, out, "ray-reuse-40-0")
    script = tmp_path / "ray-reuse-40-0.py"
    assert cmd == ["py", "-m", "cProfile", "-o", str(out / "ray-reuse-40-0.prof"), str(script),
                   "a", "b"]
    assert script.read_text() == "print(1)"
