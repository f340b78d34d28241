"""What each fault cost (issue 24 §4): ``tuner.record.ledger`` over a run's own files.

Every case writes the files a run leaves — each trial's ``result.json`` rows and
``manifest.json``'s ``resumed`` list — into ``tmp_path``, with the ``TrialRecord``s the run's
state gives, and checks each ledger row exactly: (fault, trials retried, epochs redone,
results lost in flight). No Ray.
"""

from __future__ import annotations

import json
import time

import pytest

from tuner.record.ledger import fault_ledger, ledger_section, restarts_in
from tuner.record.results import TrialRecord

T0 = 1_800_000_000  # a fixed Unix time; rows are seconds after it
A, B = "10.0.0.1", "10.0.0.2"


def clock(seconds: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(T0 + seconds))


def rows(trial: str, epochs: range, start: int, node: str = A, since: int = 1,
         timed: bool = True) -> list[dict]:
    """One attempt of a trial: a row per epoch, one second apart, as Ray writes them
    (``since``: the attempt's ``iterations_since_restore`` at its first row)."""
    out = []
    for i, epoch in enumerate(epochs):
        row = {"trial_id": trial, "training_iteration": epoch, "val_accuracy": 0.5,
               "iterations_since_restore": since + i, "node_ip": node, "time_this_iter_s": 1.0}
        if timed:
            row["timestamp"] = T0 + start + i
        else:  # the packed executor: no time, no restore counter, the host's name
            del row["iterations_since_restore"], row["node_ip"]
            row["hostname"] = node
        out.append(row)
    return out


def write_run(path, trials: dict[str, list[dict]], resumed_at: tuple[int, ...] = ()) -> None:
    for name, trial in trials.items():
        folder = path / f"Trainable_{name}_00000"
        folder.mkdir()
        (folder / "result.json").write_text("".join(json.dumps(r) + "\n" for r in trial))
    resumed = [{"at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(T0 + s)),
                "command": ["tuner", "launch", "x.yaml", "--resume"]} for s in resumed_at]
    (path / "manifest.json").write_text(json.dumps({"experiment": {}, "resumed": resumed}))


def record(trial: str, retries: int = 0, node: str = "") -> TrialRecord:
    return TrialRecord(trial_id=trial, config={}, status="completed", epochs=9,
                       history=[0.5], retries=retries, node=node)


def ledger(path, records):
    return [(f.what, f.retried, f.redone, f.lost) for f in fault_ledger(str(path), records).faults]


# -- the cases of the issue -----------------------------------------------------------------
def test_a_trial_killed_at_epoch_5_and_restored_at_4_redoes_one_epoch(tmp_path):
    write_run(tmp_path, {
        "a": rows("a", range(1, 6), 0) + rows("a", range(5, 10), 20),  # checkpoint 4 survived
        "b": rows("b", range(1, 10), 0),
    })
    assert ledger(tmp_path, [record("a", retries=1), record("b")]) == [
        (f"trial a failed on node {A} between {clock(4)} and {clock(20)}; went on from epoch 4",
         1, 1, 1)]


def test_a_driver_restart_charges_older_checkpoints_and_an_orphan(tmp_path):
    """Killed at +60, resumed at +100: three trials go back to older checkpoints (one to
    scratch), one trial had started after Ray's last snapshot (an orphan), one had ended."""
    write_run(tmp_path, {
        "a": rows("a", range(1, 7), 50) + rows("a", range(4, 10), 110),  # back 3 from 6
        "b": rows("b", range(1, 5), 52) + rows("b", range(3, 5), 110),  # back 2 from 4, stops
        "c": rows("c", range(1, 4), 55) + rows("c", range(1, 10), 110),  # no checkpoint
        "d": rows("d", range(1, 3), 58),  # the resumed run never knew it
        "e": rows("e", range(1, 10), 0),  # finished before the kill
    }, resumed_at=(100,))
    records = [record(t) for t in "abce"]
    [(what, retried, redone, lost)] = ledger(tmp_path, records)
    assert what == f"driver restart: resumed at {clock(100)}; trial d never known to the " \
        "resumed run"
    assert (retried, redone, lost) == (3, 3 + 2 + 3, (3 + 2 + 3) + 2)


