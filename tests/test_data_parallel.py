"""Data-parallel trials (``resources.workers``): each trial a Ray Train gang of gloo workers.

Pure pieces without Ray (averaging, sharding, config errors, the plan); then real runs on the
suite's local Ray (2 CPUs: one gang of 2 workers at a time): ASHA stopping a Lightning gang,
HyperBand pausing a gang and resuming it at the next epoch, and a worker killed mid-trial
retried from the checkpoint. The gang's curve against one process on the same global
batches: tests/benchmarks/test_data_parallel_bench.py.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import ray
import torch
import yaml

from tests.optional import require
from trainables.distributed import average_metrics, shard_batches
from tuner.errors import ConfigError
from tuner.experiment.config import parse_experiment
from tuner.launch import preflight
from tuner.launch.runner import plan_text, run

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers can't import tests

GANG = {"workers": 2, "cpus_per_worker": 1}
MLP = {"dataset": "digits", "hidden": 32, "depth": 1, "batch_size": 64, "optimizer": "sgd",
       "momentum": 0.9, "device": "cpu"}


def _raw(tmp_path: Path, **changes) -> dict:
    raw = {"name": "dp", "trainable": "mlp", "config": dict(MLP),
           "space": {"lr": {"type": "categorical", "choices": [0.05, 0.0001]}},
           "searcher": "random", "scheduler": "asha", "budget": {"min": 1, "max": 3, "eta": 3},
           "metric": "val_accuracy", "mode": "max", "num_samples": 2, "seed": 0,
           "resources": dict(GANG), "storage": str(tmp_path)}
    raw.update(changes)
    return raw


def _epochs(trial_dir: Path) -> list[dict]:
    """The trial's reports, from Ray's progress.csv. (Not result.json: Ray's JSON logger
    reloads it from storage when a paused trial restarts, and may reload a copy that lacks
    the epochs before the pause.)"""
    return pd.read_csv(trial_dir / "progress.csv").to_dict("records")


def _by_lr(out: Path) -> dict[float, list[dict]]:
    return {json.loads((d / "params.json").read_text())["lr"]: _epochs(d)
            for d in _trial_dirs(out)}


def _trial_dirs(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if (p / "progress.csv").exists())


# -- no Ray ---------------------------------------------------------------------------------
def test_metrics_are_averaged_over_workers_and_throughput_summed():
    merged = average_metrics([
        {"train_loss": 1.0, "val_accuracy": 0.5, "epoch": 2, "samples_per_s": 100.0,
         "done": False, "error": "x"},
        {"train_loss": 3.0, "val_accuracy": 0.7, "epoch": 2, "samples_per_s": 50.0,
         "done": False}])
    assert merged["train_loss"] == 2.0 and merged["val_accuracy"] == pytest.approx(0.6)
    assert merged["samples_per_s"] == 150.0 and merged["epoch"] == 2
    assert merged["workers"] == 2 and merged["done"] is False and merged["error"] == "x"


def test_shards_split_every_global_batch_without_overlap():
    idx = torch.arange(10)
    shards = [shard_batches(r, 3)(idx) for r in range(3)]
    assert sorted(torch.cat(shards).tolist()) == list(range(10))
    assert [len(s) for s in shards] == [4, 3, 3]


@pytest.mark.parametrize("resources, message", [
    ({"workers": 0}, "resources.workers: expected an integer >= 1"),
    ({"workers": 2, "gpus": 1}, "resources.gpus: unknown key; valid keys with workers"),
    ({"workers": 2, "cpus_per_worker": 0}, "a worker needs cpus_per_worker > 0"),
    ({"workers": 2, "gpus_per_worker": 1.5}, "fractions are only possible below 1 GPU"),
])
def test_bad_gangs_are_refused_in_one_line(tmp_path, resources, message):
    with pytest.raises(ConfigError, match=message):
        parse_experiment(_raw(tmp_path, resources=resources))


def test_a_gang_larger_than_the_machine_or_gpus_without_one_are_refused(tmp_path):
    big = parse_experiment(_raw(tmp_path, resources={"workers": 3, "cpus_per_worker": 1}))
    with pytest.raises(ConfigError, match="a gang of 3 workers needs 3 CPUs, but this machine"):
        preflight.check_local_resources(big, gpus=0, cpus=2)
    gpu = parse_experiment(_raw(tmp_path, resources={"workers": 2, "gpus_per_worker": 0.5}))
    with pytest.raises(ConfigError, match="gpus_per_worker: 0.5 per worker, but this machine "
                                          "has no GPU"):
        preflight.check_local_resources(gpu, gpus=0, cpus=2)
    preflight.check_local_resources(gpu, gpus=1, cpus=2)  # 2 × 0.5 GPU fit one GPU


def test_packing_and_ray_trainable_classes_cannot_run_data_parallel(tmp_path):
    with pytest.raises(ConfigError, match="packing: trials cannot be packed and data-parallel"):
        parse_experiment(_raw(tmp_path, packing={"members": 2}))
    from ray import tune

    class Plain(tune.Trainable):
        def step(self):
            return {"val_accuracy": 1.0}

    with pytest.raises(ConfigError, match="is a ray.tune.Trainable class"):
        parse_experiment(_raw(tmp_path, trainable=Plain))


def test_dry_run_shows_the_gang_and_how_many_fit(tmp_path):
    text = plan_text(parse_experiment(_raw(tmp_path)))
    assert "2 data-parallel workers × (1 CPU, 0 GPU) = 2 CPU, 0 GPU per trial" in text
    cpus = os.cpu_count()
    assert "backend gloo" in text and f"{cpus // 2} trial(s) at once on this machine" in text


# -- on Ray -----------------------------------------------------------------------------------
def flaky_train(config):
    """A user's per-worker loop (Ray Train's API + ``get_checkpoint``). The trial whose gang
    reports first scores best (two gangs do not fit at once, so which goes first is Ray's
    choice): HyperBand then pauses it at the rung, stops the other, resumes it. Its rank 1
    dies (``os._exit``) once, during epoch 3: ``report`` returned, so Train holds the
    gang's epoch-2 checkpoint."""
    import ray.train

    from trainables.distributed import get_checkpoint, report

    rank = ray.train.get_context().get_world_rank()
    resume = get_checkpoint(config)
    start = json.loads(Path(resume, "state.json").read_text())["epoch"] if resume else 0
    for epoch in range(start + 1, int(config["max_epochs"]) + 1):
        marker = Path(config["marker"])
        if rank == 1 and epoch == 3 and not marker.exists():
            marker.write_text(str(os.getpid()))
            os._exit(1)
        first = _first_to_report(Path(config["marker"]).parent / "first", config["lr"], rank)
        metrics = {"epoch": epoch, "val_accuracy": (0.9 if first else 0.1) * epoch / 3,
                   "resumed_from": start}
        if rank:
            report(config, metrics)
            continue
        folder = marker.parent / f"ckpt-{config['lr']}-{epoch}-{os.getpid()}"
        folder.mkdir()
        (folder / "state.json").write_text(json.dumps({"epoch": epoch}))
        report(config, metrics, str(folder))


