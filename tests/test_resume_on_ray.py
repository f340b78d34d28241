"""Median stopping, PBT, PB2 and promotion-type ASHA resumed through real Ray make the
decisions of a run never interrupted (issue 25): ``tuner launch`` in its own process, Ctrl-C
mid-run, then the resume (``tuner.run(..., resume=True)``, the same ``Tuner.restore`` as
``--resume``).

The stand-in decision tables (``tests/schedulers/test_state_resume.py``) prove the schedulers'
state round trip on ``StubController``; this proves it where it matters, through Ray's
``Tuner.restore``. One trial runs at a time (2 CPUs each on a 2-CPU Ray), every epoch is
checkpointed, and the training function is deterministic, so the uninterrupted run is
reproducible and a resumed one must end the same: per trial, in creation order, the same
final config, status, epochs and last value, and for PBT/PB2 the same exploits (who copied
whom, by creation number). Ray's trial ids are random and ``Tuner.restore`` does not keep the
order it lists trials in, which is why trials are compared by creation number — and why
the population schedulers break ties by it (a resumed PBT run picked other trials before).
"""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import tuner
from tuner.schedulers.controller import creation_number

pytestmark = [pytest.mark.ray, pytest.mark.slow]

TRAIN = textwrap.dedent("""
    import json, math, os, tempfile, time
    from ray import tune

    def loss(config, epoch):
        return ((config["x"] - 0.4) ** 2 + (math.log10(config["lr"]) + 2) ** 2 / 10
                + 0.05 / epoch)

    def train(config):
        start = 0
        checkpoint = tune.get_checkpoint()
        if checkpoint:
            with checkpoint.as_directory() as d:
                start = json.load(open(os.path.join(d, "state.json")))["epoch"]
        for epoch in range(start + 1, 7):
            time.sleep(0.05)  # room for a Ctrl-C between two results
            with tempfile.TemporaryDirectory() as d:
                json.dump({"epoch": epoch}, open(os.path.join(d, "state.json"), "w"))
                tune.report({"loss": loss(config, epoch), "epoch": epoch},
                            checkpoint=tune.Checkpoint.from_directory(d))
""")

OPTIONS = {"asha-promotion": "",
           "pbt": "perturbation_interval: 2", "pb2": "perturbation_interval: 2"}


def _experiment(folder: Path, scheduler: str, name: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(textwrap.dedent(f"""
        name: {name}
        trainable: resume_train:train
        space:
          x: {{type: float, low: 0.0, high: 1.0}}
          lr: {{type: float, low: 1.0e-4, high: 0.1, log: true}}
        searcher: random
        scheduler: {{name: {scheduler}, {OPTIONS[scheduler]}}}
        budget: {{min: 1, max: 6, eta: 3}}
        metric: loss
        mode: min
        num_samples: 6
        resources: {{cpus: 2}}
        checkpoint_interval_s: 0
        seed: 7
        storage: {folder / 'out'}
    """))
    return path


def _launch(folder: Path, experiment: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "RAY_AUTH_MODE": "disabled"}
    return subprocess.Popen([sys.executable, "-m", "tuner", "launch", str(experiment), *extra],
                            cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)


def _results_so_far(run: Path) -> int:
    return sum(len(p.read_text().splitlines()) for p in run.glob("*/result.json"))


def _interrupt(folder: Path, experiment: Path, run: Path, cut: int) -> None:
    """``tuner launch`` in its own process, Ctrl-C once ``cut`` results are in."""
    proc = _launch(folder, experiment)
    deadline = time.time() + 240
    while _results_so_far(run) < cut and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=240)[0]
    assert proc.returncode == 130, out[-3000:]
    assert tuner.load(run).interrupted


def _outcome(run: Path) -> tuple[list, list]:
    """Per trial in creation order: (config, status, epochs, last value); and the exploits
    as (epoch, trial, copied, from epoch, mutation) with trials by creation number."""
    from ray.tune import ExperimentAnalysis

    number = {t.trial_id: creation_number(t.experiment_tag)
              for t in ExperimentAnalysis(str(run)).trials}
    rows = [(r["x"], r["lr"], r["status"], r["epochs"], r["last_loss"])
            for r in csv.DictReader(open(run / "trials.csv"))]
    exploits = []
    for line in (run / "report.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 5 and "→" in cells[4]:
            exploits.append((cells[0], number[cells[1]], number[cells[2]], cells[3], cells[4]))
    return rows, exploits


# median's and PB2's states are resumed the same way (PB2 is PBT's restore path plus its
# GP explore); their decision tables after a restore, PB2's donor choice among tied trials
# included, are tests/schedulers/test_state_resume.py (no Ray, a few ms)
@pytest.mark.parametrize("scheduler,cut", [("pbt", 14), ("asha-promotion", 8)])
def test_a_resumed_run_decides_as_the_uninterrupted_one(scheduler, cut, tmp_path,
                                                        ray_session, monkeypatch, capsys):
    (tmp_path / "resume_train.py").write_text(TRAIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)  # the shared Ray's workers import it from the driver's cwd
    ray_session.cloudpickle.register_pickle_by_value(__import__("resume_train"))
    tuner.run(str(_experiment(tmp_path, scheduler, "whole")), quiet=True)
    cut_run, cut_experiment = tmp_path / "out" / "cut", _experiment(tmp_path, scheduler, "cut")
    _interrupt(tmp_path, cut_experiment, cut_run, cut)
    capsys.readouterr()
    resumed = tuner.run(str(cut_experiment), resume=True, quiet=True)  # Tuner.restore
    assert not resumed.interrupted
    assert "resumed scheduler state:" in capsys.readouterr().out
    rows, exploits = _outcome(cut_run)
    expected_rows, expected_exploits = _outcome(tmp_path / "out" / "whole")
    assert rows == expected_rows
    assert exploits == expected_exploits
    if scheduler == "asha-promotion":  # cut while trials waited at their rungs
        assert sorted(r[3] for r in rows) == ["1", "1", "1", "1", "3", "6"]
    else:
        assert exploits  # and the population did exploit
