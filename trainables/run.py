"""`TrainingRun`: the whole life of one trial (data, model, optimiser, schedule, RNG) as a
plain object, so the Ray shell stays thin and everything here is testable without Ray.

One `train_one_epoch()` = one Tune `step()`; `state_dict()` / `load_state_dict()` capture
model, optimiser (hypergradient state included), LR scheduler, GradScaler, epoch and every
RNG stream, so a restored run continues bit-for-bit as if never interrupted.
"""

from __future__ import annotations

import copy
import math
import os
import random
import resource
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from trainables.config import ConfigError, TrainConfig
from trainables.cost import count_params, latency_ms
from trainables.data import Dataset, load_dataset, subset
from trainables.loop import evaluate, train_epoch
from trainables.schedules import (
    build_feedback,
    build_optimizer,
    build_scheduler,
    set_dropout,
    set_weight_decay,
    step_scheduler,
)

ModelFactory = Callable[[Mapping[str, Any], Dataset], nn.Module]
DataFactory = Callable[[TrainConfig], Dataset]
METRICS = (
    "train_loss",
    "val_loss",
    "val_accuracy",
    "lr",
    "epoch",
    "data_fraction",
    "epoch_seconds",
    "samples_per_s",
    "peak_memory_mb",
    "params",
    "latency_ms",
)
NONFINITE = "non-finite loss"


def default_data(cfg: TrainConfig) -> Dataset:
    return load_dataset(cfg.dataset, seed=cfg.seed, data_dir=cfg.data_dir)


def resolve_device(requested: str, assigned_gpus: list | None = None) -> torch.device:
    """ "auto": CUDA when torch sees a GPU and (outside Ray, or) Ray assigned this trial one.

    Ray no longer hides GPUs from 0-GPU trials, so inside Ray an empty `assigned_gpus`
    means CPU even when `torch.cuda.is_available()`.
    """
    if requested == "cpu":
        return torch.device("cpu")
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device={requested!r} but torch sees no CUDA GPU")
        return torch.device(requested)
    if not torch.cuda.is_available() or (assigned_gpus is not None and len(assigned_gpus) == 0):
        return torch.device("cpu")
    # Ray sets CUDA_VISIBLE_DEVICES to the assigned ids, so the first visible one is ours.
    return torch.device("cuda:0")


