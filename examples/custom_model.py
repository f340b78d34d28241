"""Tune your own PyTorch model with the `trainables` machinery in ~20 lines.

`make_trainable(model_fn)` wraps any `model_fn(config, data) -> nn.Module`; you get seeded
data splits, the optimisers and LR strategies, exact checkpoint/resume, actor reuse and the
standard metrics (val_accuracy, val_loss, ...). Run: python examples/custom_model.py
"""

from __future__ import annotations

import math
import tempfile

import ray
from ray import tune
from torch import nn

from trainables import make_trainable


def tiny_convnet(config: dict, data) -> nn.Module:
    """Your model: reads its own keys from the flat trial config (with defaults)."""
    width = config.get("width", 16)
    return nn.Sequential(
        nn.Conv2d(data.input_shape[0], width, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * width, data.num_classes),
    )


TinyConvNet = make_trainable(tiny_convnet, name="TinyConvNet", dataset="digits", max_epochs=2)

if __name__ == "__main__":
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    tuner = tune.Tuner(
        TinyConvNet,
        param_space={"lr": tune.loguniform(1e-3, 1e-1), "width": tune.choice([8, 16, 32])},
        tune_config=tune.TuneConfig(
            metric="val_accuracy", mode="max", num_samples=2, reuse_actors=True
        ),
        run_config=tune.RunConfig(storage_path=tempfile.mkdtemp(prefix="custom_model_"), verbose=0),
    )
    best = tuner.fit().get_best_result()
    acc = best.metrics["val_accuracy"]
    print(
        f"best config {best.config} -> val_accuracy {acc:.3f} after {best.metrics['epoch']} epochs"
    )
    ray.shutdown()
    raise SystemExit(0 if math.isfinite(acc) else 1)
