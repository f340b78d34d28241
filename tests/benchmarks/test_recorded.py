"""Recorded-curve tables (issue 21): the task file, the snapping rule, the recorder (killed and
restarted, it retrains nothing it finished), and the table served to the harness."""
from __future__ import annotations

import gzip
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from benchmarks.recorded import recorder
from benchmarks.recorded.table import TableBenchmark, TableMissing
from benchmarks.recorded.task import load_task
from search_spaces import Categorical, Float, Int

ROOT = Path(__file__).resolve().parents[2]

TINY = """
trainable: mlp
config: {dataset: digits, optimizer: adamw, lr_schedule: cosine}
epochs: EPOCHS
metric: val_accuracy
mode: max
grid:
  lr:     {type: float, log: true, values: [1.0e-3, 1.0e-2]}
  depth:  {type: int, values: [1, 2]}
  hidden: {type: categorical, values: [16, 32, 64, 128]}
noise: {configs: 2, seeds: [1], sample_seed: 0}
"""


def tiny_task(tmp_path: Path, epochs: int = 2, name: str = "tiny"):
    (tmp_path / name).mkdir(parents=True)
    (tmp_path / name / "task.yaml").write_text(TINY.replace("EPOCHS", str(epochs)))
    return load_task(name, tmp_path)


# ---- the task file and the snapping rule -------------------------------------------------
def test_the_space_searchers_see_is_the_one_a_user_writes(tmp_path):
    task = tiny_task(tmp_path)
    space = task.space()
    assert space["lr"] == Float(1e-3, 1e-2, log=True)
    assert space["depth"] == Int(1, 2)
    assert space["hidden"] == Categorical((16, 32, 64, 128))
    assert len(task.points()) == 16 and task.points()[0] == {"lr": 1e-3, "depth": 1, "hidden": 16}


@pytest.mark.parametrize("lr, expected", [
    (1e-3, 1e-3), (3.0e-3, 1e-3),   # below the log midpoint 3.16e-3
    (3.3e-3, 1e-2), (1e-2, 1e-2),
    (1e-5, 1e-3), (1.0, 1e-2),      # outside the range: clipped to the nearest end
])
def test_a_proposal_snaps_to_the_nearest_grid_value_on_the_log_scale(tmp_path, lr, expected):
    task = tiny_task(tmp_path)
    i = task.snap({"lr": lr, "depth": 2, "hidden": 64})
    assert task.points()[i] == {"lr": expected, "depth": 2, "hidden": 64}


def test_snapping_is_linear_for_a_linear_parameter_and_exact_for_a_choice(tmp_path):
    task = tiny_task(tmp_path)
    assert task.points()[task.snap({"lr": 1e-3, "depth": 1, "hidden": 128})]["depth"] == 1
    assert task.points()[task.snap({"lr": 1e-3, "depth": 2, "hidden": 128})]["depth"] == 2
    with pytest.raises(ValueError, match="hidden=48 is not a recorded choice"):
        task.snap({"lr": 1e-3, "depth": 1, "hidden": 48})


@pytest.mark.parametrize("grid, message", [
    ("{lr: {type: float, values: [0.1, 0.01]}}", "increasing"),
    ("{lr: {type: float, log: true, values: [0, 0.1]}}", "log scale needs values > 0"),
    ("{lr: {type: number, values: [1]}}", "type must be one of"),
    ("{lr: {type: float, values: [0.1, 0.1]}}", "distinct"),
])
def test_a_bad_grid_is_refused_naming_the_parameter_and_the_rule(tmp_path, grid, message):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "task.yaml").write_text(
        f"trainable: mlp\nepochs: 2\nmetric: val_accuracy\nmode: max\ngrid: {grid}\n")
    with pytest.raises(ValueError, match=message):
        load_task("bad", tmp_path)