def test_a_lost_node_is_one_fault_for_the_trials_it_took(tmp_path):
    """Node B dies at about +31 under trials a and b; c on node A goes on; later b fails
    alone on node A: a second fault."""
    write_run(tmp_path, {
        "a": rows("a", range(1, 4), 28, B) + rows("a", range(3, 10), 40, A),  # from 2
        "b": rows("b", range(1, 3), 30, B)  # from its newest checkpoint: nothing redone
        + rows("b", range(3, 6), 38, A, since=1) + rows("b", range(5, 10), 60, A),
        "c": rows("c", range(1, 10), 25, A),
    })
    records = [record("a", retries=1), record("b", retries=2), record("c")]
    assert ledger(tmp_path, records) == [
        (f"2 trials failed at once on node {B} between {clock(31)} and {clock(38)} "
         "(a lost node?): a, b", 2, 1, 1),
        (f"trial b failed on node {A} between {clock(40)} and {clock(60)}; went on from "
         "epoch 4", 1, 1, 1)]


def test_a_clean_run_has_no_section(tmp_path):
    write_run(tmp_path, {"a": rows("a", range(1, 10), 0), "b": rows("b", range(1, 4), 0)})
    assert ledger_section(str(tmp_path), [record("a"), record("b")]) == ""


# -- the rules behind the numbers -------------------------------------------------------------
@pytest.mark.parametrize("epochs, expected", [
    # (epochs of each row in order, [(went on from, went back, discarded, redone) per restart])
    ([1, 2, 3, 4, 5, 5, 6], [(4, True, 1, 1)]),
    ([1, 2, 3, 4, 5, 6, 7, 5, 6, 6, 7, 8], [(4, True, 3, 2), (5, True, 1, 2)]),
    ([1, 2, 3, 1, 2, 3, 4], [(0, True, 3, 3)]),
    ([1, 2, 3, 2], [(1, True, 2, 1)]),  # stopped before it caught up: 2 lost, 1 redone
    ([1, 2, 3, 4], []),
])
def test_restarts_and_their_cost(epochs, expected):
    trial = [{"training_iteration": e, "timestamp": T0 + i} for i, e in enumerate(epochs)]
    assert [(r.resumed_from, r.went_back, r.discarded, r.redone)
            for r in restarts_in("t", trial)] == expected


def test_a_restore_from_the_newest_checkpoint_costs_nothing_but_is_a_retry(tmp_path):
    """As a real Ray run writes it: died in epoch 4 after checkpoint 3, on with epoch 4."""
    write_run(tmp_path, {"a": rows("a", range(1, 4), 0) + rows("a", range(4, 6), 9, since=1)})
    assert ledger(tmp_path, [record("a", retries=1)]) == [
        (f"trial a failed on node {A} between {clock(2)} and {clock(9)}; went on from epoch 3",
         1, 0, 0)]


def test_restores_without_a_failure_are_no_fault(tmp_path):
    """HyperBand pausing and resuming a trial, PBT cloning a better one: restores Ray
    counted no failure for, and no driver restart between."""
    write_run(tmp_path, {"a": rows("a", range(1, 4), 0) + rows("a", range(4, 6), 9, since=1),
                         "b": rows("b", range(1, 5), 0) + rows("b", range(3, 7), 9, since=1)})
    assert ledger_section(str(tmp_path), [record("a"), record("b")]) == ""


def test_a_retry_that_left_no_row_is_still_a_fault(tmp_path):
    """The trial failed in epoch 2, was restored at 1 and failed again before reporting
    (tests/test_faults.py's RaisingMLP): one retry, nothing redone, nothing lost."""
    write_run(tmp_path, {"a": rows("a", range(1, 2), 0)})
    assert ledger(tmp_path, [record("a", retries=1)]) == [
        (f"trial a failed on node {A} and was retried once; its results show no restart "
         "(it failed before its first result, or again before it reported)", 1, 0, 0)]
    # several such trials (a lost pack worker's newest members) are one row
    records = [record("a", retries=1), record("b", retries=2), record("c")]
    assert ledger(tmp_path, records) == [
        ("2 trials retried whose results show no restart (each failed before its first "
         "result, or again before it reported): a, b", 3, 0, 0)]


def test_each_restart_goes_to_the_nearest_fault_before_it(tmp_path):
    """One trial: its own failure at +12 (restored at 2), then the driver killed and
    resumed at +100 (restored at 5): two faults, each with its own cost."""
    write_run(tmp_path, {"a": rows("a", range(1, 4), 10) + rows("a", range(3, 7), 20)
                         + rows("a", range(6, 10), 110)}, resumed_at=(100,))
    faults = ledger(tmp_path, [record("a", retries=1)])
    assert [f[1:] for f in faults] == [(1, 1, 1), (1, 1, 1)]
    assert faults[0][0].startswith("trial a failed") and faults[1][0].startswith("driver")


