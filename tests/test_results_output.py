"""What a user sees of the results (issue 16, item 10): file modes, the terminal table, the plot."""

from __future__ import annotations

import os

import matplotlib.pyplot as plt
import pytest

from tuner.budget import BudgetLadder
from tuner.record.results import TrialRecord, plot_curves, status_of, summary_table, write_atomic


def rec(tid, history, error="", max_epochs=9):
    return TrialRecord(trial_id=tid, config={"lr": 0.1}, history=list(history),
                       epochs=len(history), error=error,
                       status=status_of(len(history), max_epochs, error))


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_result_files_follow_the_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        write_atomic(str(tmp_path / "trials.csv"), "a,b\n")
        write_atomic(str(tmp_path / "trials.csv"), "a,b\n1,2\n")  # replacing keeps the rule
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "trials.csv").st_mode & 0o777 == 0o666 & ~mask
    assert (tmp_path / "trials.csv").read_text() == "a,b\n1,2\n"


def test_terminal_table_says_how_many_it_leaves_out():
    records = [rec(f"t{i}", [0.1 * i] * 9) for i in range(6)]
    lines = summary_table(records, "acc", "max").splitlines()
    assert len(lines) == 1 + 5 + 1 and lines[1].startswith("t5 ")
    assert lines[-1] == "top 5 of 6 trials; every trial is in trials.csv"
    assert not any(line.startswith("t0 ") for line in lines)  # the worst is the one left out
    lines = summary_table(records + [rec("never", [])], "acc", "max").splitlines()
    assert lines[-1] == "top 5 of 7 trials (1 reported no acc); every trial is in trials.csv"
    lines = summary_table(records, "acc", "max", top=6).splitlines()
    assert len(lines) == 1 + 6 and lines[-1].startswith("t0 ")  # all shown: no note


def _figure(monkeypatch, records, ladder, best=None):
    """The matplotlib figure plot_curves drew (taken just before it is closed)."""
    figures = []
    close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig=None: (figures.append(fig), close(fig)))
    assert plot_curves(records, "acc", best, ladder)[:4] == b"\x89PNG"
    (fig,) = figures
    return fig.axes[0]


def _legend(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def _labelled_ticks(ax):
    lo, hi = ax.get_xlim()
    major = [(x, t.get_text()) for x, t in zip(ax.get_xticks(), ax.get_xticklabels())]
    minor = [(x, t.get_text()) for x, t in zip(ax.get_xticks(minor=True),
                                               ax.get_xticklabels(minor=True))]
    return [(x, text) for x, text in major + minor if lo <= x <= hi and text]


def test_curves_legend_names_only_what_happened(monkeypatch):
    ladder = BudgetLadder(1, 9, 3)
    records = [rec("a", [0.5, 0.6, 0.7] + [0.8] * 6), rec("b", [0.4])]
    assert _legend(_figure(monkeypatch, records, ladder, best=records[0])) == \
        ["completed", "stopped early", "best"]
    records.append(rec("c", [0.2, float("nan")], error="non-finite loss"))
    assert _legend(_figure(monkeypatch, records, ladder)) == \
        ["completed", "stopped early", "errored"]
    assert _legend(_figure(monkeypatch, records[1:2], ladder)) == ["stopped early"]


@pytest.mark.parametrize("ladder", [BudgetLadder(1, 3, 3), BudgetLadder(1, 9, 3),
                                    BudgetLadder(1, 27, 3), BudgetLadder(2, 50, 3)])
def test_curves_epoch_ticks_are_whole_numbers(monkeypatch, ladder):
    records = [rec("a", [0.1 * e for e in range(1, ladder.max + 1)], max_epochs=ladder.max),
               rec("b", [0.3, 0.2], max_epochs=ladder.max)]
    ticks = _labelled_ticks(_figure(monkeypatch, records, ladder))
    assert ticks, "no labelled epoch tick"
    for x, text in ticks:
        assert float(x).is_integer() and text == str(int(x)), ticks
    if ladder.max >= 27:  # log axis: the rungs are the ticks
        assert [int(x) for x, _ in ticks] == [r.resource for r in ladder.rungs()]