# ---- the recorder ---------------------------------------------------------------------------
def test_the_recorder_records_every_point_and_the_noise_seeds(tmp_path):
    task = tiny_task(tmp_path)
    assert recorder.record(task, pack_size=4, log=lambda *_: None) == 0
    rows = recorder.read_curves(task.folder)
    pairs = {(int(r["config_id"]), int(r["seed"])) for r in rows}
    assert pairs == {(i, 0) for i in range(16)} | {(i, 1) for i in task.noise_ids()}
    assert len(rows) == len(pairs) * 2  # every epoch, once
    assert all(0 <= float(r["test_accuracy"]) <= 1 and float(r["seconds"]) > 0 for r in rows)
    assert recorder.todo(task, rows) == []


def test_the_recorder_killed_and_restarted_retrains_nothing_it_finished(tmp_path):
    task = tiny_task(tmp_path, epochs=12)
    cmd = [sys.executable, "-m", "benchmarks.recorded.recorder", "--task", "tiny",
           "--tables", str(tmp_path), "--pack-size", "2"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    curves = task.folder / recorder.CURVES
    deadline = time.time() + 120
    while not curves.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = recorder.read_curves(task.folder)
    assert before and recorder.todo(task, before), "killed after the first pack, not the last"
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, timeout=300)
    after = recorder.read_curves(task.folder)
    assert recorder.todo(task, after) == []
    keys = [(r["config_id"], r["seed"], r["epoch"]) for r in after]
    assert len(keys) == len(set(keys))  # nothing recorded twice
    # a retrained run would have new timings: the finished runs' rows are byte-identical
    kept = {(r["config_id"], r["seed"], r["epoch"]): r for r in after}
    assert all(kept[(r["config_id"], r["seed"], r["epoch"])] == r for r in before)
    with gzip.open(curves, "rt") as f:
        assert f.readline().strip().split(",") == list(recorder.COLUMNS)


# ---- the table as a benchmark instance ------------------------------------------------------
def test_the_table_answers_like_a_benchmark_instance(tmp_path):
    task = tiny_task(tmp_path, epochs=3)
    recorder.record(task, pack_size=4, log=lambda *_: None)
    bench = TableBenchmark(task)
    rows = [r for r in recorder.read_curves(task.folder) if r["seed"] == "0"]
    by = {(int(r["config_id"]), int(r["epoch"])): r for r in rows}
    cfg = {"lr": 2e-3, "depth": 2, "hidden": 32}  # snaps to lr 1e-3
    i = task.snap(cfg)
    values, seconds = bench.metric_and_time([cfg, cfg], [2, 3])
    assert values[0] == pytest.approx(float(by[(i, 2)]["val_accuracy"]))
    assert seconds[1] == pytest.approx(sum(float(by[(i, e)]["seconds"]) for e in (1, 2, 3)))
    assert bench.test_score(cfg) == pytest.approx(float(by[(i, 3)]["test_accuracy"]))
    last = [float(by[(j, 3)]["val_accuracy"]) for j in range(16)]
    assert bench.regret(max(last)) == 0 and bench.regret(min(last)) == 1
    assert bench.multi_epoch and bench.fidelity_max == 3 and bench.dim == 3
    noise = bench.noise()
    assert noise["configs"] == 2 and noise["seeds"] == 2 and math.isfinite(noise["test_sd"])


def test_a_table_not_yet_recorded_says_how_to_record_it(tmp_path):
    task = tiny_task(tmp_path)
    recorder.record(task, pack_size=16, max_minutes=1e-9, log=lambda *_: None)
    with pytest.raises(TableMissing, match="recorder --task tiny"):
        TableBenchmark(task)


def test_the_checked_in_tables_are_complete_and_big_enough():
    from benchmarks.recorded.table import instances, load

    names = instances()
    assert {"real/mnist1d-cnn", "real/digits-mlp"} <= set(names)
    for name in names:
        bench = load(name)
        task = bench.task
        assert len(task.points()) >= 500 and task.epochs >= 27
        assert task.noise_configs >= 30 and len(task.noise_seeds) >= 2
        assert bench.noise()["configs"] >= 30
        assert np.isfinite(bench.values).all()