def peak_memory_mb(device: torch.device) -> float:
    """CUDA max allocated on `device`, else this process's peak resident set size."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class TrainingRun:
    """Build everything for one trial from a flat config and train it epoch by epoch."""

    def __init__(
        self,
        config: Mapping[str, Any],
        build_model: ModelFactory,
        load_data: DataFactory = default_data,
        assigned_gpus: list | None = None,
    ) -> None:
        self.config = dict(config)
        self.cfg = cfg = TrainConfig.from_flat(config)
        self.device = resolve_device(cfg.device, assigned_gpus)
        self.data = load_data(cfg)
        _seed_everything(cfg.seed)
        self.model = build_model(self._model_config(), self.data).to(self.device)
        if cfg.channels_last and self.device.type == "cuda" and len(self.data.input_shape) == 3:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.forward = torch.compile(self.model) if cfg.compile else self.model
        self.optimizer = build_optimizer(
            self.model.parameters(),
            optimizer=cfg.optimizer,
            lr=cfg.lr,
            weight_decay=cfg.weight_decay,
            momentum=cfg.momentum,
            nesterov=cfg.nesterov,
            lr_schedule=cfg.lr_schedule,
            hypergrad_beta=cfg.hypergrad_beta,
        )
        self.scheduler = build_scheduler(
            self.optimizer,
            lr_schedule=cfg.lr_schedule,
            warmup_epochs=cfg.warmup_epochs,
            step_size=cfg.step_size,
            gamma=cfg.gamma,
            plateau_patience=cfg.plateau_patience,
            plateau_factor=cfg.plateau_factor,
            max_epochs=cfg.max_epochs,
        )
        use_amp = cfg.amp and self.device.type == "cuda"
        self.amp_dtype = getattr(torch, cfg.amp_dtype) if use_amp else None
        self.scaler = (
            torch.amp.GradScaler("cuda") if use_amp and cfg.amp_dtype == "float16" else None
        )
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.feedback = build_feedback(cfg, float(self.config.get("dropout", 0.0) or 0.0))
        self._apply_feedback()
        self.epoch = 0
        self.batch_filter = None  # a data-parallel worker's shard of each batch (distributed)
        self._x_train, self._y_train = self._to_device(*self.data.split("train"))
        self._x_val, self._y_val = self._to_device(*self.data.split("val"))
        self._fractions: dict[float, tuple[torch.Tensor, torch.Tensor]] = {}
        self._costs: dict[str, Any] | None = None
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)

    def _model_config(self) -> dict[str, Any]:
        """The config the model is built from. With dropout feedback the model is built with
        a non-zero dropout (the MLP adds dropout layers only for ``dropout > 0``); the value
        in force is set on the modules right after (:meth:`_apply_feedback`)."""
        if self.cfg.dropout_schedule != "feedback":
            return self.config
        return {**self.config, "dropout": self.cfg.dropout_max or 0.5}

    def _apply_feedback(self) -> None:
        """Put the feedback controllers' current values into the optimiser and the model."""
        if "weight_decay" in self.feedback:
            set_weight_decay(self.optimizer, self.feedback["weight_decay"].value)
        if "dropout" in self.feedback and not set_dropout(self.model,
                                                          self.feedback["dropout"].value):
            raise ConfigError("dropout_schedule: feedback needs a model with dropout layers; "
                              f"{type(self.model).__name__} has none")

    def _feedback_step(self, x: torch.Tensor, y: torch.Tensor, val_loss: float) -> dict:
        """Update the gap-driven regularisers after an epoch; return what to report.

        Both losses are measured in eval mode (dropout off) on this epoch's training data and
        the validation split, so raising dropout does not itself close the gap."""
        if not self.feedback:
            return {}
        train_loss, _ = evaluate(self.forward, x, y, batch_size=self.cfg.eval_batch_size,
                                 amp_dtype=self.amp_dtype)
        out = {name: fb.value for name, fb in self.feedback.items()}  # in force this epoch
        for fb in self.feedback.values():
            fb.update(train_loss, val_loss)
        self._apply_feedback()
        gap = next(iter(self.feedback.values())).gap
        return {**out, "eval_train_loss": train_loss, "smoothed_gap": gap}

    def _to_device(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.to(self.device, non_blocking=True)
        if self.cfg.channels_last and self.device.type == "cuda" and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y.to(self.device, non_blocking=True)

    def train_data(self, fraction: float) -> tuple[torch.Tensor, torch.Tensor]:
        """The nested training subset for `fraction` (seeded by the run's seed)."""
        if fraction >= 1.0:
            return self._x_train, self._y_train
        if fraction not in self._fractions:
            idx = subset(self.data.y_train, fraction, self.cfg.seed).to(self.device)
            self._fractions[fraction] = (self._x_train[idx], self._y_train[idx])
        return self._fractions[fraction]

    def model_costs(self) -> dict[str, Any]:
        """`params` and `latency_ms` of this trial's own model (`trainables.cost` protocol).

        Measured on the first call — the first epoch, before it trains — and cached: both
        depend on the architecture, not on training, so every later epoch reports the same
        numbers at no cost. `restore` keeps the value; a new run (reset_config, a trial
        resumed in a fresh actor, a pack member) measures afresh. The eager `self.model` is
        timed, never `self.forward` (compiled or DDP-wrapped)."""
        if self._costs is None:
            self._costs = {"params": count_params(self.model),
                           "latency_ms": latency_ms(self.model, self._x_val,
                                                    amp_dtype=self.amp_dtype)}
        return dict(self._costs)

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def train_one_epoch(self) -> dict[str, Any]:
        """Train one epoch, validate, advance the schedule; return the metrics dict."""
        epoch = self.epoch + 1
        fraction = self.cfg.data_fraction(epoch)
        x, y = self.train_data(fraction)
        costs = self.model_costs()  # before training: keeps it out of epoch_seconds
        _sync(self.device)
        start = time.perf_counter()
        stats = train_epoch(
            self.forward,
            x,
            y,
            self.optimizer,
            batch_size=self.cfg.batch_size,
            generator=self.generator,
            scaler=self.scaler,
            amp_dtype=self.amp_dtype,
            batch_filter=self.batch_filter,
        )
        _sync(self.device)
        seconds = time.perf_counter() - start
        self.epoch = epoch
        lr = self.lr
        metrics: dict[str, Any] = {
            "train_loss": stats.loss,
            "lr": lr,
            "epoch": epoch,
            "data_fraction": fraction,
            "epoch_seconds": seconds,
            "samples_per_s": stats.samples / max(seconds, 1e-9),
            **costs,
        }
        if not math.isfinite(stats.loss):
            metrics.update(train_loss=math.nan, val_loss=math.nan, val_accuracy=math.nan)
            metrics.update(peak_memory_mb=peak_memory_mb(self.device), done=True, error=NONFINITE)
            return metrics
        val_loss, val_acc = evaluate(
            self.forward,
            self._x_val,
            self._y_val,
            batch_size=self.cfg.eval_batch_size,
            amp_dtype=self.amp_dtype,
        )
        step_scheduler(self.scheduler, val_loss)
        metrics.update(val_loss=val_loss, val_accuracy=val_acc)
        metrics.update(self._feedback_step(x, y, val_loss))
        metrics["peak_memory_mb"] = peak_memory_mb(self.device)
        if self.cfg.max_epochs is not None and epoch >= self.cfg.max_epochs:
            metrics["done"] = True
        return metrics

    def evaluate_split(self, split: str = "test") -> tuple[float, float]:
        x, y = self._to_device(*self.data.split(split))
        return evaluate(
            self.forward, x, y, batch_size=self.cfg.eval_batch_size, amp_dtype=self.amp_dtype
        )

    def state_dict(self) -> dict[str, Any]:
        """A snapshot (deep copy) of everything needed to continue this run exactly."""
        return copy.deepcopy(self._live_state())

    def _live_state(self) -> dict[str, Any]:
        # References to live tensors: fine to serialise at once, wrong to keep around.
        return {
            "format": 1,
            "epoch": self.epoch,
            "base_lr": self.cfg.lr,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "scaler": None if self.scaler is None else self.scaler.state_dict(),
            "feedback": {name: fb.state_dict() for name, fb in self.feedback.items()},
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                "numpy": np.random.get_state(),
                "python": random.getstate(),
                "shuffle": self.generator.get_state(),
            },
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.epoch = int(state["epoch"])
        self.model.load_state_dict(_by_position(state["model"], self.model))
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self._apply_hyperparameters(float(state.get("base_lr", self.cfg.lr)))
        saved = state.get("feedback") or {}
        for name, fb in self.feedback.items():
            if name in saved:  # else a checkpoint from a run without feedback: start afresh
                fb.load_state_dict(saved[name])
        self._apply_feedback()
        if self.scaler is not None and state.get("scaler") is not None:
            self.scaler.load_state_dict(state["scaler"])
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        if rng.get("cuda") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"][: torch.cuda.device_count()])
        np.random.set_state(rng["numpy"])
        random.setstate(rng["python"])
        self.generator.set_state(rng["shuffle"])

    def _apply_hyperparameters(self, saved_lr: float) -> None:
        """Let this config's optimiser hyperparameters win over the checkpoint's.

        Loading an optimiser state restores the saved lr / weight decay / momentum; after a
        PBT exploit the config holds mutated values that must take effect. The lr is rescaled
        by new/old base lr so schedule progress (warm-up, decays, plateau cuts) is kept.
        Identical configs (plain resume) change nothing.
        """
        ratio = self.cfg.lr / saved_lr
        for group in self.optimizer.param_groups:
            if ratio != 1.0:
                group["lr"] *= ratio
                if "initial_lr" in group:
                    group["initial_lr"] *= ratio
            group["weight_decay"] = self.cfg.weight_decay
            if self.cfg.optimizer == "sgd":
                group["momentum"] = self.cfg.momentum
                group["nesterov"] = self.cfg.nesterov and self.cfg.momentum > 0
        if ratio != 1.0 and self.scheduler is not None and hasattr(self.scheduler, "base_lrs"):
            self.scheduler.base_lrs = [lr * ratio for lr in self.scheduler.base_lrs]
            self.scheduler._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def save(self, path: str | os.PathLike) -> None:
        torch.save(self._live_state(), path)

    def restore(self, path: str | os.PathLike) -> None:
        # weights_only=False: the file holds numpy/python RNG states; it is our own file.
        self.load_state_dict(torch.load(path, map_location="cpu", weights_only=False))


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _by_position(saved: Mapping[str, Any], model: torch.nn.Module) -> Mapping[str, Any]:
    """`saved` model weights renamed to `model`'s keys when only the names differ.

    A PBT exploit may clone a trial (or pack member) whose dropout differs in being 0 (an MLP
    then has no `nn.Dropout`, which shifts its `Sequential` keys: `net.3` vs `net.4`); the
    weights still match by position and shape, the rule `trainables.packing.stack` packs by.
    Anything else is left to `load_state_dict`'s own error."""
    own = model.state_dict()
    if list(saved) == list(own) or len(saved) != len(own) or any(
            a.shape != b.shape for a, b in zip(saved.values(), own.values())):
        return saved
    return dict(zip(own, saved.values()))
