"""Your own training loop, run data-parallel: every trial a Ray Train gang of workers.

With ``resources: {workers: N, ...}`` (examples/data_parallel_train.yaml) ``tuner launch`` runs
``train(config)`` on each of the N workers of a ``TorchTrainer``. Inside it you write what
Ray Train's docs teach — ``ray.train.torch.prepare_model`` (DDP), your shard of the data, a
report once per epoch on every worker, a checkpoint from rank 0 — with two tuner calls:
``get_checkpoint(config)``, the folder to resume from after a lost worker (the gang
restarted), a pause (HyperBand, PBT) or ``--resume``; and ``report(config, metrics,
checkpoint_dir)`` in place of ``ray.train.report``, which returns once the scheduler let the
trial go on (with Ray's own, a gang trains on while Tune decides). tuner averages the
workers' metrics into the trial's result (Ray's own Tune callback would forward rank 0's).

    tuner launch examples/data_parallel_train.yaml
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
import ray.train
import torch
from ray.train.torch import prepare_model
from sklearn.datasets import load_digits
from torch import nn

from trainables.distributed import get_checkpoint, report


def _data(seed: int):
    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(y))
    x, y = torch.tensor(x[order] / 16.0, dtype=torch.float32), torch.tensor(y[order])
    cut = int(0.8 * len(y))
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def train(config):
    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    (x, y), (xv, yv) = _data(int(config.get("seed", 0)))
    x, y = x[rank::world], y[rank::world]  # this worker's shard
    torch.manual_seed(int(config.get("seed", 0)))
    net = nn.Sequential(nn.Linear(64, int(config["hidden"])), nn.ReLU(),
                        nn.Linear(int(config["hidden"]), 10))
    optimizer = torch.optim.SGD(net.parameters(), lr=config["lr"], momentum=0.9)
    start = 0
    resume = get_checkpoint(config)
    if resume:
        state = torch.load(os.path.join(resume, "state.pt"))
        net.load_state_dict(state["model"])  # saved unwrapped: loads on any number of workers
        optimizer.load_state_dict(state["optimizer"])
        start = state["epoch"]
    model = prepare_model(net)  # DDP: gradients averaged over the gang
    for epoch in range(start + 1, int(config["max_epochs"]) + 1):
        _epoch(model, optimizer, x, y, epoch, batch=int(config.get("batch_size", 32)) // world)
        metrics = _metrics(model, x, y, xv, yv, epoch)
        if rank != 0:
            report(config, metrics)
            continue
        with tempfile.TemporaryDirectory() as folder:
            torch.save({"model": net.state_dict(), "optimizer": optimizer.state_dict(),
                        "epoch": epoch}, os.path.join(folder, "state.pt"))
            report(config, metrics, folder)  # returns once the scheduler let the trial go on


def _epoch(model, optimizer, x, y, epoch: int, batch: int) -> None:
    model.train()
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(epoch))
    for i in range(0, len(y), max(batch, 1)):
        idx = order[i:i + batch]
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
        optimizer.step()


def _metrics(model, x, y, xv, yv, epoch: int) -> dict:
    model.eval()
    with torch.no_grad():
        train_loss = float(nn.functional.cross_entropy(model(x), y))
        out = model(xv)
    return {"epoch": epoch, "train_loss": train_loss,
            "val_loss": float(nn.functional.cross_entropy(out, yv)),
            "val_accuracy": float((out.argmax(1) == yv).float().mean())}
