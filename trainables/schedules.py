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

Regularisation strategies (`wd_schedule`, `dropout_schedule`): `constant` keeps the config's
value; `feedback` follows the generalisation gap, see :class:`GapFeedback`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch.optim import lr_scheduler

from trainables.hypergradient import DEFAULT_BETA, HypergradientOptimizer

OPTIMIZERS = ("sgd", "adam", "adamw")
LR_SCHEDULES = ("constant", "step", "exponential", "cosine", "plateau", "hypergradient")
DEFAULT_HORIZON = 100  # cosine length when max_epochs is not set
REG_SCHEDULES = ("constant", "feedback")


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


@dataclass
class GapFeedback:
    """A regulariser driven by the generalisation gap: up when it widens, down when it closes.

    After each epoch the gap ``val_loss - train_loss`` is smoothed by an exponential moving
    average, ``g_t = s * g_{t-1} + (1 - s) * gap_t`` (``g_1 = gap_1``). Compared with the
    previous smoothed gap:

    * widened (``g_t > g_{t-1} + tolerance``) while positive (the model fits the training
      data better than the validation data): ``value`` rises;
    * closed (``g_t < g_{t-1} - tolerance``): ``value`` falls;
    * otherwise it is held. It always stays in ``[low, high]``.

    ``mode="multiply"`` moves by ``× step`` / ``÷ step`` (weight decay spans decades);
    ``mode="add"`` by ``± step`` (dropout is a probability). The value in force for epoch
    ``t + 1`` is what :meth:`update` returns after epoch ``t``. Why our own: Keras'
    ``ReduceLROnPlateau`` and torch's schedulers react to one metric's plateau, never to the
    gap between two, and neither touches weight decay or dropout.
    """

    value: float
    low: float
    high: float
    step: float
    mode: str = "multiply"  # multiply | add
    smoothing: float = 0.5
    tolerance: float = 0.0
    gap: float | None = None  # the smoothed gap after the last update

    def __post_init__(self) -> None:
        if self.mode not in ("multiply", "add"):
            raise ValueError(f"GapFeedback mode must be 'multiply' or 'add', got {self.mode!r}")
        self.value = self._clip(self.value)

    def _clip(self, value: float) -> float:
        return float(min(self.high, max(self.low, value)))

    def update(self, train_loss: float, val_loss: float) -> float:
        """Take one epoch's losses; return the value for the next epoch."""
        raw = float(val_loss) - float(train_loss)
        if not math.isfinite(raw):
            return self.value
        previous = self.gap
        self.gap = raw if previous is None else (self.smoothing * previous
                                                 + (1.0 - self.smoothing) * raw)
        if previous is None:
            return self.value
        up = self.value * self.step if self.mode == "multiply" else self.value + self.step
        down = self.value / self.step if self.mode == "multiply" else self.value - self.step
        if self.gap > previous + self.tolerance and self.gap > 0:
            self.value = self._clip(up)
        elif self.gap < previous - self.tolerance:
            self.value = self._clip(down)
        return self.value

    def state_dict(self) -> dict[str, Any]:
        return asdict(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint's value and smoothed gap, inside *this* config's bounds
        (after a PBT exploit the bounds may be mutated ones)."""
        self.gap = state["gap"]
        self.value = self._clip(state["value"])


def build_feedback(cfg: Any, dropout: float) -> dict[str, GapFeedback]:
    """``{"weight_decay": …, "dropout": …}`` controllers for the strategies set to feedback.

    Weight decay starts at the config's ``weight_decay`` clipped into ``[wd_min, wd_max]``
    and moves by ``× / ÷ wd_factor``; dropout starts at the model's ``dropout`` clipped into
    ``[dropout_min, dropout_max]`` and moves by ``± dropout_step``."""
    out = {}
    common = {"smoothing": cfg.gap_smoothing, "tolerance": cfg.gap_tolerance}
    if cfg.wd_schedule == "feedback":
        out["weight_decay"] = GapFeedback(cfg.weight_decay, cfg.wd_min, cfg.wd_max,
                                          cfg.wd_factor, "multiply", **common)
    if cfg.dropout_schedule == "feedback":
        out["dropout"] = GapFeedback(dropout, cfg.dropout_min, cfg.dropout_max,
                                     cfg.dropout_step, "add", **common)
    return out


def set_weight_decay(optimizer: Any, value: float) -> None:
    for group in optimizer.param_groups:
        group["weight_decay"] = value


def set_dropout(model: torch.nn.Module, p: float) -> int:
    """Set the drop probability of every dropout in ``model``; returns how many were set.

    ``nn.Dropout`` modules read ``p`` at each forward; ``nn.MultiheadAttention`` keeps its
    own float ``dropout``."""
    count = 0
    for module in model.modules():
        if isinstance(module, torch.nn.modules.dropout._DropoutNd):
            module.p = p
            count += 1
        elif isinstance(module, torch.nn.MultiheadAttention):
            module.dropout = p
            count += 1
    return count
