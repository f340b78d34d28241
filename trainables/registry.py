"""Trainables by name, as the `tuner` experiment files refer to them."""

from __future__ import annotations

from trainables.base import (
    CNNTrainable,
    MLPTrainable,
    ResNetTrainable,
    TorchTrainable,
    TransformerTrainable,
)

TRAINABLES: dict[str, type[TorchTrainable]] = {
    "mlp": MLPTrainable,
    "cnn": CNNTrainable,
    "resnet": ResNetTrainable,
    "transformer": TransformerTrainable,
}


def get_trainable(name: str) -> type[TorchTrainable]:
    """The trainable class registered as `name`; KeyError lists the valid names."""
    try:
        return TRAINABLES[name]
    except KeyError:
        raise KeyError(f"unknown trainable {name!r}; valid: {sorted(TRAINABLES)}") from None
