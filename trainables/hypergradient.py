"""Hypergradient descent on the learning rate (Baydin et al. 2018, "Online Learning Rate
Adaptation with Hypergradient Descent", ICLR).

After each step the loss at the new point depends on the step size: with
`theta_t = theta_{t-1} - lr * d_{t-1}` (d = the base optimiser's update direction: the
gradient for plain SGD (SGD-HD), the momentum buffer with momentum, `m_hat / (sqrt(v_hat)+eps)`
(plus decoupled decay) for Adam (Adam-HD)), `dL(theta_t)/dlr = -g_t . d_{t-1}`. Gradient
descent on lr therefore gives, before each step,

    lr_t = lr_{t-1} + beta * g_t . d_{t-1}

so the rate grows while consecutive updates agree and shrinks when they oscillate. `d` is
measured as `(theta_before - theta_after) / lr` around the base step, which makes one wrapper
serve every `torch.optim` optimiser. The rate is clamped at 0 (the paper leaves it free).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

# Paper defaults: beta = 1e-3 for SGD-HD, 1e-7 for Adam-HD (Adam directions are ~unit size).
DEFAULT_BETA = {"sgd": 1e-3, "adam": 1e-7, "adamw": 1e-7}


class HypergradientOptimizer:
    """Wrap `optimizer` so each `step()` first adapts every group's `lr` by hypergradient descent.

    Exposes `param_groups`, `state`, `zero_grad`, `step`, `state_dict`, `load_state_dict`, so
    it stands in for the base optimiser (GradScaler included). The previous directions are
    part of `state_dict()`, so a checkpointed run resumes exactly.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, beta: float) -> None:
        if beta < 0:
            raise ValueError(f"hypergradient: beta must be >= 0, got {beta}")
        self.optimizer = optimizer
        self.beta = float(beta)
        # One previous direction per parameter, aligned with param_groups order; None before step 1.
        self._prev: list[torch.Tensor | None] = [None for _ in self._params()]
        self.last_hypergradient = 0.0

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return self.optimizer.param_groups

    @property
    def state(self) -> Any:
        return self.optimizer.state

    @property
    def defaults(self) -> dict[str, Any]:
        return self.optimizer.defaults

    def _params(self) -> list[torch.Tensor]:
        return [p for g in self.optimizer.param_groups for p in g["params"]]

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    @torch.no_grad()
    def _adapt_lr(self) -> None:
        """lr += beta * g_t . d_{t-1} per param group (no change before the first step)."""
        prev = iter(self._prev)
        self.last_hypergradient = 0.0
        for group in self.optimizer.param_groups:
            dots = [
                torch.sum(p.grad * d)
                for p, d in zip(group["params"], prev)
                if d is not None and p.grad is not None
            ]
            if dots:
                h = float(torch.stack(dots).sum())  # one device sync per group per step
                self.last_hypergradient += h
                group["lr"] = max(0.0, group["lr"] + self.beta * h)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> Any:
        self._adapt_lr()
        params = self._params()
        before = [p.detach().clone() for p in params]
        loss = self.optimizer.step(closure)
        i = 0
        for group in self.optimizer.param_groups:
            lr = group["lr"]
            for p in group["params"]:
                if p.grad is None or lr == 0:
                    self._prev[i] = None if p.grad is None else self._prev[i]
                else:
                    self._prev[i] = (before[i] - p.detach()) / lr
                i += 1
        return loss

    def state_dict(self) -> dict[str, Any]:
        return {
            "base": self.optimizer.state_dict(),
            "beta": self.beta,
            "prev": [None if t is None else t.detach().clone() for t in self._prev],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["base"])
        # beta stays as constructed: the config's value wins (PBT may have mutated it).
        params = self._params()
        self._prev = [
            None if t is None else t.to(device=p.device, dtype=p.dtype)
            for t, p in zip(state["prev"], params)
        ]
