"""Score a saved trial on a held-out split in the driver, without Ray running."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trainables.base import CHECKPOINT_FILE, TorchTrainable


def evaluate_checkpoint(
    trainable_cls_or_name: type[TorchTrainable] | str | os.PathLike,
    config: Mapping[str, Any] | None = None,
    checkpoint_dir: str | os.PathLike | Any = None,
    split: str = "test",
) -> dict[str, float]:
    """Load a checkpoint written by `save_checkpoint` and return `{"<split>_loss",
    "<split>_accuracy"}` (split "test" by default; "val" and "train" also work).

    `checkpoint_dir` may be a path or a `ray.tune.Checkpoint` (its `.path` is used, so a
    remote checkpoint must be downloaded first with `to_directory()`). Runs on CPU unless
    `config["device"]` asks otherwise; the data splits come from the same seed as training.
    Given only the path of a run's `best.json`, its trainable, full config and checkpoint
    are read from there: `evaluate_checkpoint("results/NAME/best.json", split="val")`.
    """
    if config is None and str(trainable_cls_or_name).endswith(".json"):
        trainable_cls_or_name, config, checkpoint_dir = _from_best_json(trainable_cls_or_name)
    run = _restored_run(trainable_cls_or_name, config or {}, checkpoint_dir)
    loss, accuracy = run.evaluate_split(split)
    name = {"validation": "val"}.get(split, split)
    return {f"{name}_loss": loss, f"{name}_accuracy": accuracy}


def load_model(
    trainable_cls_or_name: type[TorchTrainable] | str,
    config: Mapping[str, Any],
    checkpoint_dir: str | os.PathLike | Any,
) -> Any:
    """The trained `torch.nn.Module` of a checkpoint, on CPU, in eval mode."""
    run = _restored_run(trainable_cls_or_name, config, checkpoint_dir)
    return run.model.eval()


def _restored_run(trainable_cls_or_name: Any, config: Mapping[str, Any], checkpoint_dir: Any):
    cls = _trainable(trainable_cls_or_name)
    path = Path(getattr(checkpoint_dir, "path", checkpoint_dir))
    file = path / CHECKPOINT_FILE if path.is_dir() else path
    if not file.exists():
        raise FileNotFoundError(f"no {CHECKPOINT_FILE} in {path} (not written by TorchTrainable?)")
    cfg = {**config, "device": config.get("device", "cpu"), "compile": False}
    run = cls.make_run(cfg)
    run.restore(file)
    return run


def _trainable(spec: Any) -> type[TorchTrainable]:
    """A class, a registry name, or `package.module:Class` (what best.json records)."""
    if not isinstance(spec, str):
        return spec
    from trainables.registry import TRAINABLES, get_trainable

    if spec in TRAINABLES or ":" not in spec:
        return get_trainable(spec)
    import importlib

    module, _, attr = spec.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _from_best_json(path: str | os.PathLike) -> tuple[str, dict, str]:
    import json

    with open(path) as f:
        best = json.load(f)
    missing = [k for k in ("trainable", "config", "checkpoint") if not best.get(k)]
    if missing:
        raise ValueError(f"{path}: no {', '.join(missing)} (written by an older tuner?)")
    return best["trainable"], best["config"], best["checkpoint"]
