"""Plain convolutional classifier: [conv-BN-act-pool] x depth, global pooling, linear head.

Works on images `(C, H, W)` (Conv2d) and sequences `(C, L)` (Conv1d, e.g. MNIST-1D).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from trainables.models._common import activation, conv_layers


@dataclass
class CNNConfig:
    input_shape: tuple[int, ...] = (1, 8, 8)  # set from the data: (C, H, W) or (C, L)
    num_classes: int = 10  # set from the data
    channels: int = 32  # width of the first stage; doubled at each later stage
    depth: int = 2  # number of conv stages
    kernel_size: int = 3  # odd, "same" padding
    dropout: float = 0.0  # dropout before the linear head
    activation: str = "relu"  # relu | gelu | silu | tanh | elu

    def __post_init__(self) -> None:
        if self.channels < 1 or self.depth < 1:
            raise ValueError(
                f"CNN: need channels >= 1 and depth >= 1, got {self.channels}, {self.depth}"
            )
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"CNN: kernel_size must be odd and >= 1, got {self.kernel_size}")


class CNN(nn.Module):
    def __init__(self, config: CNNConfig) -> None:
        super().__init__()
        self.config = config
        conv, norm, pool = conv_layers(len(config.input_shape) - 1)
        size = min(config.input_shape[1:])
        layers: list[nn.Module] = []
        c_in = config.input_shape[0]
        for i in range(config.depth):
            c_out = config.channels * 2**i
            layers += [
                conv(c_in, c_out, config.kernel_size, padding=config.kernel_size // 2, bias=False),
                norm(c_out),
                activation(config.activation),
            ]
            if size >= 2:  # pool while there is something left to pool
                layers.append(pool(2))
                size //= 2
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(), nn.Dropout(config.dropout), nn.Linear(c_in, config.num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        return self.head(h.mean(dim=tuple(range(2, h.ndim))))
