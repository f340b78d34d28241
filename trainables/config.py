"""The flat trial config shared with the `tuner` package: keys, defaults, validation.

Every key has a default, so a plain `ray.tune.Tuner(MLPTrainable, param_space={"lr": ...})`
works; keys this module does not know are ignored (the tuner adds its own, models read
theirs). Searchers hand back numpy scalars and floats for integer knobs: they are coerced.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trainables.schedules import LR_SCHEDULES, OPTIMIZERS, REG_SCHEDULES

DEVICES = ("auto", "cpu", "cuda")
AMP_DTYPES = ("float16", "bfloat16")


class ConfigError(ValueError):
    """A trial config value is out of range; the message names the key and the value."""


@dataclass
class TrainConfig:
    # data and run (static)
    dataset: str = "digits"  # digits | mnist1d | mnist | fashion_mnist | cifar10 | registered
    data_dir: str | None = None  # folder with IDX / CIFAR files (mnist, fashion_mnist, cifar10)
    seed: int = 0  # fixes splits, init, shuffling, dropout and data fractions
    fidelity_schedule: list | None = None  # [[up_to_epoch, data_fraction], ...]; None = all data
    max_epochs: int | None = None  # step() returns done=True after this epoch; None = never
    device: str = "auto"  # auto (CUDA if a GPU is visible and assigned) | cpu | cuda | cuda:N
    amp: bool = False  # mixed precision (autocast + GradScaler); CUDA only, ignored on CPU
    amp_dtype: str = "float16"  # float16 (with GradScaler) | bfloat16 (no scaler needed)
    compile: bool = False  # torch.compile the model (needs a working compiler toolchain)
    channels_last: bool = False  # NHWC memory format for image CNNs on GPU
    # hyperparameters
    lr: float = 1e-3  # initial / base learning rate
    weight_decay: float = 0.0  # L2 (sgd, adam) or decoupled (adamw) weight decay
    optimizer: str = "adam"  # sgd | adam | adamw
    momentum: float = 0.9  # sgd only
    nesterov: bool = False  # sgd only, needs momentum > 0
    batch_size: int = 64  # training mini-batch size
    lr_schedule: str = (
        "constant"  # constant | step | exponential | cosine | plateau | hypergradient
    )
    warmup_epochs: int = 0  # cosine: linear warm-up epochs
    step_size: int = 10  # step: epochs between decays
    gamma: float = 0.5  # step, exponential: decay factor
    plateau_patience: int = 3  # plateau: epochs without val-loss improvement before a cut
    plateau_factor: float = 0.5  # plateau: multiplier at each cut
    hypergrad_beta: float | None = None  # hypergradient: lr of the lr; None = 1e-3 sgd, 1e-7 adam
    eval_batch_size: int = 2048  # validation/test batch size (memory only; no effect on results)
    # regularisation driven by the generalisation gap (schedules.GapFeedback)
    wd_schedule: str = "constant"  # constant | feedback (weight decay follows the gap)
    wd_min: float = 1e-5  # feedback: weight decay never below this (> 0: it moves by ×/÷)
    wd_max: float = 0.01  # feedback: weight decay never above this
    wd_factor: float = 2.0  # feedback: × when the gap widens, ÷ when it closes
    dropout_schedule: str = "constant"  # constant | feedback (dropout follows the gap)
    dropout_min: float = 0.0  # feedback: dropout never below this
    dropout_max: float = 0.5  # feedback: dropout never above this
    dropout_step: float = 0.05  # feedback: + when the gap widens, - when it closes
    gap_smoothing: float = 0.5  # feedback: EMA weight of the previous smoothed gap, in [0, 1)
    gap_tolerance: float = 0.01  # feedback: gap changes within ± this hold the value

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type in ("int", "int | None") and value is not None:
                setattr(self, f.name, _as_int(f.name, value))
            elif f.type in ("float", "float | None") and value is not None:
                setattr(self, f.name, float(value))
            elif f.type == "bool":
                setattr(self, f.name, bool(value))
        self._validate()

    @classmethod
    def from_flat(cls, config: Mapping[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in config.items() if k in names})

    def _validate(self) -> None:
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        _choice("amp_dtype", self.amp_dtype, AMP_DTYPES)
        if self.device.split(":")[0] not in DEVICES:
            raise ConfigError(f"device must be one of {DEVICES} or 'cuda:N', got {self.device!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"lr must be a finite number > 0, got {self.lr}")
        if self.batch_size < 1 or self.eval_batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.max_epochs is not None and self.max_epochs < 1:
            raise ConfigError(f"max_epochs must be >= 1, got {self.max_epochs}")
        if self.fidelity_schedule is not None:
            self.fidelity_schedule = _fidelity(self.fidelity_schedule)
        self._validate_feedback()

    def _validate_feedback(self) -> None:
        _choice("wd_schedule", self.wd_schedule, REG_SCHEDULES)
        _choice("dropout_schedule", self.dropout_schedule, REG_SCHEDULES)
        if not 0 < self.wd_min <= self.wd_max:
            raise ConfigError(f"wd_min must be > 0 and <= wd_max, got wd_min={self.wd_min}, "
                              f"wd_max={self.wd_max}")
        if not self.wd_factor > 1:
            raise ConfigError(f"wd_factor must be > 1, got {self.wd_factor}")
        if not 0 <= self.dropout_min <= self.dropout_max < 1:
            raise ConfigError(f"need 0 <= dropout_min <= dropout_max < 1, got dropout_min="
                              f"{self.dropout_min}, dropout_max={self.dropout_max}")
        if not self.dropout_step > 0:
            raise ConfigError(f"dropout_step must be > 0, got {self.dropout_step}")
        if not 0 <= self.gap_smoothing < 1:
            raise ConfigError(f"gap_smoothing must be in [0, 1), got {self.gap_smoothing}")
        if self.gap_tolerance < 0:
            raise ConfigError(f"gap_tolerance must be >= 0, got {self.gap_tolerance}")

    def data_fraction(self, epoch: int) -> float:
        """Training fraction for 1-based `epoch`: the first pair with up_to_epoch >= epoch."""
        for up_to, fraction in self.fidelity_schedule or ():
            if epoch <= up_to:
                return fraction
        return 1.0


def _as_int(name: str, value: Any) -> int:
    as_float = float(value)
    if as_float != int(as_float):
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    return int(as_float)


def _choice(name: str, value: Any, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ConfigError(f"{name} must be one of {list(valid)}, got {value!r}")


def _fidelity(schedule: Any) -> list[list]:
    pairs = [list(p) for p in schedule]
    if any(len(p) != 2 for p in pairs):
        raise ConfigError(
            f"fidelity_schedule: need [up_to_epoch, data_fraction] pairs, got {schedule!r}"
        )
    out = [[_as_int("fidelity_schedule up_to_epoch", e), float(f)] for e, f in pairs]
    epochs = [e for e, _ in out]
    if epochs != sorted(epochs) or len(set(epochs)) != len(epochs):
        raise ConfigError(f"fidelity_schedule: up_to_epoch must increase strictly, got {epochs}")
    bad = [f for _, f in out if not 0.0 < f <= 1.0]
    if bad:
        raise ConfigError(f"fidelity_schedule: data_fraction must be in (0, 1], got {bad}")
    return out