def _first_to_report(path: Path, lr: float, rank: int) -> bool:
    """Rank 0 of the first gang to get here claims ``path``; every rank reads who did."""
    if rank == 0:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            os.write(fd, str(lr).encode())
            os.close(fd)
        except FileExistsError:
            pass
    while not path.exists() or not path.read_text():
        time.sleep(0.05)
    return float(path.read_text()) == lr


@pytest.mark.ray
@pytest.mark.slow
def test_hyperband_pauses_a_gang_and_a_killed_worker_is_retried_from_the_checkpoint(
        ray_session, tmp_path):
    """HyperBand stops both trials at the rung (1 epoch) while the other catches up; the
    better one resumes from its Tune checkpoint at epoch 2 in a new gang, whose rank 1 then
    dies during epoch 3: Train restarts the gang from the epoch-2 checkpoint it took itself
    (not the Tune one it started from), and no epoch is lost or repeated."""
    marker = tmp_path / "killed"
    raw = _raw(tmp_path, trainable=flaky_train, config={"marker": str(marker)},
               space={"lr": {"type": "categorical", "choices": [0.5, 0.1]}},
               points_to_evaluate=[{"lr": 0.5}, {"lr": 0.1}],
               scheduler="hyperband", budget={"min": 1, "max": 3, "eta": 3})
    outcome = run(parse_experiment(raw), write=lambda line: None)
    assert marker.exists(), "rank 1 never died: the test tested nothing"
    runs = _by_lr(tmp_path / "dp")
    first = float((tmp_path / "first").read_text())
    winner, other = runs.pop(first), runs.popitem()[1]
    assert [r["epoch"] for r in winner] == [1, 2, 3]
    assert [r["iterations_since_restore"] for r in winner] == [1, 1, 2]  # paused after 1
    assert [r["resumed_from"] for r in winner] == [0, 1, 2]
    assert [r["epoch"] for r in other] == [1]
    assert outcome.best.config["lr"] == first