def test_orphans_without_a_driver_restart_are_a_row_of_their_own(tmp_path):
    write_run(tmp_path, {"a": rows("a", range(1, 4), 0), "z": rows("z", range(1, 4), 0)})
    assert ledger(tmp_path, [record("a")]) == [
        ("trial folders the run's state does not list (started after its last snapshot): z",
         0, 0, 3)]


def test_a_packed_run_without_times(tmp_path):
    """Packed rows carry no time: restarts go to the trial's own retries, the rest (after
    a driver restart) are listed as unplaced; the section says why."""
    write_run(tmp_path, {
        "mlp_00000": rows("mlp_00000", range(1, 4), 0, "vm", timed=False)
        + rows("mlp_00000", range(3, 6), 0, "vm", timed=False),
        "mlp_00001": rows("mlp_00001", range(1, 3), 0, "vm", timed=False)
        + rows("mlp_00001", range(1, 5), 0, "vm", timed=False),
    }, resumed_at=(100,))
    records = [record("mlp_00000", retries=1), record("mlp_00001")]
    faults = ledger(tmp_path, records)
    assert [f[1:] for f in faults] == [(0, 0, 0), (1, 1, 1), (1, 2, 2)]
    assert faults[1][0] == "trial mlp_00000 failed on node vm; went on from epoch 2"
    assert faults[2][0] == ("restarts the files cannot place (a driver restart or a PBT "
                            "exploit): mlp_00001")
    assert "carry no time" in ledger_section(str(tmp_path), records)


def test_a_packed_orphan_set_aside_is_lost_not_mixed_into_the_trial_of_its_number(tmp_path):
    """A resumed packed run hands the orphan's number to a new trial and renames the
    orphan's folder ``<id>.orphan``: both show, each as what it is."""
    (tmp_path / "mlp_00004.orphan").mkdir()
    (tmp_path / "mlp_00004.orphan" / "result.json").write_text(
        "".join(json.dumps(r) + "\n" for r in rows("mlp_00004", range(1, 3), 50)))
    write_run(tmp_path, {"mlp_00004": rows("mlp_00004", range(1, 4), 120)}, resumed_at=(100,))
    (trial,) = ledger(tmp_path, [record("mlp_00004")])
    assert trial[0].startswith("driver restart") and "mlp_00004.orphan" in trial[0]
    assert trial[1:] == (0, 0, 2)  # the orphan's 2 results; the new trial cost nothing


def test_the_section_and_its_total(tmp_path):
    write_run(tmp_path, {"a": rows("a", range(1, 6), 0) + rows("a", range(4, 10), 20),
                         "b": rows("b", range(1, 2), 0)})
    text = ledger_section(str(tmp_path), [record("a", retries=1), record("b", retries=2)])
    assert text.startswith("\n## Faults and what they cost\n")
    assert "| fault | trials retried | epochs redone | results lost in flight |" in text
    assert text.rstrip().endswith("| **total** | 3 | 2 | 2 |")


def test_report_md_gets_the_section_only_when_something_went_wrong(tmp_path, monkeypatch):
    """Through ``tuner.record.finish.finish``, as every run ends (plots stubbed out)."""
    from tuner.experiment.config import parse_experiment
    from tuner.record import finish, insights, results

    png = lambda *a, **k: b"\x89PNG\r\n\x1a\n"  # noqa: E731
    monkeypatch.setattr(results, "plot_curves", png)
    monkeypatch.setattr(insights, "plot_parallel", png)
    monkeypatch.setattr(insights, "plot_slices", png)
    runs = {"clean": (rows("a", range(1, 10), 0), 0),
            "faulty": (rows("a", range(1, 6), 0) + rows("a", range(5, 10), 20), 1)}
    for name, (trial, retries) in runs.items():
        exp = parse_experiment({
            "name": name, "trainable": "mlp", "config": {"dataset": "digits"},
            "space": {"lr": 0.01}, "searcher": "random", "scheduler": "fifo",
            "budget": {"min": 1, "max": 9, "eta": 3}, "metric": "val_accuracy",
            "mode": "max", "num_samples": 1, "storage": str(tmp_path)})
        (tmp_path / name).mkdir()
        write_run(tmp_path / name, {"a": trial})
        finish.finish(exp, [record("a", retries=retries)], interrupted=False, wall=1.0,
                      quiet=True)
    assert "## Faults" not in (tmp_path / "clean" / "report.md").read_text()
    assert "| **total** | 1 | 1 | 1 |" in (tmp_path / "faulty" / "report.md").read_text()
