"""A trivial trainable for measuring framework overhead (benchmarks/overhead.py).

``loss = (x − 1)² + (y + 2)² + 10 / epoch``, one report per epoch, no real work — so the wall
time of a run is the framework's. ``Trivial`` is a class Trainable with ``reset_config`` (actor
reuse) and dict checkpoints, usable by ``tuner launch`` as ``benchmarks.trivial:Trivial``;
``trivial_fn`` is the function-trainable form a Ray user would write.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ray import tune

__all__ = ["Trivial", "count_report", "loss", "trivial_fn"]


def loss(x: float, y: float, epoch: int) -> float:
    return (x - 1.0) ** 2 + (y + 2.0) ** 2 + 10.0 / epoch


def count_report() -> None:
    """Append one byte to ``$TRIVIAL_COUNTER`` (reports counted across worker processes)."""
    path = os.environ.get("TRIVIAL_COUNTER")
    if path:
        with open(path, "a") as f:
            f.write(".")


class Trivial(tune.Trainable):
    """Reports ``loss`` (and ``val_loss``) once per ``step``; 1 epoch = 1 step."""

    def setup(self, config: dict) -> None:
        self.x, self.y = float(config.get("x", 0.0)), float(config.get("y", 0.0))
        self.epoch = 0

    def step(self) -> dict:
        self.epoch += 1
        count_report()
        value = loss(self.x, self.y, self.epoch)
        return {"loss": value, "val_loss": value, "epoch": self.epoch}

    # The runner scores the winner's checkpoint on a test split through
    # trainables.evaluate_checkpoint: it reads ``trainable.pt`` and calls
    # ``make_run(config).restore(file)`` / ``.evaluate_split(split)`` — provided here.
    def save_checkpoint(self, checkpoint_dir: str) -> None:
        (Path(checkpoint_dir) / "trainable.pt").write_text(json.dumps({"epoch": self.epoch}))

    def load_checkpoint(self, checkpoint_dir: str) -> None:
        self.epoch = json.loads((Path(checkpoint_dir) / "trainable.pt").read_text())["epoch"]

    def reset_config(self, new_config: dict) -> bool:
        self.setup(new_config)
        return True

    @classmethod
    def make_run(cls, config: dict) -> _Run:
        return _Run(float(config.get("x", 0.0)), float(config.get("y", 0.0)))


class _Run:
    def __init__(self, x: float, y: float):
        self.x, self.y, self.epoch = x, y, 1

    def restore(self, file) -> None:
        self.epoch = json.loads(Path(file).read_text())["epoch"]

    def evaluate_split(self, split: str) -> tuple[float, float]:
        return loss(self.x, self.y, self.epoch), float("nan")


def trivial_fn(config: dict) -> None:
    """Function-trainable form: 10 reports."""
    for epoch in range(1, int(config.get("max_epochs", 10)) + 1):
        count_report()
        tune.report({"loss": loss(config["x"], config["y"], epoch), "epoch": epoch})
