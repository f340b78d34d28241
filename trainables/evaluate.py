"""Score a saved trial on a held-out split in the driver, without Ray running."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trainables.base import CHECKPOINT_FILE, TorchTrainable


def evaluate_checkpoint(
    trainable_cls_or_name: type[TorchTrainable] | str,
    config: Mapping[str, Any],
    checkpoint_dir: str | os.PathLike | Any,
    split: str = "test",
) -> dict[str, float]:
    """Load a checkpoint written by `save_checkpoint` and return `{"<split>_loss",
    "<split>_accuracy"}` (split "test" by default; "val" and "train" also work).

    `checkpoint_dir` may be a path or a `ray.tune.Checkpoint` (its `.path` is used, so a
    remote checkpoint must be downloaded first with `to_directory()`). Runs on CPU unless
    `config["device"]` asks otherwise; the data splits come from the same seed as training.
    """
    if isinstance(trainable_cls_or_name, str):
        from trainables.registry import get_trainable

        cls = get_trainable(trainable_cls_or_name)
    else:
        cls = trainable_cls_or_name
    path = Path(getattr(checkpoint_dir, "path", checkpoint_dir))
    file = path / CHECKPOINT_FILE if path.is_dir() else path
    if not file.exists():
        raise FileNotFoundError(f"no {CHECKPOINT_FILE} in {path} (not written by TorchTrainable?)")
    cfg = {**config, "device": config.get("device", "cpu"), "compile": False}
    run = cls.make_run(cfg)
    run.restore(file)
    loss, accuracy = run.evaluate_split(split)
    name = {"validation": "val"}.get(split, split)
    return {f"{name}_loss": loss, f"{name}_accuracy": accuracy}
