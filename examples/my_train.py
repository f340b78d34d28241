"""A plain Ray Tune function trainable, tuned by tuner unchanged.

This is the code Ray's docs teach: ``train(config)`` loops over epochs, reports its metrics
with ``ray.tune.report`` and a checkpoint, and continues from ``ray.tune.get_checkpoint()`` when
a scheduler paused it. The only tuner-specific line is ``tuner.fidelity(config, epoch)``, which
tells the loop how many epochs the ladder allows and how much of the training data an epoch
uses (``budget.data_fraction``). Data: scikit-learn's bundled digits (offline).

    tuner launch examples/my_train.yaml          # from the command line
    python examples/my_train.py                  # from Python: tuner.run(...)
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
import torch
from ray import tune
from sklearn.datasets import load_digits
from torch import nn

import tuner


def _data(seed: int):
    """digits split 60/20/20 by ``seed`` (the same split for every trial of a run)."""
    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(y))
    x = torch.tensor(x[order] / 16.0, dtype=torch.float32)
    y = torch.tensor(y[order])
    a, b = int(0.6 * len(y)), int(0.8 * len(y))
    return (x[:a], y[:a]), (x[a:b], y[a:b]), (x[b:], y[b:])


def _model(config) -> nn.Module:
    return nn.Sequential(nn.Linear(64, int(config["hidden"])), nn.ReLU(),
                         nn.Dropout(config.get("dropout", 0.0)), nn.Linear(int(config["hidden"]), 10))


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    model.eval()
    with torch.no_grad():
        out = model(x)
    return float(nn.functional.cross_entropy(out, y)), float((out.argmax(1) == y).float().mean())


def train(config):
    """One report per epoch; a checkpoint with each, so HyperBand and PBT can pause it."""
    torch.manual_seed(config.get("seed", 0))
    (x, y), (xv, yv), _ = _data(config.get("seed", 0))
    model = _model(config)
    opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint:  # resumed after a pause, a retry or --resume
        with checkpoint.as_directory() as d:
            state = torch.load(os.path.join(d, "state.pt"))
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        start = state["epoch"]
    for epoch in range(start + 1, config["max_epochs"] + 1):
        share = tuner.fidelity(config, epoch).data_fraction  # the ladder's data fraction
        n = max(1, int(share * len(y)))
        model.train()
        for idx in torch.randperm(n).split(int(config["batch_size"])):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
        val_loss, val_accuracy = _accuracy(model, xv, yv)
        with tempfile.TemporaryDirectory() as d:
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "epoch": epoch},
                       os.path.join(d, "state.pt"))
            tune.report({"val_loss": val_loss, "val_accuracy": val_accuracy, "epoch": epoch},
                        checkpoint=tune.Checkpoint.from_directory(d))


def evaluate(config, checkpoint):
    """The test-set guard: the winner scored once on data the search never saw."""
    with checkpoint.as_directory() as d:
        state = torch.load(os.path.join(d, "state.pt"))
    model = _model(config)
    model.load_state_dict(state["model"])
    _, _, (xt, yt) = _data(config.get("seed", 0))
    test_loss, test_accuracy = _accuracy(model, xt, yt)
    return {"test_loss": test_loss, "test_accuracy": test_accuracy}


if __name__ == "__main__":
    from search_spaces import Categorical, Float, Int, SearchSpace

    results = tuner.run(
        {
            "name": "my_train_from_python",
            "trainable": train,  # the function itself
            "evaluate": evaluate,
            "space": SearchSpace({
                "lr": Float(1e-4, 3e-2, log=True),
                "hidden": Int(16, 256, log=True),
                "dropout": Float(0.0, 0.5),
                "batch_size": Categorical([32, 64, 128]),
            }),
            "metric": "val_accuracy",
            "mode": "max",
            "num_samples": 12,
            "budget": {"min": 1, "max": 9, "eta": 3},
        },
        storage="results",
    )
    print(results)
    print("best params:", results.best_params)
    print("test:", results.test)
    print(results.trials[["trial_id", "lr", "hidden", "status", "epochs",
                          "last_val_accuracy"]].to_string(index=False))
