"""A killed driver, per run kind (issue 24 §1): PBT, PB2, a packed ASHA run, a packed PBT run
and a data-parallel ASHA run.

``tuner launch FILE --address <this session's Ray>`` runs in a process of its own (forked
from a server that has done its imports: ``tests.killed_driver.Drivers``), and is SIGKILLed as
soon as the snapshot a resume continues from — Ray's experiment state (taken every 2 s), or a
packed run's ``pack_state.pkl`` (the same period) — holds what there is to check: a trial with
a checkpoint and epochs to go, an ended trial (ASHA), an exploit in the lineage (PBT/PB2).
Killing it leaves the session's Ray up; Ray ends the dead driver's actors. ``tuner launch
FILE --resume`` then ends the run in this process (the same CLI, with its imports and Ray
already here). Checked from the run's files, for every trial of that snapshot:

* every promised trial ends exactly once: ``num_samples`` rows in trials.csv, distinct ids,
  none errored, every trial of the snapshot among them, each ended where the schedule ends
  trials; a trial the snapshot had ended trains no epoch in the resumed run;
* every other one continues from the very checkpoint the snapshot names — so never from epoch
  1 once it had saved one — as its own per-epoch rows show (the first epoch it trains after
  the resume);
* at most one checkpoint interval (``EVERY`` epochs) is redone per trial, allowing for the
  epochs it trained after the snapshot, which the resume cannot know of;
* the lineage (PBT/PB2) the snapshot recorded leads report.md's lineage table unchanged.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.killed_driver import (EVERY, KINDS, NAME, ROOT, Drivers, Row, experiment_file,
                                 kill_when, packed_snapshot, ray_progress, ray_snapshot,
                                 report_lineage, rows, trials_csv, wait_until_freed)
from tuner.cli import main
from tuner.schedulers.pbt import lineage_markdown

pytestmark = [pytest.mark.ray, pytest.mark.slow]

# the epochs at which each kind ends a trial: ASHA's rungs, or the budget's end
ENDS = {"pbt": {8}, "pb2": {8}, "packed-asha": {1, 3, 9}, "packed-pbt": {8},
        "dp-asha": {2, 4, 8}}


@pytest.fixture(scope="session")
def drivers():
    """Starts drivers that can be killed (``Drivers``). Of ``ray_session``'s scope and asked
    for before it, so that the driver server does its imports while Ray starts."""
    server = Drivers()
    yield server
    server.close()


def _worth_killing(snap, kind) -> bool:
    """The snapshot holds what the test checks: a trial that saved a checkpoint and has epochs
    to go (Ray's: while polling, its epoch is past the first interval); packed ASHA: a trial it
    ended (the data-parallel run has one trial); PBT/PB2: an exploit."""
    unfinished = [t for t in snap.trials.values() if not t.ended]
    if not any(t.checkpoint_epoch or t.position > EVERY for t in unfinished):
        return False
    if kind.population:
        return bool(snap.lineage)
    return kind.ray_rows or any(t.ended for t in snap.trials.values())


def _split(kind, at_kill: list[Row], final: list[Row], killed_at: float
           ) -> tuple[list[Row], list[Row]]:
    """(the killed run's rows, the resumed run's rows) of one trial. A packed run's driver and
    the epoch log only append (``at_kill`` was read once the killed run's actors were gone).
    Ray's result.json is copied back from storage and appended to when a trial restarts from
    a checkpoint — the copy may hold rows the killed driver had not yet synced (its staging
    folder is reused) — and written anew when it restarts without one: its rows, stamped by
    the trial before the driver took them, are told apart by time."""
    if not kind.ray_rows:
        assert final[:len(at_kill)] == at_kill
        return at_kill, final[len(at_kill):]
    before = [r for r in final if r.t <= killed_at]
    return max(at_kill, before, key=len), [r for r in final if r.t > killed_at]


@pytest.mark.parametrize("name", list(KINDS))
def test_killed_driver_resumes(name, drivers, ray_session, tmp_path, monkeypatch, capsys):
    kind = KINDS[name]
    exp = experiment_file(tmp_path, kind)
    out = tmp_path / "out" / NAME
    progress = packed_snapshot if kind.packed else ray_progress

    def ready() -> bool:
        snap = progress(out)
        return snap is not None and _worth_killing(snap, kind)

    address = ray_session.get_runtime_context().gcs_address
    # Ray copies its snapshot files one by one after writing them: let that copy end
    # (0.3 s; the next snapshot is 2 s away) — pack_state.pkl is written whole
    log = tmp_path / "driver.log"
    killed_at = kill_when(drivers.launch(exp, address, log), log, ready,
                          settle=0.0 if kind.packed else 0.3)
    wait_until_freed(ray_session)  # no actor of the killed run trains or writes any more
    snap = packed_snapshot(out) if kind.packed else ray_snapshot(out)
    assert _worth_killing(snap, kind), log.read_text()[-3000:]
    at_kill = rows(tmp_path, kind)
    assert not (out / "trials.csv").exists()  # killed before the end

    monkeypatch.chdir(ROOT)
    if kind.ray_rows:  # told apart by time (`_split`), stamped in whole seconds
        time.sleep(max(0.0, killed_at + 1 - time.time()))
    code = main(["launch", str(exp), "--resume"])
    said = capsys.readouterr()
    assert code == 0, said.out[-3000:] + said.err[-3000:]
    assert ("resumed " if kind.packed else "resumed scheduler state: ") in said.out

    # every promised trial ends exactly once
    table = trials_csv(tmp_path)
    ids = [r["trial_id"] for r in table]
    assert len(ids) == kind.num_samples and len(set(ids)) == len(ids), ids
    assert {r["status"] for r in table} <= {"completed", "stopped early"}, table
    assert {int(r["epochs"]) for r in table} <= ENDS[name], table
    assert set(snap.trials) <= set(ids), (sorted(snap.trials), ids)

    final = rows(tmp_path, kind)
    continued = 0
    for trial_id, at in snap.trials.items():
        old, resumed = _split(kind, at_kill.get(trial_id, []), final.get(trial_id, []),
                              killed_at)
        if at.ended:
            assert not resumed, f"{trial_id} had ended, yet trained again: {resumed}"
            continue
        assert resumed, f"{trial_id} was not trained again"
        first = resumed[0]
        # the epoch it continued from (a packed member's rows follow their checkpoint's epoch)
        restart = first.epoch - (1 if kind.packed else first.since_restore)
        assert restart == at.checkpoint_epoch, (trial_id, at, resumed[:3])
        continued += restart > 0
        # epochs redone = where it was at the kill − where it continued from. Allowed: one
        # checkpoint interval (a whole one on Ray: the snapshot may come while the save at the
        # interval's end is in flight), plus the epochs it trained after the snapshot (`after`)
        if kind.packed:  # the driver wrote its rows: those past the snapshot's count
            after = len(old) - at.rows
        elif kind.ray_rows:  # Ray's rows of the killed run past the snapshot's epoch
            after = max(0, old[-1].epoch - at.position) if old else 0
        else:  # the trial's own log: epochs that ended after the driver's last result
            after = sum(r.t > (at.last_result_time or 0) for r in old)
        redone = at.position + after - restart
        print(f"{trial_id}: {at}; continued after epoch {restart}, {after} epoch(s) trained "
              f"after the snapshot, {redone} redone")  # shown when the test fails
        assert 0 <= after and redone <= EVERY + after, (trial_id, at, redone, after)
    assert continued, "no trial resumed from a checkpoint"

    if kind.population:
        # Exploits recorded in the snapshot stay, first and in order. After them the table may
        # differ from an uninterrupted run's: exploits the killed driver decided after its
        # snapshot are lost with it, and the resumed run decides them again on results that
        # may come in another order.
        recorded = [line for line in lineage_markdown(snap.lineage)
                    if re.match(r"^\| \d+ \|", line)]
        lineage = report_lineage(tmp_path)
        assert recorded and lineage[:len(recorded)] == recorded, (recorded, lineage)
