"""Tune a PyTorch Lightning module: an MLP on scikit-learn's bundled digits, offline.

`DigitsMLP` (a LightningModule) and `DigitsData` (a LightningDataModule) are plain Lightning
code that read their hyperparameters from the trial config. Two lines make them tunable:
`train` is the function trainable (one report and checkpoint per epoch, resumable) and
`evaluate` the test-set hook `tuner` calls on the winner. `examples/lightning_digits.yaml`
names both; needs the extra: pip install -e ".[lightning]".

    python -m tuner launch examples/lightning_digits.yaml
    python examples/lightning_digits.py           # the same through the Python API
"""

from __future__ import annotations

import functools

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import tuner
from trainables.data import Dataset, from_arrays, subset
from trainables.lightning import lightning_evaluate, lightning_trainable, require_lightning

pl = require_lightning()  # lightning.pytorch, or one line: pip install -e ".[lightning]"


class DigitsMLP(pl.LightningModule):
    """An MLP over the 64 pixels; logs val_loss / val_accuracy per epoch and test metrics."""

    def __init__(self, config: dict) -> None:
        super().__init__()
        hidden, depth = int(config.get("hidden", 128)), int(config.get("depth", 1))
        dropout = float(config.get("dropout", 0.0))
        layers, width = [], 64
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        self.net = nn.Sequential(*layers, nn.Linear(width, 10))
        self.lr = float(config.get("lr", 1e-3))
        self.weight_decay = float(config.get("weight_decay", 0.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _step(self, batch: tuple, stage: str) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = nn.functional.cross_entropy(logits, y)
        accuracy = (logits.argmax(dim=1) == y).float().mean()
        self.log(f"{stage}_loss", loss, on_epoch=True, on_step=False)
        self.log(f"{stage}_accuracy", accuracy, on_epoch=True, on_step=False)
        return loss

    def training_step(self, batch: tuple, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: tuple, batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: tuple, batch_idx: int) -> None:
        self._step(batch, "test")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        # The config wins over the checkpoint's optimizer settings: PBT restores a donor's
        # checkpoint under mutated hyperparameters (a plain resume has the same values).
        for state in checkpoint.get("optimizer_states", ()):
            for group in state["param_groups"]:
                group.update(lr=self.lr, weight_decay=self.weight_decay)


@functools.lru_cache(maxsize=4)
def digits_splits(seed: int) -> Dataset:
    """1,797 8x8 digits scaled to [0, 1], split 60/20/20 (stratified) by `seed`."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return from_arrays("digits", "image", x / 16.0, y, seed=seed)


class DigitsData(pl.LightningDataModule):
    """Train/val/test loaders; each epoch trains on the ladder's data fraction for it."""

    def __init__(self, config: dict) -> None:
        super().__init__()
        self.config = config
        self.seed = int(config.get("seed", 0))
        self.batch_size = int(config.get("batch_size", 64))

    def train_dataloader(self) -> DataLoader:
        data = digits_splits(self.seed)
        # Lightning rebuilds this loader every epoch when the ladder has data fractions.
        fraction = tuner.fidelity(self.config, self.trainer.current_epoch + 1).data_fraction
        idx = subset(data.y_train, fraction, self.seed)
        return DataLoader(TensorDataset(data.x_train[idx], data.y_train[idx]),
                          batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        data = digits_splits(self.seed)
        return DataLoader(TensorDataset(data.x_val, data.y_val), batch_size=512)

    def test_dataloader(self) -> DataLoader:
        data = digits_splits(self.seed)
        return DataLoader(TensorDataset(data.x_test, data.y_test), batch_size=512)


train = lightning_trainable(DigitsMLP, DigitsData)
evaluate = lightning_evaluate(DigitsMLP, DigitsData)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="lightning_digits_api")
    parser.add_argument("--num-samples", type=int, help="trials (default: the YAML's 8)")
    parser.add_argument("--storage", help="results directory (default: the YAML's results/)")
    args = parser.parse_args()
    overrides = {key: value for key, value in
                 (("num_samples", args.num_samples), ("storage", args.storage)) if value}
    res = tuner.run("examples/lightning_digits.yaml", name=args.name, **overrides)
    print(f"best config {res.best_config}\ntest {res.test}")
