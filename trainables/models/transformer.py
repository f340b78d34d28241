"""Small Transformer encoder classifier over patch tokens (ViT-style, Dosovitskiy et al. 2021).

Sequences `(C, L)` are cut into `L / patch` tokens of `C * patch` values (MNIST-1D with
patch 4 -> 10 tokens); images `(C, H, W)` into `(H / patch) * (W / patch)` square patches.
Learned positions, pre-norm encoder layers, mean pooling, linear head.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class TransformerConfig:
    input_shape: tuple[int, ...] = (1, 40)  # set from the data: (C, L) or (C, H, W)
    num_classes: int = 10  # set from the data
    patch: int = 4  # tokens are patches of this length (sequences) or side (images)
    d_model: int = 64  # token width
    heads: int = 4  # attention heads; must divide d_model
    layers: int = 2  # encoder layers
    mlp_ratio: int = 2  # feed-forward width = mlp_ratio * d_model
    dropout: float = 0.0  # dropout in attention and feed-forward
    activation: str = "gelu"  # relu | gelu (what nn.TransformerEncoderLayer accepts)

    def __post_init__(self) -> None:
        if self.d_model % self.heads:
            raise ValueError(
                f"Transformer: heads ({self.heads}) must divide d_model ({self.d_model})"
            )
        spatial = self.input_shape[1:]
        if self.patch < 1 or any(s % self.patch for s in spatial):
            raise ValueError(f"Transformer: patch ({self.patch}) must divide input sizes {spatial}")
        if self.activation not in ("relu", "gelu"):
            raise ValueError(
                f"Transformer: activation must be 'relu' or 'gelu', got {self.activation!r}"
            )

    @property
    def num_tokens(self) -> int:
        n = 1
        for s in self.input_shape[1:]:
            n *= s // self.patch
        return n


class Transformer(nn.Module):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        ndim = len(config.input_shape) - 1
        c, p = config.input_shape[0], config.patch
        embed = nn.Conv1d if ndim == 1 else nn.Conv2d  # a strided conv = a linear patch embedding
        self.embed = embed(c, config.d_model, kernel_size=p, stride=p)
        self.pos = nn.Parameter(torch.zeros(1, config.num_tokens, config.d_model))
        nn.init.normal_(self.pos, std=0.02)
        layer = nn.TransformerEncoderLayer(
            config.d_model,
            config.heads,
            dim_feedforward=config.mlp_ratio * config.d_model,
            dropout=config.dropout,
            activation=config.activation,
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.d_model)
        self.head = nn.Linear(config.d_model, config.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.embed(x).flatten(2).transpose(1, 2) + self.pos  # (N, T, d_model)
        return self.head(self.norm(self.encoder(tokens)).mean(dim=1))
