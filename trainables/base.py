"""Thin `ray.tune.Trainable` shells over `TrainingRun`, one per model, plus a factory for
user models. One `step()` = one epoch. Only `ray.tune` APIs are used (never `ray.train`)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import torch
from ray import tune
from torch import nn

from trainables.config import TrainConfig
from trainables.data import Dataset, load_dataset
from trainables.models import MODELS
from trainables.models import build_model as build_model_by_name
from trainables.run import TrainingRun

CHECKPOINT_FILE = "trainable.pt"


class TorchTrainable(tune.Trainable):
    """Base Trainable: subclass and implement `build_model(config, data)` (a classmethod).

    `defaults` fill keys missing from the trial config (the trial config always wins);
    override `load_data` to train on your own `Dataset`.
    """

    defaults: ClassVar[dict[str, Any]] = {}
    # Config keys that change the shapes of the model's weights: a checkpoint cannot be
    # loaded across a change of these, so PBT must not mutate them (the model trainables fill
    # this from their config dataclass; a custom model may set it).
    shape_keys: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def build_model(cls, config: Mapping[str, Any], data: Dataset) -> nn.Module:
        raise NotImplementedError(f"{cls.__name__} must implement build_model(config, data)")

    @classmethod
    def load_data(cls, cfg: TrainConfig) -> Dataset:
        return load_dataset(cfg.dataset, seed=cfg.seed, data_dir=cfg.data_dir)

    @classmethod
    def make_run(cls, config: Mapping[str, Any], assigned_gpus: list | None = None) -> TrainingRun:
        """The `TrainingRun` for `config` (defaults merged), usable without Ray."""
        return TrainingRun(
            {**cls.defaults, **config}, cls.build_model, cls.load_data, assigned_gpus
        )

    def setup(self, config: dict[str, Any]) -> None:
        threads = os.environ.get("OMP_NUM_THREADS")  # Ray sets it from the trial's CPUs
        if threads and threads.isdigit():
            torch.set_num_threads(max(1, int(threads)))
        self.run = self.make_run(config, assigned_gpus=_assigned_gpus())

    def step(self) -> dict[str, Any]:
        return self.run.train_one_epoch()

    def save_checkpoint(self, checkpoint_dir: str) -> None:
        self.run.save(Path(checkpoint_dir) / CHECKPOINT_FILE)

    def load_checkpoint(self, checkpoint: str | dict) -> None:
        self.run.restore(Path(checkpoint) / CHECKPOINT_FILE)

    def reset_config(self, new_config: dict[str, Any]) -> bool:
        """Rebuild everything for a new trial in this actor (data stay cached)."""
        self.setup(new_config)
        return True


def _assigned_gpus() -> list | None:
    """Ray's GPU ids for this actor; None outside a Ray worker (then any visible GPU is fair)."""
    import ray

    if not ray.is_initialized():
        return None
    return list(ray.get_gpu_ids())


# Model-config fields that leave the weights' shapes alone (PBT may change them mid-run).
_SHAPE_FREE = {"dropout", "activation", "input_shape", "num_classes"}


def _model_trainable(name: str, cls_name: str, doc: str) -> type[TorchTrainable]:
    def build_model(cls, config: Mapping[str, Any], data: Dataset) -> nn.Module:
        return build_model_by_name(name, config, data.input_shape, data.num_classes)

    config_cls = MODELS[name][1]
    shape_keys = frozenset(f.name for f in dataclasses.fields(config_cls)) - _SHAPE_FREE

    return type(
        cls_name,
        (TorchTrainable,),
        {
            "__doc__": doc,
            "__module__": __name__,
            "build_model": classmethod(build_model),
            "shape_keys": shape_keys,
        },
    )


MLPTrainable = _model_trainable(
    "mlp", "MLPTrainable", "MLP; keys: hidden, depth, dropout, activation."
)
CNNTrainable = _model_trainable(
    "cnn", "CNNTrainable", "CNN; keys: channels, depth, kernel_size, dropout, activation."
)
ResNetTrainable = _model_trainable(
    "resnet",
    "ResNetTrainable",
    "Small ResNet; keys: channels, blocks, stages, dropout, activation.",
)
TransformerTrainable = _model_trainable(
    "transformer",
    "TransformerTrainable",
    "Patch Transformer; keys: patch, d_model, heads, layers, mlp_ratio, dropout, activation.",
)


def make_trainable(
    model_fn: Callable[[Mapping[str, Any], Dataset], nn.Module],
    *,
    name: str | None = None,
    data_fn: Callable[[TrainConfig], Dataset] | None = None,
    **defaults: Any,
) -> type[TorchTrainable]:
    """A `TorchTrainable` subclass around `model_fn(config, data) -> nn.Module`.

    `data_fn(cfg) -> Dataset` replaces the named datasets; `defaults` fill missing config keys.
    """
    attrs: dict[str, Any] = {
        "defaults": dict(defaults),
        "build_model": classmethod(lambda cls, config, data: model_fn(config, data)),
        "__module__": getattr(model_fn, "__module__", __name__),
    }
    if data_fn is not None:
        attrs["load_data"] = classmethod(lambda cls, cfg: data_fn(cfg))
    return type(
        name or f"{getattr(model_fn, '__name__', 'Custom')}Trainable", (TorchTrainable,), attrs
    )
