"""A packed run's saved state (`tuner.launch.packed.state`), PBT's exploit between members, and
Ctrl-C / `--resume` of a packed `tuner launch` as a user meets them."""

from __future__ import annotations

import csv
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

import tuner
from tests.test_packing import _raw
from tuner.launch.packed import state as pack_state
from tuner.experiment.config import parse_experiment
from tuner.cli import main
from tuner.errors import ConfigError
from tuner.launch.packed.executor import (
    PAUSED,
    PENDING,
    RUNNING,
    TERMINATED,
    PackExecutor,
    PackPlan,
    PackTrial,
    checkpoint_epoch_of,
)

ROOT = Path(__file__).resolve().parents[1]


def _executor(tmp_path: Path, scheduler: str = "asha") -> PackExecutor:
    from trainables.base import MLPTrainable
    from tuner.compose import wiring

    exp = parse_experiment(_raw(tmp_path))
    wired = wiring.wire("random", scheduler, exp.space, exp.budget, metric=exp.metric,
                        mode=exp.mode, seed=1, slots=4, num_samples=6)
    plan = PackPlan(base_config=exp.trial_config(), metric=exp.metric, mode=exp.mode,
                    max_epochs=exp.budget.max, num_samples=6, workers=1, members=4, limit=4,
                    path=str(tmp_path / "run"), trial_prefix="mlp")
    return PackExecutor(plan, MLPTrainable, wired.searcher, wired.scheduler,
                        write=lambda _line: None)


def _checkpoint(folder: Path, payload: bytes = b"weights") -> str:
    folder.mkdir(parents=True)
    (folder / "trainable.pt").write_bytes(payload)
    return str(folder)


def test_restore_rewinds_running_members_to_their_own_checkpoints(tmp_path):
    first = _executor(tmp_path)
    run = tmp_path / "run"
    for i in range(4):
        first.search_alg.suggest(f"mlp_{i:05d}")
    done = PackTrial("mlp_00000", {}, order=0, status=TERMINATED, epochs=3,
                     history=[0.1, 0.2, 0.3])
    saved = PackTrial("mlp_00001", {}, order=1, status=RUNNING, epochs=3,
                      history=[0.1, 0.2, 0.3], checkpoint_epoch=2, checkpoint_reports=2,
                      checkpoint=_checkpoint(run / "mlp_00001" / "checkpoint_000002"))
    fresh = PackTrial("mlp_00002", {}, order=2, status=RUNNING, epochs=1, history=[0.1])
    waiting = PackTrial("mlp_00003", {}, order=3)
    first.trials = [done, saved, fresh, waiting]
    for trial, value in ((saved, 0.2), (fresh, 0.3)):  # ASHA's first rung (epoch 1) records
        first.scheduler.on_trial_add(first, trial)
        first.scheduler.on_trial_result(first, trial, {"val_accuracy": value,
                                                       "training_iteration": 1})
    rungs = first.scheduler.get_state()["rungs"]
    assert any(records for bracket in rungs for _, records in bracket)
    first.save_state()

    # a trial the killed driver started after its last snapshot: its folder is an orphan
    (run / "mlp_00004").mkdir()
    (run / "mlp_00004" / "result.json").write_text('{"training_iteration": 1}\n')
    second = _executor(tmp_path)
    message = second.restore(pack_state.read(str(run)))
    # set aside, so the new trial that gets its number does not append to its results
    assert not (run / "mlp_00004").exists()
    assert (run / "mlp_00004.orphan" / "result.json").read_text().count("\n") == 1
    by_id = {t.trial_id: t for t in second.trials}
    assert [t.trial_id for t in second.trials] == [f"mlp_{i:05d}" for i in range(4)]
    assert by_id["mlp_00000"].status == TERMINATED and by_id["mlp_00000"].epochs == 3
    one = by_id["mlp_00001"]  # continues from its checkpoint, not from epoch 1
    assert (one.status, one.epochs, one.history) == (PAUSED, 2, [0.1, 0.2])
    two = by_id["mlp_00002"]  # no checkpoint: starts over
    assert (two.status, two.epochs, two.history) == (PENDING, 0, [])
    assert "1 ended, 1 continue from their checkpoints, 2 start from epoch 1" in message
    # the searcher knows the four trials it proposed; the next id continues the numbering
    assert set(second.search_alg.configs) == set(by_id)
    second._top_up()
    assert [t.trial_id for t in second.trials][4:] == ["mlp_00004"]  # 4 live at most
    assert second.scheduler.get_state()["rungs"] == rungs  # ASHA's records came back
    # what `tuner.load` can show of the interrupted run (the lead wires it into tuner.api)
    from tuner.launch.packed.state import packed_records

    records = packed_records(str(run), 3, interrupted=True)
    assert [r.status for r in records] == ["completed", "interrupted", "interrupted",
                                           "not started"]
    assert packed_records(str(tmp_path), 3, interrupted=True) is None
    # the scheduler was handed every trial again (ASHA: pending first, then paused)
    assert second.scheduler.choose_trial_to_run(second).trial_id == "mlp_00002"


