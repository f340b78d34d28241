"""What a trained model costs to keep and to run: the objectives a user trades against accuracy.

Every trial reports `params` and `latency_ms` (`TrainingRun.model_costs`), measured by the
one protocol below, so two trials' numbers compare whether they trained alone, packed or
data-parallel.

Latency protocol (`latency_ms`): the model in eval mode under `torch.no_grad()` (and the
trial's autocast dtype, if any), on a fixed batch — the first `LATENCY_BATCH` validation
inputs, already on the trial's device in its memory format; `WARMUP_PASSES` untimed forward
passes (lazy init, allocator, cuDNN/oneDNN kernel choice), then `TIMED_PASSES` forward passes
each timed alone with `time.perf_counter`, bracketed by `torch.cuda.synchronize` on a GPU; the
median pass time divided by the batch's size, in milliseconds. That is the per-example cost
of batched inference (what serving a batch pays per input), not batch-1 latency, which for
models this small is mostly Python overhead and hardly tells widths apart. The eager module
is timed, never a `torch.compile`d or DDP-wrapped forward (a new batch shape would recompile;
a wrapper is not the deployed model). The model's training mode is restored afterwards.
"""

from __future__ import annotations

import math
import statistics
import time

import torch
from torch import nn

from trainables.loop import autocast

LATENCY_BATCH = 64  # validation inputs per timed pass
WARMUP_PASSES = 2  # untimed passes before timing
TIMED_PASSES = 5  # timed passes; their median is reported


def count_params(model: nn.Module) -> int:
    """Trainable parameters (shared tensors once): the model-size objective."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@torch.no_grad()
def latency_ms(model: nn.Module, x: torch.Tensor, *, amp_dtype: torch.dtype | None = None,
               batch: int = LATENCY_BATCH) -> float:
    """Per-example inference time of `model` on the first `batch` rows of `x`, in ms, by the
    module docstring's protocol (NaN for an empty `x`)."""
    xb = x[:batch]
    if len(xb) == 0:
        return math.nan
    was_training = model.training
    model.eval()
    try:
        times = [_timed_pass(model, xb, amp_dtype) for _ in range(WARMUP_PASSES + TIMED_PASSES)]
    finally:
        model.train(was_training)
    return statistics.median(times[WARMUP_PASSES:]) * 1000.0 / len(xb)


def _timed_pass(model: nn.Module, xb: torch.Tensor, amp_dtype: torch.dtype | None) -> float:
    """Seconds of one forward pass, queued GPU work included."""
    _sync(xb.device)
    start = time.perf_counter()
    with autocast(xb.device, amp_dtype):
        model(xb)
    _sync(xb.device)
    return time.perf_counter() - start


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
