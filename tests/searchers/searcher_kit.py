"""Shared pieces of the searcher tests: spaces, test functions, a driver and a time limit."""

from __future__ import annotations

import math
import signal
from collections.abc import Callable
from contextlib import contextmanager

import numpy as np

from search_spaces import Categorical, Fixed, Float, Int, SearchSpace, load_space

METRIC = "loss"


def conditional_space() -> SearchSpace:
    """Every domain kind, two-level nesting (dampening under nesterov under optimizer), a
    child with two parents (beta2) and a fixed parameter."""
    base = dict(load_space("digits_mlp_conditional"))
    return SearchSpace(
        {
            **base,
            "dampening": Float(0.0, 0.5, when={"nesterov": False}),
            "schedule": Categorical(["constant", "cosine"]),
            "warmup": Int(0, 10, step=2, when={"schedule": "cosine"}),
            "beta2": Float(
                0.9, 0.9999, when={"optimizer": ["adam", "adamw"], "schedule": "cosine"}
            ),
            "label_smoothing": Float(0.0, 0.2, step=0.05),
            "epochs": Fixed(5),
        }
    )


def mixed_loss(config: dict) -> float:
    """A cheap loss over ``conditional_space``: best near lr=1e-2, adam, cosine schedule."""
    loss = (math.log10(config["lr"]) + 2.0) ** 2 + 0.3 * abs(config["depth"] - 2)
    loss += {"sgd": 0.5, "adam": 0.0, "adamw": 0.2}[config["optimizer"]]
    loss += 0.0 if config["schedule"] == "cosine" else 0.3
    return loss + config["dropout"] + config["label_smoothing"]


def branin_space() -> SearchSpace:
    return SearchSpace({"x1": Float(-5.0, 10.0), "x2": Float(0.0, 15.0)})


def branin(config: dict) -> float:
    """Branin–Hoo; global minimum 0.397887 at three points."""
    x1, x2 = config["x1"], config["x2"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6_space() -> SearchSpace:
    return SearchSpace({f"x{i}": Float(0.0, 1.0) for i in range(6)})


def hartmann6(config: dict) -> float:
    """Hartmann-6; global minimum -3.32237."""
    x = np.array([config[f"x{i}"] for i in range(6)])
    return float(-np.sum(_H6_ALPHA * np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1))))


def run(searcher, objective: Callable[[dict], float], n: int) -> tuple[list[dict], float]:
    """Sequential suggest → evaluate → complete; returns the configs and the best loss."""
    configs, best = [], math.inf
    for i in range(n):
        config = searcher.suggest(f"t{i}")
        if config == "FINISHED":  # Searcher.FINISHED: a grid ran out
            break
        loss = objective(config)
        searcher.on_trial_complete(f"t{i}", {METRIC: loss})
        configs.append(config)
        best = min(best, loss)
    return configs, best


@contextmanager
def time_limit(seconds: float):
    """Fail (instead of hanging the suite) when the block runs longer than ``seconds``."""

    def _raise(signum, frame):
        raise TimeoutError(f"took longer than {seconds} s — a hang?")

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
