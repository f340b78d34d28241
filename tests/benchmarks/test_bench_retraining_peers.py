"""DEHB and SMAC3 (the ``bench`` extra) in the harness: jobs at their fidelities, told back,
compared with random search in a tiny comparison."""

from __future__ import annotations

import csv

import pytest

from benchmarks import compare, peers, simulator, synthetic, yahpo
from tests.benchmarks.conftest import require_method


def _data():
    try:
        yahpo.data_dir()
    except yahpo.DataMissing:  # pragma: no cover - CI has the data
        pytest.skip("YAHPO data v1.0.2 not found")


def test_dehb_jobs_start_at_their_data_fraction_and_are_told_back():
    require_method("dehb")  # the optional 'bench' extra: skip here, fail in CI
    bench = synthetic.MisleadingFidelity()
    setup = peers.build("dehb", bench, seed=0, workers=2)
    told = []
    real_tell = setup.searcher.opt.tell
    setup.searcher.opt.tell = lambda job, loss, cost: (told.append(cost),
                                                       real_tell(job, loss, cost))
    traj = simulator.simulate(setup.task, setup.searcher, setup.scheduler, workers=2,
                              budget=20, **setup.wiring)
    assert set(traj.level) <= {1, 3, 9, 27} and len(set(traj.level)) > 1
    assert len(traj.trial) == len(set(traj.trial))  # one fresh fit per job, never continued
    assert len(told) >= len(traj.trial) - 2  # all but the jobs in flight at the end
    assert sum(told) <= traj.spent[-1] + 1e-9


def test_dehb_retrains_epochs_from_scratch_to_its_fidelity():
    require_method("dehb")  # the optional 'bench' extra: skip here, fail in CI
    bench = synthetic.SyntheticCurves()
    setup = peers.build("dehb", bench, seed=0, workers=1)
    traj = simulator.simulate(setup.task, setup.searcher, setup.scheduler, workers=1,
                              budget=300, **setup.wiring)
    last = {}
    for t, lv in zip(traj.trial, traj.level):
        assert lv == last.get(t, 0) + 1  # every trial trains epoch by epoch from epoch 1
        last[t] = lv
    assert set(last.values()) <= {3, 9, 27} | {max(last.values())}


def test_tiny_comparison_with_dehb(tmp_path):
    require_method("dehb")  # the optional 'bench' extra: skip here, fail in CI
    _data()
    out = tmp_path / "dehb"
    argv = ["--instances", "rbv2_rpart/14", "--methods", "random,dehb", "--seeds", "2",
            "--workers", "2", "--budget-scale", "0.2", "--out", str(out)]
    assert compare.main(argv) == 0
    with open(out / "runs.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["method"] for r in rows} == {"random", "dehb"} and len(rows) == 4
    assert "| dehb |" in (out / "table.md").read_text()


@pytest.mark.slow
def test_tiny_comparison_with_smac(tmp_path):
    """SMAC's multi-fidelity and full-fidelity facades (random-forest refits: seconds)."""
    require_method("smac-mf")  # smac only: this test runs without DEHB
    _data()
    out = tmp_path / "smac"
    argv = ["--instances", "rbv2_rpart/14", "--methods", "random,smac-mf,smac-bo", "--seeds",
            "1", "--workers", "2", "--budget-scale", "0.15", "--out", str(out)]
    assert compare.main(argv) == 0
    with open(out / "runs.csv") as f:
        rows = {r["method"]: r for r in csv.DictReader(f)}
    assert set(rows) == {"random", "smac-mf", "smac-bo"}
    assert int(rows["smac-mf"]["trials"]) > int(rows["smac-bo"]["trials"])  # low rungs: more
    assert float(rows["smac-bo"]["spent"]) >= 0.15 * 110
