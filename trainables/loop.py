"""Plain training and evaluation functions over in-memory tensors (no DataLoader).

Batches are index slices of tensors already on the device: no worker processes, no
collation, so a digits epoch costs milliseconds on one CPU thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class EpochStats:
    loss: float  # mean training loss over the epoch's samples (NaN/inf if it diverged)
    samples: int  # training samples seen


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """Mixed precision on CUDA when `dtype` is given; a no-op otherwise."""
    if dtype is None or device.type != "cuda":
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=dtype)


def train_epoch(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    optimizer: Any,
    *,
    batch_size: int = 64,
    generator: torch.Generator | None = None,
    scaler: torch.amp.GradScaler | None = None,
    amp_dtype: torch.dtype | None = None,
    stop_on_nonfinite: bool = True,
    batch_filter: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> EpochStats:
    """One pass over `(x, y)` in a shuffled order drawn from `generator` (CPU).

    Returns the sample-weighted mean loss. With `stop_on_nonfinite` the epoch ends at the
    first non-finite batch loss (checked every 16 batches to limit GPU syncs), since every
    later step would only push NaNs around. ``batch_filter`` picks this process's share of
    each global batch of indices (a data-parallel worker's shard,
    ``trainables.distributed.shard_batches``).
    """
    model.train()
    n = len(x)
    order = torch.randperm(n, generator=generator).to(x.device)
    total = torch.zeros((), device=x.device, dtype=torch.float64)
    seen = 0
    for b, start in enumerate(range(0, n, batch_size)):
        idx = order[start : start + batch_size]
        if batch_filter is not None:
            idx = batch_filter(idx)
        xb, yb = x[idx], y[idx]
        optimizer.zero_grad(set_to_none=True)
        with autocast(x.device, amp_dtype):
            loss = F.cross_entropy(model(xb), yb)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        total += loss.detach().double() * len(idx)
        seen += len(idx)
        if stop_on_nonfinite and b % 16 == 15 and not torch.isfinite(total):
            break
    return EpochStats(loss=float(total) / max(seen, 1), samples=seen)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    batch_size: int = 2048,
    amp_dtype: torch.dtype | None = None,
) -> tuple[float, float]:
    """`(mean cross-entropy, accuracy)` of `model` on `(x, y)` in eval mode."""
    model.eval()
    loss = torch.zeros((), device=x.device, dtype=torch.float64)
    correct = torch.zeros((), device=x.device, dtype=torch.long)
    for start in range(0, len(x), batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        with autocast(x.device, amp_dtype):
            logits = model(xb)
        loss += F.cross_entropy(logits.float(), yb, reduction="sum").double()
        correct += (logits.argmax(dim=1) == yb).sum()
    n = max(len(x), 1)
    return float(loss) / n, float(correct) / n
