"""`packing:` in an experiment: parsing rules, the vmap check before Ray starts, and a packed
run on a local Ray whose members each train exactly like their solo run."""

from __future__ import annotations

import csv
import itertools
import math
from pathlib import Path

import pytest
from torch import nn

from tuner.experiment.config import parse_experiment
from tuner.errors import ConfigError
from tuner.experiment.packing import members_per_pack, parse_packing


def _raw(tmp_path: Path, **changes):
    raw = {
        "name": "packed",
        "trainable": "mlp",
        "config": {"dataset": "digits", "hidden": 32, "depth": 1, "batch_size": 64},
        "space": {
            "lr": {"type": "float", "low": 1.0e-3, "high": 0.1, "log": True},
            "dropout": {"type": "categorical", "choices": [0.0, 0.2]},
            "optimizer": "adam",
        },
        "searcher": "random",
        "scheduler": "asha",
        "budget": {"min": 1, "max": 3, "eta": 3},
        "metric": "val_accuracy",
        "mode": "max",
        "num_samples": 6,
        "seed": 1,
        "storage": str(tmp_path),
        "packing": {"members": 4},
    }
    raw.update(changes)
    return raw


# ---- parsing: one test per rule -----------------------------------------------------------
@pytest.mark.parametrize("value,expected", [
    (None, None), ({"members": 16}, 16), ({"members": "auto"}, "auto"), ("auto", "auto"),
    (8, 8), ({"members": 1}, None), ({}, "auto")])
def test_packing_values(value, expected):
    assert parse_packing(value) == expected


@pytest.mark.parametrize("value,message", [
    ({"members": 0}, "whole number >= 1"), ({"members": 2.5}, "whole number"),
    ({"members": "many"}, "'auto'"), ({"size": 4}, "packing.size: unknown key"),
    (True, "whole number")])
def test_bad_packing_values_name_the_rule(value, message):
    with pytest.raises(ConfigError, match=message):
        parse_packing(value)


def test_auto_spreads_trials_over_workers_up_to_the_cap():
    assert members_per_pack("auto", 24, 2) == 12
    assert members_per_pack("auto", 1000, 2) == 16
    assert members_per_pack(5, 1000, 2) == 5


def test_experiment_carries_packing(tmp_path):
    assert parse_experiment(_raw(tmp_path)).packing == 4
    assert parse_experiment(_raw(tmp_path, packing=None)).packing is None


def test_pbt_and_pb2_pack(tmp_path):
    for name in ("pbt", "pb2"):
        assert parse_experiment(_raw(tmp_path, scheduler=name)).packing == 4


class _Branchy(nn.Module):
    """Data-dependent control flow: fine alone, impossible under vmap."""

    def __init__(self, config, data):
        super().__init__()
        self.linear = nn.Linear(64, data.num_classes)

    def forward(self, x):
        h = self.linear(x.flatten(1))
        return h * 2 if h.mean() > 0 else h


def test_model_vmap_cannot_batch_is_one_line_before_ray(tmp_path):
    from trainables import make_trainable

    trainable = make_trainable(lambda config, data: _Branchy(config, data), name="Branchy")
    with pytest.raises(ConfigError, match=r"^packing: .*does not run under torch.func.vmap"):
        parse_experiment(_raw(tmp_path, trainable=trainable))


def test_hypergradient_members_are_refused(tmp_path):
    raw = _raw(tmp_path)
    raw["space"]["lr_schedule"] = "hypergradient"
    with pytest.raises(ConfigError, match="packing: lr_schedule=hypergradient"):
        parse_experiment(raw)


# ---- a packed run on a local Ray ---------------------------------------------------------
@pytest.mark.ray
@pytest.mark.slow
def test_packed_run_gives_each_trial_its_solo_curve(ray_session, tmp_path):
    from trainables.base import MLPTrainable
    from tuner.launch.runner import run

    exp = parse_experiment(_raw(tmp_path))
    lines: list[str] = []
    outcome = run(exp, write=lines.append, quiet=True)
    out = tmp_path / "packed"
    for name in ("trials.csv", "best.json", "report.md", "curves.png"):
        assert (out / name).stat().st_size > 0, name
    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert len(rows) == 6 and len(outcome.records) == 6
    assert sum("ended after" in line for line in lines) == 6
    stopped = [r for r in outcome.records if r.epochs < 3]
    assert stopped, "ASHA (eta 3, 6 trials) stops some members at the first rung"
    checked = 0
    for record in outcome.records:
        assert record.checkpoint and (Path(record.checkpoint) / "trainable.pt").exists()
        if record.config["dropout"] > 0:
            continue  # masks come from the pack's RNG stream: same law, other samples
        solo = MLPTrainable.make_run(record.config)
        curve = [solo.train_one_epoch()["val_accuracy"] for _ in record.history]
        assert all(math.isclose(a, b, abs_tol=1e-4) for a, b in zip(record.history, curve))
        checked += 1
    assert checked >= 2, "seed 1 samples dropout 0 for several trials"
    assert outcome.best is not None and "test_accuracy" in outcome.test


def _lineage(report: str) -> list[tuple[int, str, str, int]]:
    """(epoch, trial, copied, from epoch) of each row of report.md's PBT lineage table."""
    rows = report.split("## PBT lineage", 1)[1].split("|---:|---|---|---:|---|", 1)[1]
    out = []
    for line in rows.strip().splitlines():
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        out.append((int(cells[0]), cells[1], cells[2], int(cells[3])))
    return out


@pytest.mark.ray
@pytest.mark.slow
def test_packed_pbt_exploits_across_members(ray_session, tmp_path):
    """8 members in 2 packs of 4, PBT every 2 epochs: bottom members load a top member's
    checkpoint (and continue at its epoch), the lineage is in report.md as unpacked."""
    import json

    from tuner.launch.runner import run

    raw = _raw(tmp_path, scheduler={"name": "pbt", "perturbation_interval": 2},
               budget={"min": 1, "max": 8, "eta": 2}, num_samples=8, max_concurrent=1)
    raw["space"]["weight_decay"] = {"type": "float", "low": 1e-6, "high": 1e-2, "log": True}
    outcome = run(parse_experiment(raw), write=lambda _line: None, quiet=True)
    out = tmp_path / "packed"
    assert [r.status for r in outcome.records] == ["completed"] * 8
    lineage = _lineage((out / "report.md").read_text())
    assert lineage, "PBT (quantile 0.25 of 8) exploits at every perturbation"
    for epoch, trial, source, source_epoch in lineage:
        assert trial != source and source_epoch <= epoch
        lines = (out / trial / "result.json").read_text().splitlines()
        epochs = [json.loads(line)["epoch"] for line in lines]
        # the member continued from the copied checkpoint: next epoch is the source's + 1
        assert any(a == epoch and b == source_epoch + 1 for a, b in itertools.pairwise(epochs))
    for record in outcome.records:  # only the final checkpoint is left per member
        left = sorted(p.name for p in (out / record.trial_id).iterdir() if p.is_dir())
        assert left == ["checkpoint_000008"], left
