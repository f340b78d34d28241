"""A driver killed while Ray writes its experiment snapshot still resumes (issue 24).

Ray writes ``experiment_state-*.json`` in place and copies it into the experiment folder
non-atomically; ``SnapshotKeeper`` keeps the last whole set and ``--resume`` puts it back.
Decision table of :func:`tuner.launch.snapshot.put_back` plus the callback's own copy step;
tests/test_torn_files.py kills the copy at every step, tests/cluster/test_fault_soak.py runs
it under real kills.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests import kill_points as kp
from tuner.errors import ConfigError
from tuner.launch import preflight, snapshot
from tuner.launch.resume import SnapshotKeeper

LATER = "2026-12-06_02-00-00"


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def _trial(staging: Path) -> SimpleNamespace:
    """What the keeper reads of a Ray ``Trial``: its ``StorageContext``'s staging folder."""
    return SimpleNamespace(storage=SimpleNamespace(experiment_driver_staging_path=str(staging)))


def _keeper_run(tmp_path: Path, seed: int) -> tuple[Path, Path, dict[str, bytes]]:
    """An experiment folder whose keeper copied one snapshot of ``seed`` from staging."""
    staging, exp = tmp_path / "staging", tmp_path / "exp"
    files = kp.ray_snapshot(seed)
    kp.put_files(str(staging), files)
    kp.put_files(str(exp), files)
    SnapshotKeeper(str(exp)).on_step_end(iteration=1, trials=[_trial(staging)])
    return staging, exp, files


def _tear(folder: Path, name: str) -> None:
    data = (folder / name).read_bytes()
    (folder / name).write_bytes(data[: len(data) // 3])


@pytest.mark.parametrize("name", [f"experiment_state-{kp.SESSION}.json",
                                  f"searcher-state-{kp.SESSION}.pkl",
                                  f"callback-states-{kp.SESSION}.pkl"])
def test_a_torn_file_of_the_set_is_put_back_whole(tmp_path, name):
    _, exp, files = _keeper_run(tmp_path, 1)
    _tear(exp, name)
    assert not snapshot.whole(str(exp), kp.SESSION)
    note = preflight.check_saved_state(str(exp))
    assert note and "cut short" in note and "last whole one" in note
    assert _files(exp) == files


def test_the_snapshot_the_keeper_copied_is_left_as_it_is(tmp_path):
    _, exp, files = _keeper_run(tmp_path, 1)
    assert preflight.check_saved_state(str(exp)) is None
    assert _files(exp) == files


def test_whole_files_of_two_snapshots_are_replaced_by_one_whole_set(tmp_path):
    """Found by the 1,000-trial soak (998 of 1,000 trials): Ray's copy into the experiment
    folder, cut short, left the searcher's state of one snapshot beside the trial list of
    the one before — each file whole, the set wrong. The kept set is put back."""
    _, exp, files = _keeper_run(tmp_path, 1)
    newer = kp.ray_snapshot(2)
    name = f"searcher-state-{kp.SESSION}.pkl"
    assert newer[name] != files[name]
    (exp / name).write_bytes(newer[name])  # one small file of a later snapshot went in
    assert snapshot.whole(str(exp), kp.SESSION)  # nothing torn: the old check saw no fault
    note = preflight.check_saved_state(str(exp))
    assert note and "not the last one the driver wrote whole" in note
    assert _files(exp) == files


def test_a_torn_later_session_is_moved_aside_for_the_kept_one(tmp_path):
    """Killed during the first snapshot of a resumed driver, before the keeper copied it:
    Ray would pick the newest name, so the torn set is renamed out of its way."""
    _, exp, files = _keeper_run(tmp_path, 1)
    later = {n.replace(kp.SESSION, LATER): d for n, d in kp.ray_snapshot(3).items()}
    kp.put_files(str(exp), later)
    _tear(exp, f"experiment_state-{LATER}.json")
    assert preflight.check_saved_state(str(exp))
    assert {n: d for n, d in _files(exp).items() if not n.startswith(".")} == files
    assert sorted(n for n in os.listdir(exp) if n.startswith(".torn-")) == \
        sorted(f".torn-{n}" for n in later)


def test_torn_with_nothing_kept_is_refused_in_one_line(tmp_path):
    exp = tmp_path / "exp"
    kp.put_files(str(exp), kp.ray_snapshot(1))
    _tear(exp, f"experiment_state-{kp.SESSION}.json")
    with pytest.raises(ConfigError, match="cannot be read"):
        preflight.check_saved_state(str(exp))


def test_a_torn_kept_copy_is_never_used(tmp_path):
    _, exp, _ = _keeper_run(tmp_path, 1)
    slot = (exp / snapshot.KEPT / "current").read_text()
    _tear(exp / snapshot.KEPT / slot, f"searcher-state-{kp.SESSION}.pkl")
    _tear(exp, f"experiment_state-{kp.SESSION}.json")
    with pytest.raises(ConfigError, match="cannot be read"):
        preflight.check_saved_state(str(exp))


def test_the_keeper_copies_each_new_snapshot_once_into_alternate_slots(tmp_path):
    staging, exp, _ = _keeper_run(tmp_path, 1)
    kept = exp / snapshot.KEPT
    keeper = SnapshotKeeper(str(exp))
    keeper.on_step_end(iteration=2, trials=[_trial(staging)])
    first = (kept / "current").read_text()
    keeper.on_step_end(iteration=3, trials=[_trial(staging)])  # no new snapshot: no copy
    assert (kept / "current").read_text() == first
    newer = kp.ray_snapshot(2)
    kp.put_files(str(staging), newer)
    state = staging / f"experiment_state-{kp.SESSION}.json"
    os.utime(state, ns=(state.stat().st_atime_ns, state.stat().st_mtime_ns + 10**9))
    keeper.on_step_end(iteration=4, trials=[_trial(staging)])
    now = (kept / "current").read_text()
    assert now != first and _files(kept / now) == newer
    assert _files(kept / first) != newer  # the slot before stays whole until the next copy
    keeper.on_step_end(iteration=5, trials=[])  # no trials yet: nothing to read, no error


def test_the_last_snapshot_of_a_run_is_kept_too(tmp_path):
    """Ray writes its last snapshot after the loop, then calls ``on_experiment_end``: kept
    there, a finished run's folder and its kept set agree, and a later ``--resume`` (more
    trials) starts from the final state, not from the step before it."""
    staging, exp, _ = _keeper_run(tmp_path, 1)
    final = kp.ray_snapshot(2)
    kp.put_files(str(staging), final)
    kp.put_files(str(exp), final)  # Ray's final copy into the experiment folder
    state = staging / f"experiment_state-{kp.SESSION}.json"
    os.utime(state, ns=(state.stat().st_atime_ns, state.stat().st_mtime_ns + 10**9))
    SnapshotKeeper(str(exp)).on_experiment_end(trials=[_trial(staging)])
    assert preflight.check_saved_state(str(exp)) is None  # nothing put back
    assert _files(exp) == final
