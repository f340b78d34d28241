"""The `Dataset` record every trainable consumes, plus seeded split and subset helpers.

Splits are made once, from a seed, and never depend on global RNG state, so the same
`(name, seed)` gives the same train/validation/test tensors in every process.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

KINDS = ("image", "sequence")


@dataclass(frozen=True)
class Dataset:
    """Train/validation/test tensors of one classification task.

    `x_*` are float32 tensors shaped `(N, *input_shape)`: images `(C, H, W)`, sequences
    `(C, L)` (channels first, so one code path serves Conv1d/Conv2d and patch tokenisers);
    `y_*` are int64 class indices. Tensors are shared by a per-process cache: never modify
    them in place.
    """

    name: str
    kind: str  # "image" or "sequence"
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(
                f"dataset {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}"
            )
        for split in ("train", "val", "test"):
            x, y = self.split(split)
            if len(x) != len(y):
                raise ValueError(
                    f"dataset {self.name!r}: {split} has {len(x)} inputs but {len(y)} labels"
                )

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def split(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """`(x, y)` of split `name` ("train", "val"/"validation" or "test")."""
        name = {"validation": "val"}.get(name, name)
        if name not in ("train", "val", "test"):
            raise ValueError(f"unknown split {name!r}; valid: 'train', 'val', 'test'")
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")

    def train_subset(self, fraction: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """The nested, stratified training fraction used at a multi-fidelity rung."""
        idx = subset(self.y_train, fraction, seed)
        return self.x_train[idx], self.y_train[idx]


def subset(labels: torch.Tensor, fraction: float, seed: int = 0) -> torch.Tensor:
    """Sorted indices of a seeded, class-stratified `fraction` of `labels`.

    Nested by construction: every index of fraction 0.25 is also in 0.5, which is in 1.0
    (for one seed). Each example gets a within-class rank from a seeded permutation; taking
    the lowest `rank / class_size` keys keeps class proportions at every fraction.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"subset: fraction must be in (0, 1], got {fraction}")
    y = labels.numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    n = len(y)
    k = max(1, math.ceil(fraction * n - 1e-9))
    if k >= n:
        return torch.arange(n)
    rng = np.random.default_rng(seed)
    key = np.empty(n, dtype=np.float64)
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        ranks = rng.permutation(len(members))
        key[members] = (ranks + 0.5) / len(members)
    jitter = rng.random(n) * 1e-9  # seeded tie-break between classes of equal size
    order = np.argsort(key + jitter, kind="stable")
    return torch.from_numpy(np.sort(order[:k]))


def stratified_split(y: np.ndarray, fractions: tuple[float, ...], seed: int) -> list[np.ndarray]:
    """Split indices `0..len(y)-1` into parts of the given fractions, per class, seeded."""
    if abs(sum(fractions) - 1.0) > 1e-9:
        raise ValueError(f"split fractions must sum to 1, got {fractions}")
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in fractions]
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        bounds = np.round(np.cumsum(fractions) * len(members)).astype(int)
        for i, (lo, hi) in enumerate(zip(np.r_[0, bounds[:-1]], bounds)):
            parts[i].append(members[lo:hi])
    return [rng.permutation(np.concatenate(p)) for p in parts]


def from_arrays(
    name: str,
    kind: str,
    x: np.ndarray,
    y: np.ndarray,
    *,
    seed: int = 0,
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
    x_test: np.ndarray | None = None,
    y_test: np.ndarray | None = None,
    val_fraction: float = 0.1,
) -> Dataset:
    """Build a `Dataset` from arrays: a seeded stratified 3-way split, or, when a fixed test
    set is given, a seeded stratified train/validation split of `x` and the given test set."""
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    if x_test is None:
        tr, va, te = stratified_split(y, fractions, seed)
        x_test, y_test = x[te], y[te]
    else:
        tr, va = stratified_split(y, (1.0 - val_fraction, val_fraction), seed)
    t = torch.from_numpy
    return Dataset(
        name=name,
        kind=kind,
        x_train=t(np.ascontiguousarray(x[tr])),
        y_train=t(y[tr]),
        x_val=t(np.ascontiguousarray(x[va])),
        y_val=t(y[va]),
        x_test=t(np.ascontiguousarray(np.asarray(x_test, dtype=np.float32))),
        y_test=t(np.asarray(y_test, dtype=np.int64)),
        num_classes=int(max(y.max(), np.max(y_test)) + 1),
    )