def test_resume_refuses_a_missing_or_broken_state(tmp_path):
    with pytest.raises(ConfigError, match="no saved packed-run state"):
        pack_state.read(str(tmp_path))
    (tmp_path / pack_state.STATE_FILE).write_bytes(b"\x80\x05cut sho")
    with pytest.raises(ConfigError, match="cannot be read"):
        pack_state.read(str(tmp_path))
    (tmp_path / pack_state.STATE_FILE).write_bytes(pickle.dumps({"format": 99}))
    with pytest.raises(ConfigError, match="not a packed-run state"):
        pack_state.read(str(tmp_path))


def test_prune_keeps_the_checkpoints_something_names(tmp_path):
    trial = tmp_path / "mlp_00000"
    old = _checkpoint(trial / "checkpoint_000001")
    pinned = _checkpoint(trial / "checkpoint_000002")
    current = _checkpoint(trial / "checkpoint_000003")
    (trial / "result.json").write_text("{}\n")
    pack_state.prune(str(tmp_path), {"mlp_00000"}, {pinned, current})
    assert sorted(p.name for p in trial.iterdir()) == [
        "checkpoint_000002", "checkpoint_000003", "result.json"]
    assert not os.path.exists(old)


def test_checkpoint_epoch_from_folder_name():
    assert checkpoint_epoch_of("/x/mlp_00001/checkpoint_000004") == 4
    assert checkpoint_epoch_of("/x/mlp_00001/checkpoint_000012_from_mlp_00003/") == 12
    assert checkpoint_epoch_of("/x/mlp_00001/other") == 0


def test_exploit_gives_the_member_its_own_copy_of_the_source_checkpoint(tmp_path):
    from ray.train._internal.session import _TrainingResult
    from ray.tune import Checkpoint

    executor = _executor(tmp_path, "pbt")
    run = tmp_path / "run"
    source = PackTrial("mlp_00000", {"lr": 0.01}, status=RUNNING, epochs=5)
    target = PackTrial("mlp_00001", {"lr": 0.02}, status=PAUSED, epochs=6,
                       history=[0.1] * 6)
    executor.trials = [source, target]
    src = _checkpoint(run / "mlp_00000" / "checkpoint_000004", b"top member")
    # what Ray's PBT `_exploit` writes (ray/tune/schedulers/pbt.py)
    target.run_metadata.checkpoint_manager._latest_checkpoint_result = _TrainingResult(
        checkpoint=Checkpoint.from_directory(src), metrics={"training_iteration": 4})
    executor._adopt_exploits()
    assert target.checkpoint.endswith("checkpoint_000004_from_mlp_00000")
    assert (target.epochs, target.checkpoint_epoch, target.checkpoint_reports) == (4, 4, 6)
    assert target.run_metadata.checkpoint_manager._latest_checkpoint_result is None
    os.remove(os.path.join(src, "trainable.pt"))  # the source saves on, its folder is pruned
    assert Path(target.checkpoint, "trainable.pt").read_bytes() == b"top member"
    assert source.checkpoint is None  # the source is untouched


def test_a_member_loads_a_checkpoint_whose_dropout_layers_shift_its_keys():
    """PBT may turn dropout 0 → 0.2: MLP keys move (net.3 → net.4), weights do not."""
    from trainables.base import MLPTrainable
    from trainables.packing import PackedRun

    config = {"dataset": "digits", "hidden": 32, "depth": 1, "batch_size": 64, "seed": 3}
    solo = MLPTrainable.make_run({**config, "dropout": 0.0})
    solo.train_one_epoch()
    pack = PackedRun(MLPTrainable)
    pack.add("m", {**config, "dropout": 0.2}, solo.state_dict())
    back = pack.member_state("m")
    for a, b in zip(back["model"].values(), solo.state_dict()["model"].values()):
        assert torch.equal(a, b)
    assert back["epoch"] == 1


