"""Models: each a `@dataclass` config plus an `nn.Module`, nanoGPT style."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trainables.models._common import ACTIVATIONS, config_from_flat
from trainables.models.cnn import CNN, CNNConfig
from trainables.models.mlp import MLP, MLPConfig
from trainables.models.resnet import ResNet, ResNetConfig
from trainables.models.transformer import Transformer, TransformerConfig

MODELS = {
    "mlp": (MLP, MLPConfig),
    "cnn": (CNN, CNNConfig),
    "resnet": (ResNet, ResNetConfig),
    "transformer": (Transformer, TransformerConfig),
}


def build_model(
    name: str, config: Mapping[str, Any], input_shape: tuple[int, ...], num_classes: int
):
    """Model `name` from the flat trial config; shapes come from the data."""
    try:
        module, config_cls = MODELS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; valid: {sorted(MODELS)}") from None
    return module(
        config_from_flat(
            config_cls, config, input_shape=tuple(input_shape), num_classes=num_classes
        )
    )


__all__ = [
    "ACTIVATIONS",
    "CNN",
    "MLP",
    "MODELS",
    "CNNConfig",
    "MLPConfig",
    "ResNet",
    "ResNetConfig",
    "Transformer",
    "TransformerConfig",
    "build_model",
    "config_from_flat",
]
