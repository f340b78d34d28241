"""Synthetic learning curves: a benchmark with YAHPO's interface that costs nothing to query.

Used where the surrogate's own cost would hide what is measured (decision time per result at
100,000 trials, ``benchmarks/scale.py``) and by tests that must run without the YAHPO data.
Curve: ``acc(e) = q(x)·(1 − 0.5·exp(−e/8))`` with ``q`` a smooth bump over the unit cube, and
``1 + 4·x₀`` simulated seconds per epoch, so good and slow configurations are correlated a bit.
"""

from __future__ import annotations

import numpy as np

from search_spaces import Float, Int, SearchSpace

__all__ = ["MisleadingFidelity", "SyntheticCurves"]


class SyntheticCurves:
    """Epoch fidelity 1..``max_epochs``; ``metric_and_time`` like ``YahpoBenchmark``."""

    metric, mode, multi_epoch, fidelity_min = "acc", "max", True, 1

    def __init__(self, max_epochs: int = 27, dim: int = 4):
        self.fidelity_max = max_epochs
        self.name = f"synthetic/{dim}d"
        params = {f"x{i}": Float(0.0, 1.0) for i in range(dim - 1)}
        params["width"] = Int(16, 512, log=True)
        self.space = SearchSpace(params)
        self.dim = dim
        self.metric_min, self.metric_max = 0.0, 1.0

    def _quality(self, config: dict) -> float:
        xs = [config[f"x{i}"] for i in range(self.dim - 1)]
        w = np.log(config["width"] / 16) / np.log(32)
        return float(np.exp(-4 * sum((x - 0.3) ** 2 for x in xs) - 2 * (w - 0.6) ** 2))

    def metric_and_time(self, configs, fidelities):
        q = np.array([self._quality(c) for c in configs])
        e = np.asarray(fidelities, float)
        x0 = np.array([c["x0"] for c in configs])
        return q * (1 - 0.5 * np.exp(-e / 8)), e * (1 + 4 * x0)  # cumulative seconds

    def regret(self, value: float) -> float:
        return float(self.metric_max - value)

    def budget(self) -> int:
        return int(np.ceil(20 * self.fidelity_max + 40 * np.sqrt(self.dim) * self.fidelity_max))


class MisleadingFidelity:
    """Trainsize fidelity whose low rungs rank configurations *backwards* and score higher.

    Full data (fidelity 1): ``0.5 + 0.4·q(x)``. Any smaller fraction: ``0.6 + 0.39·(1 − q(x))``
    — the worst configurations look best, and their values (up to 0.99) exceed anything full
    fidelity reaches (0.9), the pattern of rbv2_rpart (0.9577 at 1/27 of the data, 0.9546 on all
    of it) pushed to the extreme. An instance built to mislead: the benchmark's headline must
    not credit a low-fidelity value, and a method must notice its rungs do not predict the top.
    """

    metric, mode, multi_epoch = "acc", "max", False
    fidelity_min, fidelity_max = 1 / 27, 1.0
    metric_min, metric_max = 0.5, 0.9

    def __init__(self, dim: int = 3):
        self.name = f"misleading/{dim}d"
        self.dim = dim
        self.space = SearchSpace({f"x{i}": Float(0.0, 1.0) for i in range(dim)})

    def quality(self, config: dict) -> float:
        return float(np.exp(-4 * sum((config[f"x{i}"] - 0.3) ** 2 for i in range(self.dim))))

    def metric_and_time(self, configs, fidelities):
        q = np.array([self.quality(c) for c in configs])
        f = np.asarray(fidelities, float)
        full = f >= 1 - 1e-9
        value = np.where(full, 0.5 + 0.4 * q, 0.6 + 0.39 * (1 - q))
        return value, f * (1 + np.array([c["x0"] for c in configs]))

    def regret(self, value: float) -> float:
        return float((self.metric_max - value) / (self.metric_max - self.metric_min))

    def budget(self) -> int:
        return int(np.ceil(20 + 40 * np.sqrt(self.dim)))  # YAHPO's rule with r_max = 1