# ---- Ctrl-C and --resume of a packed `tuner launch`, in its own process ------------------
EXPERIMENT = textwrap.dedent("""
    name: packed
    trainable: mlp
    config: {dataset: digits, hidden: 32, depth: 1, batch_size: 64}
    space:
      lr: {type: float, low: 0.001, high: 0.1, log: true}
      optimizer: adam
    searcher: random
    scheduler: fifo
    budget: {min: 1, max: 20, eta: 3}
    metric: val_accuracy
    mode: max
    num_samples: 6
    max_concurrent: 1
    seed: 1
    checkpoint_interval_s: 0
    packing: {members: 2}
    storage: results
""")


def _launch(folder: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "RAY_AUTH_MODE": "disabled",
           "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "tuner", "launch", "exp.yaml", *extra],
                            cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)


def _rows(folder: Path) -> list[dict]:
    return list(csv.DictReader((folder / "trials.csv").open()))


@pytest.mark.ray
@pytest.mark.slow
def test_ctrl_c_then_resume_a_packed_run(tmp_path, monkeypatch, capsys):
    (tmp_path / "exp.yaml").write_text(EXPERIMENT)
    proc = _launch(tmp_path)
    lines, deadline = [], time.time() + 240
    for line in proc.stdout:  # the first pack's members ended: press Ctrl-C in the second
        lines.append(line)
        if "ended after" in line or time.time() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    out = "".join(lines) + proc.communicate(timeout=240)[0]
    assert proc.returncode == 130, out
    assert "interrupted: saving the experiment state" in out
    assert "continue with: tuner launch exp.yaml --resume" in out
    folder = tmp_path / "results" / "packed"
    assert "**interrupted: " in (folder / "report.md").read_text()
    assert " of 6 trials ended**" in (folder / "report.md").read_text()
    before = {r["trial_id"]: r for r in _rows(folder)}
    ended = [r for r in before.values() if r["status"] == "completed"]
    cut = [r for r in before.values() if r["status"] == "interrupted"]
    assert 1 <= len(ended) < 6 and cut, before
    assert all(0 < int(r["epochs"]) < 20 for r in cut)
    loaded = tuner.load(folder)  # read from the packed run's own state (no Ray state there)
    assert loaded.interrupted  # every trial that was created: the ended and the cut ones
    assert {r["trial_id"] for r in ended + cut} <= set(loaded.trials.trial_id) <= set(before)
    assert loaded.best_trial["trial_id"] in {r["trial_id"] for r in ended}

    # refused before Ray starts: the same `tuner launch` in this process (a process of its
    # own would only add its ~8 s of imports)
    monkeypatch.chdir(tmp_path)
    rc = main(["launch", "exp.yaml", "--resume", "--set", "packing.members=3"])
    err = "".join(capsys.readouterr())  # stdout + stderr, as the process's merged output
    assert rc == 2 and "settings differ" in err and "packing: " in err, err
    assert "3" in err.split("packing: ", 1)[1].split("(", 1)[0]  # the change is listed

    proc = _launch(tmp_path, "--resume")
    out = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, out
    rows = _rows(folder)
    assert sorted(r["trial_id"] for r in rows) == [f"mlp_{i:05d}" for i in range(6)]
    assert [r["status"] for r in rows] == ["completed"] * 6
    assert "interrupted" not in (folder / "report.md").read_text()
    loaded = tuner.load(folder)
    assert not loaded.interrupted and set(loaded.trials.status) == {"completed"}
    assert loaded.best_config == json.loads((folder / "best.json").read_text())["config"]
    for row in rows:  # every epoch once: the interrupted members went on from their own
        lines = (folder / row["trial_id"] / "result.json").read_text().splitlines()
        assert [json.loads(x)["epoch"] for x in lines] == list(range(1, 21)), row

    mtime = (folder / "report.md").stat().st_mtime
    rc = main(["launch", "exp.yaml", "--resume"])  # ends before Ray starts, as above
    out = "".join(capsys.readouterr())
    assert rc == 0 and "nothing to resume" in out, out
    assert (folder / "report.md").stat().st_mtime == mtime  # a finished run is left alone


