"""Several objectives through the simulated-time harness: runs, regret, resume, summary."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from benchmarks import mo_compare, mo_peers, mo_reference, mo_yahpo, simulator, yahpo
from tests.benchmarks.conftest import require_method

try:
    yahpo.data_dir()
    HAVE_DATA = True
except yahpo.DataMissing:  # pragma: no cover - CI has the data
    HAVE_DATA = False

pytestmark = pytest.mark.skipif(not HAVE_DATA, reason="YAHPO data v1.0.2 not found at "
                                "../shared/benchdata or $TUNER_BENCHDATA")


def _losses(points: list[dict], k: int) -> np.ndarray:
    return np.array([[float(p[f"loss{i}"]) for i in range(k)] for p in points])


def test_a_tiny_run_gains_hypervolume_over_time():
    """iaml_glmnet/1489 (mmce + nf), 30 % of the budget: MO-ASHA's regret falls step by step
    and ends below where random search's first full-fidelity point put it."""
    runs = {m: mo_compare.run_one("iaml_glmnet/1489", m, 0, 4, 0.3) for m in ("random", "asha")}
    mob = mo_yahpo.load("iaml_glmnet/1489")
    found = np.vstack([_losses(points, 2) for _, points in runs.values()])
    ref = mo_reference.Reference.of(mo_reference.sample(mob, size=2000, cache=False), found)
    steps = {m: mo_reference.regret_steps(_losses(points, 2), ref)
             for m, (_, points) in runs.items()}
    for m, r in steps.items():
        assert len(r) >= 2, m
        assert np.all(np.diff(r) <= 1e-12) and 0 <= r[-1] <= r[0] <= 1, (m, r)
    assert steps["asha"][-1] < steps["random"][0]
    row = runs["asha"][0]
    assert row["results"] > row["full_fidelity"] > 0  # it judged trials at lower rungs
    clocks = [p["clock"] for p in runs["asha"][1]]
    assert clocks == sorted(clocks)


def test_results_carry_every_objective():
    """The simulator reports each objective under its name: what MO-ASHA ranks."""
    mob = mo_yahpo.load("rbv2_xgboost/12")
    setup = mo_peers.build("asha", mob, seed=1, workers=2)
    seen = []
    decide = setup.scheduler.on_trial_result

    def spy(controller, trial, result):
        seen.append(result)
        return decide(controller, trial, result)

    setup.scheduler.on_trial_result = spy
    simulator.simulate(setup.task, setup.searcher, setup.scheduler, workers=2, budget=3,
                       **setup.wiring)
    assert seen and all({"acc", "timetrain", "timepredict"} <= set(r) for r in seen)
    assert type(setup.scheduler).__name__ == "ParetoASHA"


@pytest.mark.parametrize("method", mo_peers.METHODS)
def test_every_method_runs_and_is_deterministic(method):
    require_method(method)  # syne-*: the optional 'bench' extra (skip here, fail in CI)
    a = mo_compare.run_one("rbv2_rpart/14", method, 2, 4, 0.05)
    b = mo_compare.run_one("rbv2_rpart/14", method, 2, 4, 0.05)
    assert a[1] == b[1] and a[0]["trials"] == b[0]["trials"] >= 4


def test_the_command_resumes_and_summarises(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(mo_reference, "CACHE", tmp_path / "reference")
    out = tmp_path / "mo"
    argv = ["--instances", "iaml_glmnet/1489", "--methods", "random,asha", "--seeds", "2",
            "--budget-scale", "0.1", "--out", str(out)]
    assert mo_compare.main(argv) == 0
    assert mo_compare.main(argv) == 0  # every row there already: nothing runs again
    with open(out / "runs.csv") as f:
        assert len(list(csv.DictReader(f))) == 4
    assert (tmp_path / "reference" / "iaml_glmnet-1489.json").exists()
    assert mo_compare.main(["--summary", str(out)]) == 0
    table = capsys.readouterr().out
    assert "| asha |" in table and "| random |" in table and "speed-up vs random" in table
    assert "- asha: best hypervolume — 25 %:" in table
    assert "python -m benchmarks.mo_compare --instances iaml_glmnet/1489" in \
        (out / "README.md").read_text()

