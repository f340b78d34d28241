"""tuner plan: HyperBand's paper brackets and ASHA's expected rung counts as plain data."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from search_spaces import Float, SearchSpace
from tuner.budget import BudgetLadder
from tuner.cli import main
from tuner.schedulers.plan import format_plan, plan
from tuner.schedulers import SchedulerError

DEMO = Path(__file__).resolve().parents[2] / "examples" / "digits_mlp.yaml"


def test_hyperband_plan_is_table_1():
    p = plan(BudgetLadder(1, 81, 3), "hyperband")
    assert [b["s"] for b in p["brackets"]] == [4, 3, 2, 1, 0]
    assert [(r["n"], r["r"]) for r in p["brackets"][0]["rungs"]] == \
        [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)]
    assert [(r["n"], r["r"]) for r in p["brackets"][1]["rungs"]] == \
        [(34, 3), (11, 9), (3, 27), (1, 81)]
    assert p["brackets"][0]["budget_from_scratch"] == 405
    assert p["brackets"][0]["budget"] == 81 * 1 + 27 * 2 + 9 * 6 + 3 * 18 + 1 * 54
    assert p["trials_per_band"] == 143 and p["budget"] == p["budget_per_band"] == 1581
    json.dumps(p)  # plain data


def test_asha_plan_expected_counts_and_fractions():
    p = plan(BudgetLadder(1, 27, 3, data_fraction=(0.25, 0.5, 1.0)), "asha", num_samples=81)
    (b,) = p["brackets"]
    assert b["rungs"] == [{"n": 81, "r": 1, "data_fraction": 0.25},
                          {"n": 27, "r": 3, "data_fraction": 0.5},
                          {"n": 9, "r": 9, "data_fraction": 1.0},
                          {"n": 3, "r": 27, "data_fraction": 1.0}]
    assert p["budget"] == 81 + 27 * 2 + 9 * 6 + 3 * 18


def test_asha_brackets_split_trials_like_the_scheduler():
    p = plan(BudgetLadder(1, 9, 3), "asha", num_samples=100, brackets=2)
    first, second = p["brackets"]
    assert first["rungs"][0]["r"] == 1 and second["rungs"][0]["r"] == 3
    assert first["rungs"][0]["n"] + second["rungs"][0]["n"] == pytest.approx(100, abs=0.02)


def test_fifo_plan_and_text():
    p = plan(BudgetLadder(1, 9, 3), "fifo", num_samples=10)
    assert p["brackets"] == [{"s": 0, "rungs": [{"n": 10, "r": 9, "data_fraction": 1.0}],
                              "budget": 90, "budget_from_scratch": 90}]
    text = format_plan(plan(BudgetLadder(1, 81, 3), "hyperband"))
    assert "bracket s=4: 81@1  27@3  9@9  3@27  1@81" in text and "total: 1581 epochs" in text


def test_unknown_scheduler():
    with pytest.raises(SchedulerError, match="one of fifo"):
        plan(BudgetLadder(), "nope")


# The plan is built from the scheduler's own options (issue 16, bug 3) ----------------------
def test_asha_plan_reads_brackets_off_the_scheduler():
    p = plan(BudgetLadder(1, 27, 3), "asha", num_samples=24, brackets=3)
    assert [b["rungs"][0]["r"] for b in p["brackets"]] == [1, 3, 9]
    assert sum(b["rungs"][0]["n"] for b in p["brackets"]) == pytest.approx(24, abs=0.03)
    assert p["options"] == {"brackets": 3}


def test_plan_rejects_options_as_the_scheduler_does():
    with pytest.raises(SchedulerError, match="unknown option 'grace'.*brackets"):
        plan(BudgetLadder(1, 27, 3), "asha", grace=3)
    with pytest.raises(SchedulerError, match="brackets: at most 4"):
        plan(BudgetLadder(1, 27, 3), "asha", brackets=5)
    with pytest.raises(SchedulerError, match="unknown option 'interval'"):
        plan(BudgetLadder(1, 27, 3), "pbt", interval=2)  # no space: still checked by name


def test_pbt_and_median_plans_show_their_options():
    space = SearchSpace({"x": Float(0.0, 1.0)})
    p = plan(BudgetLadder(1, 27, 3), "pbt", 4, space=space, perturbation_interval=5)
    assert p["perturbation_interval"] == 5
    assert "perturbation interval: 5 epochs" in format_plan(p)
    p = plan(BudgetLadder(1, 27, 3), "median", 4, grace_period=9)
    assert "from 9 on" in p["note"]


def _asha_file(tmp_path, brackets):
    text = Path(DEMO).read_text().replace("scheduler: asha ",
                                          f"scheduler: {{name: asha, brackets: {brackets}}} ")
    assert f"brackets: {brackets}" in text
    path = tmp_path / "e.yaml"
    path.write_text(text)
    return str(path)


def _bracket_lines(text):
    return [line.split(":", 1)[1].split("[")[0].split()
            for line in text.splitlines() if line.lstrip().startswith("bracket s=")]


def test_tuner_plan_file_shows_the_files_brackets(tmp_path, capsys):
    assert main(["plan", _asha_file(tmp_path, 3)]) == 0
    out = capsys.readouterr().out
    assert _bracket_lines(out) == [["~16@1", "~5@3", "~2@9", "<1@27"],
                                   ["~6@3", "~2@9", "<1@27"], ["~2@9", "<1@27"]]
    assert main(["plan", _asha_file(tmp_path, 5)]) == 2  # what launch would refuse
    assert "scheduler.brackets: at most 4" in capsys.readouterr().err


def test_dry_run_shows_the_files_brackets(tmp_path, capsys):
    assert main(["launch", _asha_file(tmp_path, 2), "--dry-run",
                 "--storage", str(tmp_path / "r")]) == 0
    assert [cells[0] for cells in _bracket_lines(capsys.readouterr().out)] == ["~18@1", "~6@3"]


def test_plan_text_prints_whole_counts_and_says_which_are_expected():
    text = format_plan(plan(BudgetLadder(1, 27, 3), "asha", num_samples=24))
    assert re.search(r"\d\.\d+@", text) is None, text  # was "2.67@9"
    assert "24@1  8@3  ~3@9  <1@27   [~72 epochs]" in text
    assert "expected count" in text
    exact = format_plan(plan(BudgetLadder(1, 27, 3), "asha", num_samples=27))
    assert "27@1  9@3  3@9  1@27" in exact and "expected" not in exact


def test_hyperband_part_of_a_band_says_how_its_total_is_scaled():
    text = format_plan(plan(BudgetLadder(1, 27, 3), "hyperband", num_samples=30))
    assert "total: ~219 epochs" in text and "one band's epochs × trials / trials per band" in text
    assert "expected count" not in text  # its bracket counts are the paper's, exact
