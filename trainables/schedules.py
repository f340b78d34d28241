"""Optimisers and learning-rate strategies, chosen by name as hyperparameters.

Schedules are stepped once per epoch (after validation), so `lr` at epoch `e` (0-based) is:

| lr_schedule   | lr at epoch e                                                           |
|---------------|-------------------------------------------------------------------------|
| constant      | lr                                                                      |
| step          | lr * gamma ** (e // step_size)                                          |
| exponential   | lr * gamma ** e                                                         |
| cosine        | warm-up: lr * (e + 1) / (W + 1) for e < W; then                         |
|               | lr * 0.5 * (1 + cos(pi * (e - W) / (T - W)))  (T = max_epochs or 100)    |
| plateau       | lr * plateau_factor after `plateau_patience` epochs without val-loss gain |
| hypergradient | adapted every batch by hypergradient descent (see `hypergradient.py`)   |
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch.optim import lr_scheduler

from trainables.hypergradient import DEFAULT_BETA, HypergradientOptimizer

OPTIMIZERS = ("sgd", "adam", "adamw")
LR_SCHEDULES = ("constant", "step", "exponential", "cosine", "plateau", "hypergradient")
DEFAULT_HORIZON = 100  # cosine length when max_epochs is not set


def build_optimizer(
    params: Iterable[torch.nn.Parameter],
    *,
    optimizer: str = "adam",
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    momentum: float = 0.9,
    nesterov: bool = False,
    lr_schedule: str = "constant",
    hypergrad_beta: float | None = None,
) -> torch.optim.Optimizer | HypergradientOptimizer:
    """SGD (momentum, Nesterov), Adam or AdamW; wrapped for hypergradient descent when the
    schedule is "hypergradient" (SGD-HD / Adam-HD, default beta from the paper)."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    params = list(params)
    if optimizer == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(
            params,
            lr=lr,
            momentum=momentum,
            nesterov=bool(nesterov) and momentum > 0,
            weight_decay=weight_decay,
        )
    elif optimizer == "adam":
        opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if lr_schedule == "hypergradient":
        beta = DEFAULT_BETA[optimizer] if hypergrad_beta is None else hypergrad_beta
        return HypergradientOptimizer(opt, beta)
    return opt


def warmup_cosine(warmup_epochs: int, horizon: int):
    """Multiplier of the base lr at epoch e: linear warm-up, then cosine decay towards 0."""

    def factor(epoch: int) -> float:
        if epoch < warmup_epochs:
            return (epoch + 1) / (warmup_epochs + 1)
        span = max(1, horizon - warmup_epochs)
        return 0.5 * (1.0 + math.cos(math.pi * min(epoch - warmup_epochs, span) / span))

    return factor


def build_scheduler(
    optimizer: torch.optim.Optimizer | HypergradientOptimizer,
    *,
    lr_schedule: str = "constant",
    warmup_epochs: int = 0,
    step_size: int = 10,
    gamma: float = 0.5,
    plateau_patience: int = 3,
    plateau_factor: float = 0.5,
    max_epochs: int | None = None,
) -> Any | None:
    """The per-epoch `torch.optim.lr_scheduler` for `lr_schedule` (None for constant and
    hypergradient, whose rate only the optimiser changes)."""
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {lr_schedule!r}")
    if lr_schedule in ("constant", "hypergradient"):
        return None
    if lr_schedule == "step":
        if step_size < 1:
            raise ValueError(f"step_size must be >= 1, got {step_size}")
        return lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=gamma)
    if lr_schedule == "exponential":
        return lr_scheduler.ExponentialLR(optimizer, gamma=gamma)
    if lr_schedule == "cosine":
        if warmup_epochs < 0:
            raise ValueError(f"warmup_epochs must be >= 0, got {warmup_epochs}")
        horizon = max_epochs or DEFAULT_HORIZON
        return lr_scheduler.LambdaLR(optimizer, warmup_cosine(warmup_epochs, horizon))
    if not 0 < plateau_factor < 1:
        raise ValueError(f"plateau_factor must be in (0, 1), got {plateau_factor}")
    return lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=plateau_factor, patience=plateau_patience
    )


def step_scheduler(scheduler: Any | None, val_loss: float) -> None:
    """Advance an epoch-level scheduler; plateau reads the validation loss."""
    if scheduler is None:
        return
    if isinstance(scheduler, lr_scheduler.ReduceLROnPlateau):
        scheduler.step(val_loss)
    else:
        scheduler.step()
