"""CUDA paths: device choice, AMP (float16 + GradScaler, bfloat16), channels-last,
torch.compile, CUDA peak memory, exact resume on the GPU. Skipped without a GPU; imports
no Ray, so it also runs on a bare GPU box (`pytest -m gpu tests/trainables`)."""

from __future__ import annotations

import math

import pytest
import torch

from trainables.models import build_model
from trainables.run import TrainingRun, resolve_device

pytestmark = pytest.mark.gpu
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _run(model="mlp", **config):
    return TrainingRun(
        config, lambda cfg, data: build_model(model, cfg, data.input_shape, data.num_classes)
    )


def test_auto_device_respects_ray_assignment():
    assert resolve_device("auto", assigned_gpus=[]).type == "cpu"  # a 0-GPU Ray trial
    assert resolve_device("cpu").type == "cpu"
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto", assigned_gpus=None).type == expected


@needs_cuda
@pytest.mark.parametrize("amp_dtype", ["float16", "bfloat16"])
def test_amp_epoch_on_cuda(amp_dtype):
    run = _run(amp=True, amp_dtype=amp_dtype)
    assert run.device.type == "cuda" and run.amp_dtype == getattr(torch, amp_dtype)
    assert (run.scaler is not None) == (amp_dtype == "float16")
    m = [run.train_one_epoch() for _ in range(3)][-1]
    assert math.isfinite(m["val_loss"]) and m["val_accuracy"] > 0.5
    assert 0 < m["peak_memory_mb"] < 2000  # CUDA allocator peak, not the process RSS


@needs_cuda
def test_resume_is_exact_on_cuda_with_amp():
    config = {"amp": True, "dropout": 0.2, "lr_schedule": "cosine", "max_epochs": 5}
    a = _run(**config)
    a.train_one_epoch(), a.train_one_epoch()
    state = a.state_dict()
    expected = a.train_one_epoch()
    b = _run(**config)
    b.load_state_dict(state)
    got = b.train_one_epoch()
    assert (got["train_loss"], got["val_loss"], got["lr"]) == (
        expected["train_loss"],
        expected["val_loss"],
        expected["lr"],
    )


@needs_cuda
def test_channels_last_cnn_and_compile():
    m = _run("cnn", channels_last=True, amp=True).train_one_epoch()
    assert math.isfinite(m["val_loss"])
    m = _run("mlp", compile=True).train_one_epoch()
    assert math.isfinite(m["val_loss"])
