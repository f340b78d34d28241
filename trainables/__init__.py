"""PyTorch trainables for `tuner`: models, data, loops, LR strategies and Ray Tune shells.

Imports nothing from `tuner`; the agreed flat config keys are documented in
`trainables.config.TrainConfig` and each model's `*Config` dataclass. The Ray shells
(`*Trainable`, `TRAINABLES`, `evaluate_checkpoint`) are imported on first use, so data,
models, loops and `TrainingRun` work where Ray is not installed (e.g. a bare GPU box).
"""

from __future__ import annotations

import importlib
from typing import Any

from trainables.config import ConfigError, TrainConfig
from trainables.data import Dataset, load_dataset, register_dataset, subset
from trainables.run import TrainingRun

_LAZY = {
    "TorchTrainable": "trainables.base",
    "MLPTrainable": "trainables.base",
    "CNNTrainable": "trainables.base",
    "ResNetTrainable": "trainables.base",
    "TransformerTrainable": "trainables.base",
    "make_trainable": "trainables.base",
    "evaluate_checkpoint": "trainables.evaluate",
    "load_model": "trainables.evaluate",
    "TRAINABLES": "trainables.registry",
    "get_trainable": "trainables.registry",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'trainables' has no attribute {name!r}")


__all__ = [
    "TRAINABLES",
    "CNNTrainable",
    "ConfigError",
    "Dataset",
    "MLPTrainable",
    "ResNetTrainable",
    "TorchTrainable",
    "TrainConfig",
    "TrainingRun",
    "TransformerTrainable",
    "evaluate_checkpoint",
    "get_trainable",
    "load_dataset",
    "load_model",
    "make_trainable",
    "register_dataset",
    "subset",
]
