"""benchmarks.refine: the rows stage 2 is refined from, and the interval it reports."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from benchmarks.refine import stage_rows, t_interval


def test_stage_rows_reads_each_trial_at_the_highest_well_populated_level():
    task = SimpleNamespace(levels=[1, 3, 9])
    searcher = SimpleNamespace(configs={f"t{i:06d}": {"x": i} for i in range(10)})
    # trials 0-8 report at level 1, trials 0-3 go on to level 3; trial 9 never reports
    traj = SimpleNamespace(trial=list(range(9)) + [0, 1, 2, 3],
                           level=[1] * 9 + [3] * 4, value=[0.1] * 9 + [0.5] * 4)
    rows = stage_rows(task, searcher, traj, min_rows=4)
    assert sorted(c["x"] for c, _ in rows) == [0, 1, 2, 3] and {v for _, v in rows} == {0.5}
    rows = stage_rows(task, searcher, traj, min_rows=5)
    assert len(rows) == 9 and {v for c, v in rows if c["x"] < 4} == {0.5}


def test_t_interval():
    mean, half = t_interval([1.0, 2.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(2.4841, abs=1e-4)  # t(0.975, 2) · 1 / √3
