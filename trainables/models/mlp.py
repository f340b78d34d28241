"""Multi-layer perceptron on flattened inputs."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from trainables.models._common import activation


@dataclass
class MLPConfig:
    input_shape: tuple[int, ...] = (1, 8, 8)  # set from the data; flattened to one vector
    num_classes: int = 10  # set from the data
    hidden: int = 128  # width of every hidden layer
    depth: int = 2  # number of hidden layers (0 = logistic regression)
    dropout: float = 0.0  # dropout after each hidden activation
    activation: str = "relu"  # relu | gelu | silu | tanh | elu

    def __post_init__(self) -> None:
        if self.hidden < 1 or self.depth < 0:
            raise ValueError(
                f"MLP: need hidden >= 1 and depth >= 0, got {self.hidden}, {self.depth}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"MLP: dropout must be in [0, 1), got {self.dropout}")


class MLP(nn.Module):
    def __init__(self, config: MLPConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(config.input_shape)
        for _ in range(config.depth):
            layers += [nn.Linear(width, config.hidden), activation(config.activation)]
            if config.dropout > 0:
                layers.append(nn.Dropout(config.dropout))
            width = config.hidden
        layers.append(nn.Linear(width, config.num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