def test_the_example_validates_and_tuner_plan_shows_its_gang(tmp_path, capsys):
    """examples/data_parallel_train.yaml validates, with its gang in ``--dry-run`` and in
    ``tuner plan``."""
    from tuner.cli import main

    raw = yaml.safe_load(Path("examples/data_parallel_train.yaml").read_text())
    exp = parse_experiment({**raw, "storage": str(tmp_path)}, base_dir=Path("."))
    assert exp.resources.workers == 2 and "backend gloo" in plan_text(exp)
    assert main(["plan", "examples/data_parallel_train.yaml"]) == 0
    assert "gang: Ray Train TorchTrainer, 2 workers, backend gloo" in capsys.readouterr().out


@pytest.mark.ray
@pytest.mark.slow
def test_asha_stops_a_lightning_gang_trained_with_lightnings_ddp(ray_session, tmp_path):
    """examples/lightning_digits.py unchanged, each trial on 2 workers: Lightning's DDP
    strategy inside Ray Train's workers, one averaged report per epoch; the poor trial (lr
    1e-5) meets the good one's rung-1 result and ASHA stops its gang; rank 0's checkpoint is
    scored in one process by the example's evaluate hook. (tuner's own trainables on a gang,
    and their curve against one process on the same global batches:
    tests/benchmarks/test_data_parallel_bench.py.)"""
    require("lightning", 'the [lightning] extra: pip install -e ".[lightning]"')
    import examples.lightning_digits as lit

    ray.cloudpickle.register_pickle_by_value(lit)
    raw = _raw(tmp_path, trainable=lit.train, evaluate=lit.evaluate,
               config={"hidden": 32, "depth": 1, "dropout": 0.0, "batch_size": 64,
                       "weight_decay": 0.0},
               space={"lr": {"type": "categorical", "choices": [0.01, 0.00001]}},
               points_to_evaluate=[{"lr": 0.01}, {"lr": 0.00001}])
    outcome = run(parse_experiment(raw), write=lambda line: None)
    runs = _by_lr(tmp_path / "dp")
    assert [r["epoch"] for r in runs[0.01]] == [1, 2, 3]
    assert [r["epoch"] for r in runs[0.00001]] == [1], "ASHA should stop the gang at rung 1"
    assert all(r["workers"] == 2 for r in runs[0.01])
    assert runs[0.01][-1]["val_accuracy"] > 0.5  # it learned
    assert outcome.best.config["lr"] == 0.01
    assert outcome.test and outcome.test["test_accuracy"] > 0.5


@pytest.mark.parametrize("epoch, every, decide_at, done, saves", [
    (2, 2, frozenset(), False, True),        # its checkpoint interval
    (1, 2, frozenset(), False, False),       # between saves, nothing to decide
    (1, 2, frozenset({1, 3, 9}), False, True),   # a rung: ASHA may stop it here
    (3, 0, frozenset({1, 3, 9}), False, True),   # checkpoint_every 0, still at the rungs
    (4, 0, frozenset({1, 3, 9}), False, False),
    (5, 2, None, False, True),               # the median rule / PBT: any epoch
    (7, 0, frozenset(), True, True),         # the end
])
def test_rank_0_saves_wherever_the_scheduler_may_stop_the_gang(epoch, every, decide_at, done,
                                                               saves):
    """Found by tests/test_killed_driver.py's helper: ASHA stopped a gang at rung 1 with
    `checkpoint_every: 2`, Tune asked for its checkpoint, there was none, and the trial
    errored and was retried from epoch 1."""
    from trainables.distributed import save_due

    assert save_due(epoch, every, decide_at, done) is saves


def test_the_gang_is_told_where_its_scheduler_decides():
    from types import SimpleNamespace

    from tuner.budget import BudgetLadder, hyperband_brackets
    from tuner.launch.data_parallel import decision_epochs

    ladder = BudgetLadder(min=1, max=10, eta=3)
    at = {s: decision_epochs(SimpleNamespace(scheduler=s, budget=ladder))
          for s in ("fifo", "asha", "asha-checked", "hyperband", "median", "pbt", "pb2")}
    assert at["fifo"] == frozenset() and at["asha"] == at["asha-checked"] == {1, 3, 9}
    assert at["hyperband"] == {r for b in hyperband_brackets(1, 10, 3) for r, *_ in b.rungs}
    assert at["median"] is at["pbt"] is at["pb2"] is None
