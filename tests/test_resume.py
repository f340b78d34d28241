"""--resume keeps the scheduler's state: a resumed ASHA decides as an uninterrupted one."""

from __future__ import annotations

import csv
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tuner.budget import BudgetLadder
from tuner.cli import main
from tuner.launch.resume import SchedulerStateCallback
from tuner.schedulers import make_scheduler
from tuner.schedulers.controller import make_trial

ROOT = Path(__file__).resolve().parents[1]
LADDER = BudgetLadder(min=1, max=27, eta=3)


def _workload(n: int = 30, seed: int = 0):
    """(trial id, value per epoch) with noisy, rising curves; results arrive interleaved."""
    rng = np.random.default_rng(seed)
    curves = {f"t{i:02d}": np.cumsum(rng.uniform(0, 1, LADDER.max)) * rng.uniform(0.2, 1.0)
              for i in range(n)}
    order = []
    for epoch in range(1, LADDER.max + 1):
        for tid in curves:
            order.append((tid, epoch))
    return curves, order


def _drive(scheduler, curves, events, live, trials):
    decisions = []
    for tid, epoch in events:
        if tid not in live:
            continue
        if tid not in trials:
            trials[tid] = make_trial(tid)
            scheduler.on_trial_add(None, trials[tid])
        result = {"val_accuracy": float(curves[tid][epoch - 1]), "training_iteration": epoch}
        decision = scheduler.on_trial_result(None, trials[tid], result)
        decisions.append((tid, epoch, decision))
        if decision == "STOP" or epoch == LADDER.max:
            scheduler.on_trial_complete(None, trials[tid], result)
            live.discard(tid)
    return decisions


def _readd(scheduler, trials, live):
    """What ``TuneController.resume`` does: new Trial objects, ``on_trial_add`` for each."""
    fresh = {}
    for tid in trials:
        trial = fresh[tid] = make_trial(tid)
        if tid not in live:
            trial.set_status(trial.TERMINATED)
        scheduler.on_trial_add(None, trial)
    return fresh


def _asha(seed=0):
    return make_scheduler("asha", LADDER, metric="val_accuracy", mode="max", seed=seed)


def test_resumed_asha_makes_the_same_decisions():
    curves, order = _workload()
    whole = _drive(_asha(), curves, order, set(curves), {})

    half = 2 * 30 + 15  # in the middle of rung 1 (epoch 3): some trials judged, some not
    first = _asha()
    live, trials = set(curves), {}
    before = _drive(first, curves, order[:half], live, trials)
    # what Ray snapshots and restores (pickled with the experiment state)
    state = pickle.loads(pickle.dumps(SchedulerStateCallback(first).get_state()))

    rebuilt = _asha()  # Tuner.restore rebuilds the scheduler empty
    callback = SchedulerStateCallback(rebuilt)
    callback.set_state(state)  # Ray restores callbacks first ...
    assert callback.restored
    fresh = _readd(rebuilt, trials, live)  # ... then re-adds every trial it knew
    after = _drive(rebuilt, curves, order[half:], live, fresh)
    assert before + after == whole
    assert any(d == "STOP" for _, _, d in after)


def test_without_restored_state_decisions_differ():
    """The failure the callback fixes (ray-project/ray#30838): an empty scheduler is lenient."""
    curves, order = _workload()
    whole = _drive(_asha(), curves, order, set(curves), {})
    half = 2 * 30 + 15  # in the middle of rung 1 (epoch 3): some trials judged, some not
    live, trials = set(curves), {}
    before = _drive(_asha(), curves, order[:half], live, trials)
    empty = _asha()
    after = _drive(empty, curves, order[half:], live, _readd(empty, trials, live))
    assert before + after != whole


def _experiment_file(tmp_path: Path) -> Path:
    path = tmp_path / "resume.yaml"
    path.write_text(
        "name: resume\ntrainable: mlp\nconfig: {dataset: digits}\n"
        "space:\n  lr: {type: float, low: 1.0e-3, high: 0.03, log: true}\n"
        "  hidden: {type: int, low: 16, high: 64}\n  batch_size: 64\n"
        "searcher: random\nscheduler: asha\nbudget: {min: 1, max: 9, eta: 3}\n"
        "metric: val_accuracy\nmode: max\nnum_samples: 16\nmax_concurrent: 1\nseed: 1\n"
        f"storage: {tmp_path / 'out'}\n")
    return path


@pytest.mark.ray
@pytest.mark.slow
def test_killed_driver_resumes_to_the_promised_trials(tmp_path, monkeypatch, capsys):
    exp = _experiment_file(tmp_path)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "tuner", "launch", str(exp)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)
    finished, deadline = 0, time.time() + 240
    lines = []
    out = tmp_path / "out" / "resume"
    try:
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("[") and "/16]" in line:
                finished += 1
            if finished >= 3 or time.time() > deadline:
                break
        # kill as soon as an experiment snapshot newer than the 3rd finished trial exists
        # (TUNE_GLOBAL_CHECKPOINT_S=2): trials run one at a time, so most are still to come
        seen = time.time()
        while time.time() < seen + 20:
            states = list(out.glob("experiment_state-*.json"))
            if states and max(p.stat().st_mtime for p in states) > seen:
                break
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and the local Ray it started
        proc.wait()
    assert finished >= 3, "".join(lines[-20:])
    assert not (out / "trials.csv").exists()  # killed before the end: nothing half-written

    # refused before Ray starts: the same `tuner launch` in this process (its own process
    # would only add ~8 s of imports)
    monkeypatch.chdir(ROOT)
    assert main(["launch", str(exp)]) == 2 and "--resume" in capsys.readouterr().err

    resumed = subprocess.run([sys.executable, "-m", "tuner", "launch", str(exp), "--resume"],
                             cwd=ROOT, capture_output=True, text=True, env=env, timeout=400)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "resumed scheduler state:" in resumed.stdout
    rows = list(csv.DictReader((out / "trials.csv").open()))
    ids = [r["trial_id"] for r in rows]
    assert len(ids) == 16 and len(set(ids)) == 16
    assert all(not r["status"].startswith("errored") for r in rows)
