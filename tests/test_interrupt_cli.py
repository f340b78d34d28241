"""Ctrl-C as a user meets it: ``tuner launch`` in its own process with a function trainable
from the user's folder, interrupted mid-run, loaded with ``tuner.load``, then resumed."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import tuner
from tuner.cli import main

pytestmark = [pytest.mark.ray, pytest.mark.slow]

TRAIN = textwrap.dedent("""
    import json, os, tempfile, time
    from ray import tune

    def train(config):
        start = 0
        checkpoint = tune.get_checkpoint()
        if checkpoint:
            with checkpoint.as_directory() as d:
                start = json.load(open(os.path.join(d, "s.json")))["epoch"]
        for epoch in range(start + 1, config["max_epochs"] + 1):
            time.sleep(0.15)  # 6 trials of 6 epochs, one at a time: ~5 s to interrupt in
            with tempfile.TemporaryDirectory() as d:
                json.dump({"epoch": epoch}, open(os.path.join(d, "s.json"), "w"))
                tune.report({"val_accuracy": epoch * config["lr"], "epoch": epoch},
                            checkpoint=tune.Checkpoint.from_directory(d))
""")

EXPERIMENT = textwrap.dedent("""
    name: slow
    trainable: slow_train:train
    space: {lr: {type: float, low: 0.001, high: 0.1, log: true}}
    searcher: random
    scheduler: fifo
    budget: {min: 1, max: 6, eta: 3}
    metric: val_accuracy
    mode: max
    num_samples: 6
    max_concurrent: 1
    storage: results
""")


def _launch(folder, *extra):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "RAY_AUTH_MODE": "disabled"}
    return subprocess.Popen([sys.executable, "-m", "tuner", "launch", "exp.yaml", *extra],
                            cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)


def test_ctrl_c_then_load_then_resume(tmp_path, monkeypatch, capsys):
    (tmp_path / "slow_train.py").write_text(TRAIN)
    (tmp_path / "exp.yaml").write_text(EXPERIMENT)
    proc = _launch(tmp_path)
    lines = []
    deadline = time.time() + 240
    for line in proc.stdout:  # wait until the first trial ended, then press Ctrl-C
        lines.append(line)
        if line.startswith("[  1/6]") or time.time() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    out = "".join(lines) + proc.communicate(timeout=240)[0]
    assert proc.returncode == 130, out
    assert "continue with: tuner launch exp.yaml --resume" in out
    assert "Tuner.restore" not in out and "Failed to fetch metrics" not in out
    folder = tmp_path / "results" / "slow"
    report = (folder / "report.md").read_text()
    assert "**interrupted: " in report and " of 6 trials ended**" in report

    loaded = tuner.load(folder)
    assert loaded.interrupted and 1 <= (loaded.trials.status == "completed").sum() < 6

    proc = _launch(tmp_path, "--resume")
    out = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, out
    done = tuner.load(folder)
    assert not done.interrupted and list(done.trials.status) == ["completed"] * 6
    assert "interrupted" not in (folder / "report.md").read_text()

    before = (folder / "report.md").stat().st_mtime
    # ends before Ray starts: the same `tuner launch` in this process (its own process would
    # only add ~8 s of imports)
    monkeypatch.chdir(tmp_path)
    rc = main(["launch", "exp.yaml", "--resume"])
    out = "".join(capsys.readouterr())  # stdout + stderr, as the process's merged output
    assert rc == 0 and "nothing to resume" in out
    assert (folder / "report.md").stat().st_mtime == before  # a finished run is left alone