class _Handle:
    """A pack actor's handle as the executor calls it (`handle.remove.remote(id)`)."""

    def __init__(self, worker):
        self.remove = type("Call", (), {"remote": staticmethod(worker.remove)})()


def test_a_member_that_cannot_join_errors_alone(tmp_path):
    from trainables.base import MLPTrainable
    from tuner.launch.packed.executor import ERROR, PackWorker, _Worker

    worker = PackWorker(MLPTrainable, 1)
    worker.add("mlp_00000", {"dataset": "digits"}, str(tmp_path / "missing"))
    assert not worker.packs and "mlp_00000" in worker.failed
    out, _ = worker.train(["mlp_00000"])
    assert out["mlp_00000"]["add_error"].startswith("FileNotFoundError: ")

    executor = _executor(tmp_path)
    executor.search_alg.suggest("mlp_00000")
    trial = PackTrial("mlp_00000", {}, status=RUNNING)
    executor.trials = [trial]
    executor.scheduler.on_trial_add(executor, trial)
    held = _Worker(_Handle(worker), members=[trial])
    held.keys[executor._key(trial)] = 1
    trial.worker = held
    executor._process(held, out, "node")
    assert trial.status == ERROR and trial.error.startswith("FileNotFoundError")
    assert not held.members and executor.search_alg.num_failed == 1


class _DeadSave:
    """A pack actor's handle whose `save` fails: `ray.get` of its reference raises what the
    test's `get` raises (the actor died, or the folder refused the files)."""

    def __init__(self):
        self.save = type("Call", (), {"remote": staticmethod(lambda ids, dirs: "save-ref")})()
        self.remove = type("Call", (), {"remote": staticmethod(lambda trial_id: None)})()


def _two_members(tmp_path: Path):
    """An executor with one worker holding two members: one about to report its last epoch
    (3), one about to report epoch 2 (no rung: it goes on), each with a checkpoint."""
    from tuner.launch.packed.executor import _Worker

    executor = _executor(tmp_path)
    run = tmp_path / "run"
    finishing = PackTrial("mlp_00000", {}, status=RUNNING, epochs=2, history=[0.5, 0.6],
                          checkpoint_epoch=2, checkpoint_reports=2,
                          checkpoint=_checkpoint(run / "mlp_00000" / "checkpoint_000002"))
    going_on = PackTrial("mlp_00001", {}, status=RUNNING, epochs=1, history=[0.4],
                         checkpoint_epoch=1, checkpoint_reports=1,
                         checkpoint=_checkpoint(run / "mlp_00001" / "checkpoint_000001"))
    executor.trials = [finishing, going_on]
    worker = _Worker(_DeadSave(), members=[finishing, going_on])
    executor.workers.append(worker)
    for trial in executor.trials:
        executor.search_alg.suggest(trial.trial_id)
        executor.scheduler.on_trial_add(executor, trial)
        worker.keys[executor._key(trial)] = worker.keys.get(executor._key(trial), 0) + 1
        trial.worker = worker
    executor.inflight["train-ref"] = worker
    return executor, worker, finishing, going_on


def _results_then(failure: BaseException):
    metrics = {"mlp_00000": {"epoch": 3, "epoch_seconds": 0.1, "val_accuracy": 0.9},
               "mlp_00001": {"epoch": 2, "epoch_seconds": 0.1, "val_accuracy": 0.6}}

    def get(ref):
        if ref == "save-ref":
            raise failure
        return metrics, "node-1"

    return get


def test_a_worker_lost_while_saving_a_finished_member_loses_nobody(tmp_path, monkeypatch):
    """Found by the packed fault soak: the actor died between reporting an epoch and saving
    the member that epoch finished, and `ray.get` of the save ended the whole run. Now the
    finished member ends (keeping its last checkpoint), the others resume from theirs."""
    import ray

    executor, worker, finishing, going_on = _two_members(tmp_path)
    monkeypatch.setattr(ray, "get", _results_then(ray.exceptions.ActorDiedError()))
    executor._collect("train-ref")  # raised ActorDiedError out of the run before the fix
    assert finishing.status == TERMINATED and finishing.epochs == 3
    assert finishing.checkpoint_epoch == 2  # its epoch-3 save never happened
    # back to its own last checkpoint, one retry counted, the worker replaced
    assert going_on.status == PAUSED and going_on.epochs == 1 and going_on.retries == 1
    assert going_on.history == [0.4] and worker not in executor.workers


