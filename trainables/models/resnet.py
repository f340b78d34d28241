"""Small pre-activation ResNet (He et al. 2016, "Identity Mappings in Deep Residual Networks").

Three stages of `blocks` basic blocks; stages 2 and 3 double the width and halve the
resolution (while it is at least 2). Works on images `(C, H, W)` and sequences `(C, L)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from trainables.models._common import activation, conv_layers


@dataclass
class ResNetConfig:
    input_shape: tuple[int, ...] = (1, 8, 8)  # set from the data: (C, H, W) or (C, L)
    num_classes: int = 10  # set from the data
    channels: int = 16  # width of the first stage (x2, x4 in stages 2 and 3)
    blocks: int = 1  # basic blocks per stage (1 -> a ResNet-8, 3 -> ResNet-20 style)
    stages: int = 3  # number of stages
    dropout: float = 0.0  # dropout before the linear head
    activation: str = "relu"  # relu | gelu | silu | tanh | elu

    def __post_init__(self) -> None:
        if min(self.channels, self.blocks, self.stages) < 1:
            raise ValueError(
                f"ResNet: channels, blocks, stages must be >= 1, got "
                f"{self.channels}, {self.blocks}, {self.stages}"
            )


class _Block(nn.Module):
    """Pre-activation basic block: BN-act-conv-BN-act-conv + (projected) shortcut."""

    def __init__(self, ndim: int, c_in: int, c_out: int, stride: int, act: str) -> None:
        super().__init__()
        conv, norm, _ = conv_layers(ndim)
        self.norm1, self.act1 = norm(c_in), activation(act)
        self.conv1 = conv(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.norm2, self.act2 = norm(c_out), activation(act)
        self.conv2 = conv(c_out, c_out, 3, padding=1, bias=False)
        self.shortcut = (
            conv(c_in, c_out, 1, stride=stride, bias=False)
            if stride != 1 or c_in != c_out
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act1(self.norm1(x))
        skip = x if self.shortcut is None else self.shortcut(h)
        h = self.conv1(h)
        h = self.conv2(self.act2(self.norm2(h)))
        return h + skip


class ResNet(nn.Module):
    def __init__(self, config: ResNetConfig) -> None:
        super().__init__()
        self.config = config
        ndim = len(config.input_shape) - 1
        conv, norm, _ = conv_layers(ndim)
        self.stem = conv(config.input_shape[0], config.channels, 3, padding=1, bias=False)
        size, c_in, blocks = min(config.input_shape[1:]), config.channels, []
        for s in range(config.stages):
            c_out = config.channels * 2**s
            for b in range(config.blocks):
                stride = 2 if (s > 0 and b == 0 and size >= 2) else 1
                size = (size + 1) // 2 if stride == 2 else size
                blocks.append(_Block(ndim, c_in, c_out, stride, config.activation))
                c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.norm, self.act = norm(c_in), activation(config.activation)
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(c_in, config.num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.norm(self.blocks(self.stem(x))))
        return self.head(h.mean(dim=tuple(range(2, h.ndim))))
