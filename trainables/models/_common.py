"""Small helpers shared by the models: activations and 1-D/2-D layer choice."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
}

C = TypeVar("C")


def activation(name: str) -> nn.Module:
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}") from None


def conv_layers(ndim: int) -> tuple[type[nn.Module], type[nn.Module], type[nn.Module]]:
    """`(Conv, BatchNorm, MaxPool)` for 1-D sequences `(C, L)` or 2-D images `(C, H, W)`."""
    if ndim == 1:
        return nn.Conv1d, nn.BatchNorm1d, nn.MaxPool1d
    if ndim == 2:
        return nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d
    raise ValueError(f"conv models need inputs shaped (C, L) or (C, H, W), got {ndim} spatial dims")


def config_from_flat(cls: type[C], flat: Mapping[str, Any], **fixed: Any) -> C:
    """Build dataclass `cls` from the keys of a flat trial config that name its fields.

    Unknown keys are ignored (the tuner adds its own); `fixed` (shapes from the data) wins.
    """
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs = {k: v for k, v in flat.items() if k in names}
    kwargs.update(fixed)
    return cls(**kwargs)
