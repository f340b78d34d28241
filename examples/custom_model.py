"""Tune your own PyTorch model with the `trainables` machinery in ~20 lines.

`make_trainable(model_fn)` wraps any `model_fn(config, data) -> nn.Module`; you get seeded
data splits, the optimisers and LR strategies, exact checkpoint/resume, actor reuse and the
standard metrics (val_accuracy, val_loss, ...), a test score and `best_model()`.
Run: python examples/custom_model.py
"""

from __future__ import annotations

import math
import tempfile

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
    import tuner
    from search_spaces import Categorical, Float, SearchSpace

    results = tuner.run(
        {
            "name": "custom_model",
            "trainable": TinyConvNet,  # a class from make_trainable: test score included
            "space": SearchSpace({"lr": Float(1e-3, 1e-1, log=True),
                                  "width": Categorical([8, 16, 32])}),
            "config": {"dataset": "digits"},
            "metric": "val_accuracy",
            "mode": "max",
            "num_samples": 4,
            "budget": {"min": 1, "max": 3, "eta": 3},
        },
        storage=tempfile.mkdtemp(prefix="custom_model_"),
        quiet=True,
    )
    acc = results.best.last
    print(f"best params {results.best_params} -> val_accuracy {acc:.3f}, test {results.test}")
    model = results.best_model()  # the trained nn.Module, ready to use
    print(type(model).__name__, sum(p.numel() for p in model.parameters()), "weights")
    raise SystemExit(0 if math.isfinite(acc) else 1)
