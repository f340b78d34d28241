"""Fused SGD / Adam / AdamW over stacked parameters with per-member hyperparameters.

Why ours: `torch.optim` takes one scalar `lr` / `weight_decay` / `momentum` per parameter
group, and a stacked parameter `[k, ...]` is one tensor, so k members cannot differ in them
(splitting the stack into k groups of views would give up the fusion and make every member
step a separate kernel launch). HFTA (`hfta/optim/`, MIT) solved this by rewriting each
optimiser with hyperparameters as `[B, 1, ...]` tensors; we do the same for the three
optimisers `trainables.schedules.build_optimizer` offers, following the single-tensor code
paths of `torch/optim/sgd.py` and `torch/optim/adam.py` line by line, so member i steps as
the solo `torch.optim` optimiser would (up to float rounding of the bias corrections).

Every member has its own step count, so a member put into a refilled slot starts its Adam
bias correction at step 1 while the others go on; `rows` restricts a step to some members.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

KINDS = ("sgd", "adam", "adamw")
BETAS = (0.9, 0.999)  # torch.optim.Adam/AdamW defaults, which build_optimizer keeps
EPS = 1e-8
HYPER = ("lr", "weight_decay", "momentum", "nesterov")


class FusedOptimizer:
    """Step stacked leaves `params[j]` (`[k, ...]`, member on dim 0) with per-member tensors.

    `hyper[name]` are float tensors of shape `[k]` (`lr`, `weight_decay`, `momentum`, and
    `nesterov` as 0/1); change them in place between steps (schedules do). State per
    parameter: `momentum_buffer` (sgd) or `exp_avg`, `exp_avg_sq` (adam, adamw), plus one
    `step` count per member.
    """

    def __init__(self, params: Sequence[torch.Tensor], kind: str, k: int) -> None:
        if kind not in KINDS:
            raise ValueError(f"fused optimiser must be one of {KINDS}, got {kind!r}")
        self.kind, self.params = kind, list(params)
        device = self.params[0].device if self.params else torch.device("cpu")
        self.hyper = {n: torch.zeros(k, device=device) for n in HYPER}
        self.step_count = torch.zeros(k, device=device, dtype=torch.float64)
        names = ("momentum_buffer",) if kind == "sgd" else ("exp_avg", "exp_avg_sq")
        self.state = [{n: torch.zeros_like(p, memory_format=torch.preserve_format)
                       for n in names} for p in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self, rows: torch.Tensor | None = None) -> None:
        """One step for every member, or only for `rows` (a long tensor of member indices)."""
        if rows is None:
            self.step_count += 1
            factors = self._factors(self.hyper, self.step_count)
        else:
            self.step_count[rows] += 1
            hyper = {n: t[rows] for n, t in self.hyper.items()}
            factors = self._factors(hyper, self.step_count[rows])
        views: dict[tuple[int, torch.dtype], dict[str, torch.Tensor]] = {}
        for p, state in zip(self.params, self.state):
            if p.grad is None:
                continue
            key = (p.ndim, p.dtype)
            if key not in views:  # per-member factors shaped [k, 1, ..., 1] for this rank
                views[key] = {n: _per_member(f, p) for n, f in factors.items()}
            if rows is None:
                _UPDATES[self.kind](p, p.grad, state, views[key])
                continue
            sub_p = p[rows]
            sub_state = {n: t[rows] for n, t in state.items()}
            _UPDATES[self.kind](sub_p, p.grad[rows], sub_state, views[key])
            p.index_copy_(0, rows, sub_p)
            for n, t in state.items():
                t.index_copy_(0, rows, sub_state[n])

    def _factors(self, hyper: dict[str, torch.Tensor], steps: torch.Tensor
                 ) -> dict[str, torch.Tensor]:
        """Per-member scalars of this step, computed once for all parameters."""
        out = {"lr": hyper["lr"], "wd": hyper["weight_decay"]}
        if self.kind == "sgd":
            out["momentum"] = hyper["momentum"]
            out["nesterov"] = hyper["nesterov"]
            return out
        beta1, beta2 = BETAS
        # bias corrections in float64 per member, as torch's python-float scalars
        out["step_size"] = hyper["lr"].double() / (1 - beta1**steps)
        out["bias2_sqrt"] = (1 - beta2**steps).sqrt()
        if self.kind == "adamw":
            out["decay"] = 1 - hyper["lr"] * hyper["weight_decay"]
        return out


def _per_member(value: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """`[k]` → `[k, 1, ..., 1]` broadcasting against `like` (HFTA's `[B, 1, ...]` shape)."""
    return value.to(like.dtype).view(-1, *([1] * (like.ndim - 1)))


def _sgd(p, grad, state, f) -> None:
    """torch/optim/sgd.py::_single_tensor_sgd with dampening 0. The buffer starts at zero,
    so `m * 0 + d` equals torch's `clone(d)` on the first step; momentum 0 gives `buf = d`."""
    d = torch.addcmul(grad, f["wd"], p)
    buf = state["momentum_buffer"]
    buf.mul_(f["momentum"]).add_(d)
    direction = torch.where(f["nesterov"] > 0, d.addcmul_(f["momentum"], buf), buf)
    p.addcmul_(f["lr"], direction, value=-1)


def _adam(p, grad, state, f, *, decoupled: bool = False) -> None:
    """torch/optim/adam.py::_single_tensor_adam (AdamW = decoupled weight decay)."""
    beta1, beta2 = BETAS
    if decoupled:
        p.mul_(f["decay"])
    else:
        grad = torch.addcmul(grad, f["wd"], p)
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    exp_avg.lerp_(grad, 1 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    denom = exp_avg_sq.sqrt().div_(f["bias2_sqrt"]).add_(EPS)
    p.addcdiv_(exp_avg * f["step_size"], denom, value=-1)


def _adamw(p, grad, state, f) -> None:
    _adam(p, grad, state, f, decoupled=True)


_UPDATES = {"sgd": _sgd, "adam": _adam, "adamw": _adamw}
