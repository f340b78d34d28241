"""Peers build and run in the harness; a tiny comparison writes every output in seconds."""

from __future__ import annotations

import csv

import pytest

from benchmarks import compare, peers, simulator, yahpo
from tests.benchmarks.conftest import require_method

try:
    yahpo.data_dir()
    HAVE_DATA = True
except yahpo.DataMissing:  # pragma: no cover - CI has the data
    HAVE_DATA = False

pytestmark = pytest.mark.skipif(not HAVE_DATA, reason="YAHPO data v1.0.2 not found at "
                                "../shared/benchdata or $TUNER_BENCHDATA")


@pytest.mark.parametrize("method", [m for m in peers.ALL_METHODS
                                    if m != "bayesopt" and m not in peers.EXTRA_PEERS])
def test_every_method_runs_on_a_small_budget(method):
    require_method(method)  # syne-*: the optional 'bench' extra (skip here, fail in CI)
    bench = yahpo.load("rbv2_xgboost/12")  # conditional space, trainsize fidelity
    setup = peers.build(method, bench, seed=0, workers=4)
    traj = simulator.simulate(setup.task, setup.searcher, setup.scheduler, workers=4,
                              budget=8, **setup.wiring)
    assert traj.spent[-1] >= 8 and traj.num_trials >= 4
    assert 0 <= bench.regret(max(traj.value)) <= 1


def test_unknown_method_lists_the_names():
    with pytest.raises(KeyError, match="peers random"):
        peers.build("smac", yahpo.load("lcbench/167168"), seed=0, workers=1)


def test_run_one_is_deterministic():
    a = compare.run_one("lcbench/167168", "asha", 3, 4, 0.05)
    b = compare.run_one("lcbench/167168", "asha", 3, 4, 0.05)
    assert a[0]["regret_100"] == b[0]["regret_100"]
    assert list(a[1]["full"]) == list(b[1]["full"]) and list(a[1]["any"]) == list(b[1]["any"])


def test_tiny_comparison_writes_csv_png_table_and_command(tmp_path):
    out = tmp_path / "tiny"
    argv = ["--instances", "lcbench/167168,rbv2_rpart/14", "--methods", "random,asha",
            "--seeds", "2", "--workers", "2", "--budget-scale", "0.05", "--out", str(out)]
    assert compare.main(argv) == 0
    with open(out / "runs.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 2 * 2
    assert {"regret_25", "regret_50", "regret_100", "any_regret_100", "sim_seconds"} <= \
        set(rows[0])
    assert all(float(r["any_regret_100"]) <= float(r["regret_100"]) for r in rows)
    table = (out / "table.md").read_text()
    assert "| asha |" in table and "| random |" in table and "mean rank" in table
    assert "python -m benchmarks.compare --instances lcbench/167168,rbv2_rpart/14" in \
        (out / "README.md").read_text()
    assert (out / "regret.png").stat().st_size > 0


def test_bad_method_exits_2(tmp_path, capsys):
    assert compare.main(["--methods", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown method 'nope'" in capsys.readouterr().err
