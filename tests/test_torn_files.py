"""Nothing half-written (issue 24, part 3): a driver killed while it writes its result files
leaves each of them whole, the old file or the new one, never a part.

A child process rewrites the files over an earlier version and is killed with a real SIGKILL
before each step of the writes in turn (``tests/kill_points.py`` numbers them: a file created,
each write, whole and cut part-way, ``fsync``, the rename into place, Optuna's lock); then the
folder is read as ``tuner.load``, ``--resume`` and ``optuna.load_study`` read it. No Ray: the
children fork from a ``forkserver`` that did the imports once (the file: about 10 s here).
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
import pickle
import shutil
import signal
import time
from pathlib import Path

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from tests import kill_points as kp

RESULT_FILES = ("trials.csv", "best.json", "report.md")


@pytest.fixture(scope="module")
def fork():
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(kp.PRELOAD)
    return ctx


def run(ctx, target, *args) -> int:
    child = ctx.Process(target=target, args=args)
    child.start()
    child.join(60)
    return child.exitcode


def kill_at_each_step(ctx, steps: list[str], target, args_of, check) -> None:
    """``target(*args_of(k))`` killed before step k, for every step; two children at a time
    (this machine has 2 CPUs), each checked by ``check(k)`` once it is dead."""
    todo, running = list(range(1, len(steps) + 1)), []
    while todo or running:
        while todo and len(running) < 2:
            k = todo.pop(0)
            child = ctx.Process(target=target, args=args_of(k))
            child.start()
            running.append((k, child))
        k, child = running.pop(0)
        child.join(60)
        assert child.exitcode == -signal.SIGKILL, \
            f"step {k} ({steps[k - 1]}): the child ended with {child.exitcode}, not killed there"
        check(k)


def contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()
            if p.is_file() and not p.name.startswith(".")}


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".tmp-"))


def torn(folder: Path, old: dict[str, bytes], new: dict[str, bytes]) -> list[str]:
    """Each file of the folder that is neither the whole old one nor the whole new one."""
    out = []
    for name in sorted(old.keys() | new.keys()):
        now = (folder / name).read_bytes() if (folder / name).exists() else None
        was, will = old.get(name), new.get(name)
        if now not in (was, will):
            out.append(f"{name} holds {len(now or b'')} bytes: neither the old file "
                       f"({len(was or b'')}) nor the new one ({len(will or b'')})")
    return out


def parse(folder: Path) -> None:
    """The three result files read as their readers read them."""
    rows = list(csv.DictReader(io.StringIO((folder / "trials.csv").read_text())))
    assert len(rows) == 8 and all(r["trial_id"] and r["status"] for r in rows)
    best = json.loads((folder / "best.json").read_text())
    assert best["trial_id"] and best["metric"] == "val_accuracy"
    report = (folder / "report.md").read_text()
    assert report.startswith("# Experiment `torn`") and "## Top trials" in report


@pytest.fixture(scope="module")
def runs(fork, tmp_path_factory):
    """Two whole ``finish`` runs, of ``records(1)`` (the old files) and ``records(2)`` (the
    new ones): (their storage folder, old files, new files, the new run's steps)."""
    base = tmp_path_factory.mktemp("finished")
    children = [fork.Process(target=kp.finish_child,
                             args=(str(base / into), seed, None, str(base / f"{into}.json")))
                for seed, into in ((1, "old"), (2, "new"))]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    old, new = (contents(base / into / kp.NAME) for into in ("old", "new"))
    assert set(RESULT_FILES) <= set(new) and all(old[f] != new[f] for f in new)
    return base, old, new, json.loads((base / "new.json").read_text())["steps"]


@pytest.mark.slow
def test_finish_killed_at_every_step_leaves_each_file_old_or_new(fork, runs, tmp_path):
    base, old, new, steps = runs
    assert len(steps) >= 3 * len(new), steps  # each file at least created, written, cut

    def args_of(k):
        shutil.copytree(base / "old", tmp_path / f"k{k}")
        return str(tmp_path / f"k{k}"), 2, k, os.devnull

    seen = {}

    def check(k):
        folder = tmp_path / f"k{k}" / kp.NAME
        problems = torn(folder, old, new)
        assert not problems, f"killed before step {k} ({steps[k - 1]}): " + "; ".join(problems)
        parse(folder)
        seen[k] = ({f for f in new if (folder / f).read_bytes() == new[f]}, leftovers(folder))
        shutil.rmtree(folder.parent)

    kill_at_each_step(fork, steps, kp.finish_child, args_of, check)
    # the kills walked through the whole step: before any file was renamed into place, after
    # each rename, and between a temporary file's creation and its rename (where a torn file
    # would show)
    assert {len(now) for now, _ in seen.values()} == set(range(len(new)))
    assert any(tmp for _, tmp in seen.values())


@pytest.mark.slow
def test_the_kills_catch_a_file_written_in_place(fork, runs, tmp_path):
    """The same kills find the torn file of a writer that opens the file and writes it:
    what the test above would report, were ``write_atomic`` such a writer."""
    base, old, new, _ = runs
    for k in range(1, 4):
        shutil.copytree(base / "old", tmp_path / f"k{k}")
        assert run(fork, kp.finish_child, str(tmp_path / f"k{k}"), 2, k, os.devnull, True) \
            == -signal.SIGKILL
        problems = torn(tmp_path / f"k{k}" / kp.NAME, old, new)
        if problems:
            assert problems[0].startswith("trials.csv holds 0 bytes"), problems
            return
    pytest.fail("no kill left a torn trials.csv behind a writer in place")


@pytest.mark.slow
def test_pack_state_killed_at_every_step_reads_old_or_new(fork, tmp_path):
    import tuner
    from tuner.errors import ConfigError
    from tuner.launch.packed import state

    old, new = kp.pack_snapshot(1, 8), kp.pack_snapshot(2, 10)
    first = tmp_path / "first" / kp.NAME
    first.mkdir(parents=True)
    state.write(str(first), old)
    (first / "manifest.json").write_text(json.dumps({"format": 1, "experiment": {
        "name": kp.NAME, "metric": "val_accuracy", "mode": "max", "budget": {"max": 9}}}))
    shutil.copytree(first, tmp_path / "whole")
    log = tmp_path / "steps.json"
    assert run(fork, kp.pack_state_child, str(tmp_path / "whole"), None, str(log)) == 0
    steps = json.loads(log.read_text())["steps"]
    assert state.read(str(tmp_path / "whole")) == new
    ids = {tuple(t["trial_id"] for t in s["trials"]) for s in (old, new)}

    def args_of(k):
        shutil.copytree(first, tmp_path / f"k{k}")
        return str(tmp_path / f"k{k}"), k, os.devnull

    seen = []

    def check(k):
        folder = tmp_path / f"k{k}"
        now = state.read(str(folder))  # what --resume of a packed run reads
        assert now in (old, new), f"killed before step {k} ({steps[k - 1]}): neither snapshot"
        loaded = tuner.load(folder)  # the manifest, pack_state.pkl, best.json: no leftover
        assert tuple(r.trial_id for r in loaded.records) in ids
        seen.append(leftovers(folder))

    kill_at_each_step(fork, steps, kp.pack_state_child, args_of, check)
    assert any(seen), "no kill came between the temporary file's creation and its rename"

    # and a snapshot cut anywhere (less than the whole file) never loads: --resume refuses it
    whole = (tmp_path / "whole" / state.STATE_FILE).read_bytes()
    assert not [n for n in range(len(whole)) if loads(whole[:n])]
    cut = tmp_path / "cut"
    cut.mkdir()
    for n in [*range(0, len(whole), 997), len(whole) - 1]:
        (cut / state.STATE_FILE).write_bytes(whole[:n])
        with pytest.raises(ConfigError, match="cannot be read"):
            state.read(str(cut))


@pytest.mark.slow
def test_ray_snapshot_kept_whole_through_a_kill_at_every_step(fork, tmp_path):
    """``SnapshotKeeper``'s copy of Ray's experiment snapshot, killed at every step of a
    second copy, still puts back a whole set: the first or the second, never a mix."""
    from tuner.launch import snapshot

    old, new = kp.ray_snapshot(1), kp.ray_snapshot(2)
    first = tmp_path / "first"
    kp.put_files(str(tmp_path / "stage-old"), old)
    kp.put_files(str(tmp_path / "stage-new"), new)
    snapshot.keep(str(tmp_path / "stage-old"), kp.SESSION, str(first / snapshot.KEPT))
    log = tmp_path / "steps.json"
    shutil.copytree(first, tmp_path / "whole")
    assert run(fork, kp.snapshot_child, str(tmp_path / "whole" / snapshot.KEPT),
               str(tmp_path / "stage-new"), None, str(log)) == 0
    steps = json.loads(log.read_text())["steps"]
    assert len(steps) >= 3 * len(new), steps

    def args_of(k):
        shutil.copytree(first, tmp_path / f"k{k}")
        return str(tmp_path / f"k{k}" / snapshot.KEPT), str(tmp_path / "stage-new"), k, \
            os.devnull

    seen = []

    def check(k):
        folder = tmp_path / f"k{k}"
        kp.put_files(str(folder), {name: data[: len(data) // 2] for name, data in new.items()})
        assert snapshot.put_back(str(folder)) is not None  # the experiment's set was torn
        now = contents(folder)
        assert now in (old, new), f"killed before step {k} ({steps[k - 1]}): a mixed set"
        seen.append(now == new)

    kill_at_each_step(fork, steps, kp.snapshot_child, args_of, check)
    # every kill came before the switch of ``current`` (its rename is the last step): the
    # first set comes back; the copy that was not killed puts back the second
    assert len(seen) == len(steps) and not any(seen), seen
    kp.put_files(str(tmp_path / "whole"), {n: d[:-1] for n, d in new.items()})
    assert snapshot.put_back(str(tmp_path / "whole")) and contents(tmp_path / "whole") == new


def loads(data: bytes) -> bool:
    try:
        pickle.loads(data)
    except Exception:  # noqa: BLE001 — whatever a cut pickle raises
        return False
    return True


def study(path: Path) -> optuna.Study:
    return optuna.load_study(study_name=kp.NAME,
                             storage=JournalStorage(JournalFileBackend(str(path))))


def trials(path: Path) -> dict[str, optuna.trial.FrozenTrial]:
    out = {}
    for t in study(path).trials:
        ray_id = t.user_attrs["ray_trial_id"]
        assert ray_id not in out, f"{ray_id} mirrored twice"
        out[ray_id] = t
    return out


def loaded(path: Path, where: str) -> dict[str, optuna.trial.FrozenTrial]:
    try:
        return trials(path)
    except ValueError as exc:  # Optuna's reader on a bad line followed by others
        pytest.fail(f"{where}: optuna.load_study fails ({type(exc).__name__}: {exc})")


@pytest.mark.slow
def test_mirror_killed_mid_flush_keeps_every_flushed_trial(fork, tmp_path):
    """``optuna.journal`` is appended to, not replaced: a kill mid-flush may leave a torn last
    line. Optuna's reader skips it; the next run's mirror must cut it before appending, or
    its first line would be glued to it and the whole file would stop loading."""
    first = tmp_path / "first"
    first.mkdir()
    mirror = kp.study_mirror(str(first / "optuna.journal"))
    for i, value in enumerate((0.5, 0.4, 0.3)):
        kp.mirror_trial(mirror, f"a{i}", value)
    mirror.flush()
    del mirror
    shutil.copytree(first, tmp_path / "whole")
    log = tmp_path / "steps.json"
    assert run(fork, kp.mirror_child, str(tmp_path / "whole" / "optuna.journal"), None,
               str(log)) == 0
    done = json.loads(log.read_text())
    steps, first_flush = done["steps"], done["marks"]["first flush"]
    assert {r: t.state for r, t in trials(tmp_path / "whole" / "optuna.journal").items()} \
        == dict.fromkeys(["a0", "a1", "a2", "b0", "b1", "b2"], TrialState.COMPLETE)

    def args_of(k):
        shutil.copytree(first, tmp_path / f"k{k}")
        return str(tmp_path / f"k{k}" / "optuna.journal"), k, os.devnull

    before, tears, stale_locks = (first / "optuna.journal").read_bytes(), [], []

    def check(k):
        journal = tmp_path / f"k{k}" / "optuna.journal"
        where = f"killed before step {k} ({steps[k - 1]})"
        assert journal.read_bytes().startswith(before), f"{where}: earlier lines changed"
        tears.append(not journal.read_bytes().endswith(b"\n"))
        held = os.path.lexists(f"{journal}.lock")  # the child died holding Optuna's lock?
        stale_locks.append(held)
        flushed = ["a0", "a1", "a2"] + (["b0"] if k > first_flush else [])
        now = loaded(journal, where)
        for ray_id in flushed:
            assert now[ray_id].state == TrialState.COMPLETE, f"{where}: {ray_id} lost"
        assert now["a0"].value == 0.5 and now["a0"].intermediate_values == {
            1: pytest.approx(0.5 / 3), 2: pytest.approx(1 / 3), 3: 0.5}
        # --resume: the next run's mirror reopens the file and appends to it
        again = kp.study_mirror(str(journal))  # breaks a stale lock: no 30 s grace period
        assert not os.path.lexists(f"{journal}.lock"), f"{where}: stale journal lock kept"
        kp.mirror_trial(again, "c0", 0.7)
        again.flush()
        now = loaded(journal, f"{where}, resumed")
        for ray_id in flushed + ["c0"]:
            assert now[ray_id].state == TrialState.COMPLETE, f"{where}, resumed: {ray_id} lost"

    kill_at_each_step(fork, steps, kp.mirror_child, args_of, check)
    assert sum(tears) >= 5, "no kill tore the journal's last line"
    assert any(stale_locks), "no kill left Optuna's lock behind"


def test_a_later_write_removes_old_leftovers_only(tmp_path):
    """A killed write's temporary file goes with the next write into its folder, once no live
    write can own it (ten minutes); a fresh one, or a file not of this pattern, stays."""
    from tuner.record.results import write_atomic

    stale, fresh, other = (tmp_path / n for n in (".tmp-ab_cd123", ".tmp-efgh5678", ".tmp-x.txt"))
    for file in (stale, fresh, other):
        file.write_bytes(b"half a fi")
    for file in (stale, other):
        os.utime(file, (time.time() - 3600, time.time() - 3600))
    write_atomic(str(tmp_path / "best.json"), "{}\n")
    assert (tmp_path / "best.json").read_text() == "{}\n"
    assert not stale.exists() and fresh.exists() and other.exists()