def test_a_save_the_storage_refuses_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    """Found by the packed fault soak's storage stall: a read-only folder made the pack
    actor's `save` raise, and `ray.get` of it ended the whole run. Now the members keep
    their last checkpoint, say so in one line, and train on (the next save tries again)."""
    import ray

    executor, worker, finishing, going_on = _two_members(tmp_path)
    lines = []
    executor.write = lines.append
    refused = OSError(30, "Read-only file system")
    monkeypatch.setattr(ray, "get", _results_then(
        ray.exceptions.RayTaskError("save", "Traceback …", refused)))
    executor._collect("train-ref")
    assert finishing.status == TERMINATED and finishing.checkpoint_epoch == 2
    assert going_on.status == RUNNING and going_on.epochs == 2 and going_on.retries == 0
    assert going_on.checkpoint_epoch == 1 and worker in executor.workers
    assert any("not saved (OSError: " in line and "keep their last checkpoint" in line
               for line in lines), lines


def test_a_storage_stall_keeps_every_result_and_the_run_going(tmp_path):
    """Found by the packed fault soak: the results folder read-only for a few seconds made
    the driver's next `result.json` append end the run. Now rows and snapshots wait in memory
    (one line says so) and go in once the folder takes writes again; only the last snapshot
    must be written."""
    from benchmarks.fault_soak import read_only

    executor = _executor(tmp_path)
    lines = []
    executor.write = lines.append
    trial = PackTrial("mlp_00000", {}, status=RUNNING)
    executor.trials = [trial]
    run = tmp_path / "run"
    run.mkdir()
    executor._log_result(trial, {"training_iteration": 1})
    with read_only(run):
        executor._log_result(trial, {"training_iteration": 2})
        executor._log_result(trial, {"training_iteration": 3})
        executor.save_state(final=False)  # mid-run: tried again a period later
        assert not (run / pack_state.STATE_FILE).exists()
        with pytest.raises(OSError):
            executor.save_state()  # the last one must be written
    executor._log_result(trial, {"training_iteration": 4})
    epochs = [json.loads(line)["training_iteration"]
              for line in (run / "mlp_00000" / "result.json").read_text().splitlines()]
    assert epochs == [1, 2, 3, 4]
    assert len([line for line in lines if "for now" in line]) == 1, lines
    executor.save_state(final=False)
    assert (run / pack_state.STATE_FILE).exists()


def test_a_worker_the_smaller_cluster_cannot_place_is_given_up(tmp_path, monkeypatch):
    """Found by the packed fault soak: after the node kill, replacement workers the one-node
    cluster could not place held the lost members forever. Now such a worker is given up
    after `place_s` while another runs; its members wait for a worker that is there."""
    import ray

    from tuner.launch.packed.executor import _Worker

    executor = _executor(tmp_path)
    executor.plan.workers, executor.plan.place_s = 2, 60.0
    lines = []
    executor.write = lines.append
    running = _Worker("live-handle", ready=None)
    late = _Worker("late-handle", ready="late-ready", born=time.monotonic() - 61)
    fresh = _Worker("fresh-handle", ready="fresh-ready", born=time.monotonic())
    member = PackTrial("mlp_00001", {}, status=RUNNING, epochs=2, history=[0.4, 0.5],
                       checkpoint_epoch=2, checkpoint_reports=2,
                       checkpoint=_checkpoint(tmp_path / "run" / "mlp_00001" / "c2"))
    member.worker, late.members = late, [member]
    executor.trials, executor.workers = [member], [running, late, fresh]
    executor.inflight = {"train-late": late}
    killed = []
    monkeypatch.setattr(ray, "wait", lambda refs, **kw: ([], refs))  # neither has started
    monkeypatch.setattr(ray, "kill", killed.append)
    executor._give_up_unplaceable()
    assert killed == ["late-handle"] and executor.workers == [running, fresh]
    assert executor.inflight == {} and member.worker is None
    assert (member.status, member.epochs, member.retries) == (PAUSED, 2, 0)
    assert executor.plan.workers == 2 and "not placed in 60 s" in lines[0]
    # with no worker started yet (a cluster still coming up) nothing is given up
    executor.workers = [_Worker("h", ready="r", born=time.monotonic() - 600)]
    executor._give_up_unplaceable()
    assert len(executor.workers) == 1
