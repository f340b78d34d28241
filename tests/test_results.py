"""Results files without Ray: best pick, CSV columns, atomic writes, report counts."""

from __future__ import annotations

import csv
import io
import os

import pytest

from tuner.budget import BudgetLadder
from tuner.record.results import (TrialRecord, pick_best, report_markdown, status_of, trials_csv,
                           write_atomic)

LADDER = BudgetLadder(min=1, max=9, eta=3)


def rec(tid, history, error=""):
    epochs = len(history)
    return TrialRecord(trial_id=tid, config={"lr": 0.1, "depth": 2}, history=history,
                       epochs=epochs, error=error, status=status_of(epochs, 9, error))


def test_best_is_judged_among_the_longest_trained():
    short_but_high = rec("a", [0.99])  # stopped at rung 0: a cheaper fidelity
    full = rec("b", [0.5] * 8 + [0.9])
    errored = rec("c", [0.95] * 9, error="non-finite loss")
    assert pick_best([short_but_high, full, errored], "max").trial_id == "b"
    assert pick_best([rec("d", [0.3] * 9), rec("e", [0.2] * 9)], "min").trial_id == "e"
    assert pick_best([errored], "max") is None


def test_statuses():
    assert status_of(9, 9, "") == "completed"
    assert status_of(3, 9, "") == "stopped early"
    assert status_of(2, 9, "non-finite loss") == "errored: non-finite loss"


def test_csv_has_every_parameter_and_outcome():
    rows = list(csv.DictReader(io.StringIO(trials_csv([rec("a", [0.5, 0.7, 0.6])],
                                                      ["lr", "depth"], "acc", "max"))))
    assert rows == [{"trial_id": "a", "lr": "0.1", "depth": "2", "status": "stopped early",
                     "epochs": "3", "last_acc": "0.6", "best_acc": "0.7", "best_epoch": "2",
                     "retries": "0", "node": ""}]


def test_report_counts_trials_per_rung():
    records = [rec("a", [0.5]), rec("b", [0.5] * 3), rec("c", [0.5] * 9)]
    text = report_markdown(name="x", description="", method="random + asha", trainable="mlp",
                           records=records, ladder=LADDER, metric="acc", mode="max",
                           best=records[2], test={"test_accuracy": 0.9}, params=["lr"],
                           wall_seconds=1.0)
    assert "| 0 | 1 | 1 | 3 |" in text and "| 1 | 3 | 1 | 2 |" in text
    assert "| 2 | 9 | 1 | 1 |" in text and "test accuracy (held-out split) | 0.9 |" in text


def test_write_atomic_never_leaves_a_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "best.json"
    write_atomic(str(target), "old")

    def boom(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError):
        write_atomic(str(target), "new and longer")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["best.json"]  # no temporary left behind


@pytest.mark.parametrize("epochs, population, kept", [
    ([1, 2, 3], False, [1, 2, 3]),                     # no restart
    ([1, 2, 3, 4, 3, 4, 5], False, [1, 2, 3, 4, 5]),   # killed at 4, restored at its epoch 2
    ([1, 2, 3, 1, 2], False, [1, 2]),                  # started over from scratch
    ([1, 2, 3, 3, 4], False, [1, 2, 3, 4]),            # restored at 2, epoch 3 redone once
    ([1, 2, 3, 4, 3, 4, 5], True, [1, 2, 3, 4, 3, 4, 5]),  # PBT: rows before an exploit stay
])
def test_a_restarted_trials_redone_epochs_replace_the_first_ones(epochs, population, kept):
    from tuner.record.collect import final_rows

    rows = [{"training_iteration": e, "val_accuracy": i / 10} for i, e in enumerate(epochs)]
    out = final_rows(rows, population)
    assert [r["training_iteration"] for r in out] == kept
    # the later row of a redone epoch is the one kept (what the restarted trial reported)
    if not population and kept[-1] == epochs[-1]:
        assert out[-1] is rows[-1]
