"""Named datasets and the per-process cache behind `load_dataset`.

Actor reuse runs many trials in one process, so each `(name, seed, data_dir)` is loaded
once per process and the tensors are shared (read-only) between trials.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np

from trainables.data._dataset import Dataset, from_arrays
from trainables.data.readers import read_cifar10, read_idx_dataset

Loader = Callable[[int, "str | None"], Dataset]
_LOADERS: dict[str, Loader] = {}


def register_dataset(name: str, loader: Loader) -> None:
    """Make `load_dataset(name)` call `loader(seed, data_dir) -> Dataset` (e.g. your own data)."""
    _LOADERS[name] = loader
    _cached.cache_clear()


def dataset_names() -> list[str]:
    return sorted(_LOADERS)


def load_dataset(name: str, *, seed: int = 0, data_dir: str | None = None) -> Dataset:
    """Load dataset `name` with splits fixed by `seed`; cached per process.

    Built in: "digits" (scikit-learn, 8x8), "mnist1d" (generated offline, 40 steps),
    "mnist"/"fashion_mnist" (IDX files in `data_dir`), "cifar10" (python batches in `data_dir`).
    """
    if name not in _LOADERS:
        raise KeyError(f"unknown dataset {name!r}; valid: {dataset_names()}")
    data_dir = os.path.abspath(os.path.expanduser(data_dir)) if data_dir else None
    return _cached(name, int(seed), data_dir)


@functools.lru_cache(maxsize=8)
def _cached(name: str, seed: int, data_dir: str | None) -> Dataset:
    return _LOADERS[name](seed, data_dir)


def _digits(seed: int, data_dir: str | None) -> Dataset:
    """scikit-learn's 1,797 8x8 digits, scaled to [0, 1], split 60/20/20 stratified by seed."""
    raw = _digits_csv()
    x = (raw[:, :-1] / 16.0).reshape(-1, 1, 8, 8)  # pixel values are 0..16
    return from_arrays("digits", "image", x, raw[:, -1], seed=seed, fractions=(0.6, 0.2, 0.2))


def _digits_csv() -> np.ndarray:
    # Read the CSV that load_digits reads, without `import sklearn` (1.5 s per fresh actor).
    spec = importlib.util.find_spec("sklearn")
    if spec and spec.submodule_search_locations:
        path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"
        if path.exists():
            return np.loadtxt(path, delimiter=",")
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return np.column_stack([bunch.data, bunch.target])


def _mnist1d(seed: int, data_dir: str | None) -> Dataset:
    """MNIST-1D (Greydanus 2020) generated locally with the package's default arguments
    (5,000 sequences of length 40, its own fixed generation seed 42, 4,000/1,000 train/test);
    our `seed` only picks the validation part of the 4,000."""
    from mnist1d.data import get_dataset_args, make_dataset

    # make_dataset reseeds the global numpy/python RNGs; keep callers' streams intact.
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        d = make_dataset(get_dataset_args())
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    x, x_test = d["x"][:, None, :], d["x_test"][:, None, :]
    return from_arrays(
        "mnist1d",
        "sequence",
        x,
        d["y"],
        seed=seed,
        x_test=x_test,
        y_test=d["y_test"],
        val_fraction=0.2,
    )


def _idx(name: str) -> Loader:
    def load(seed: int, data_dir: str | None) -> Dataset:
        if data_dir is None:
            raise ValueError(f"dataset {name!r} reads IDX files: set data_dir to their folder")
        x, y, x_test, y_test = read_idx_dataset(data_dir)
        x = x[:, None].astype(np.float32) / 255.0
        x_test = x_test[:, None].astype(np.float32) / 255.0
        return from_arrays(name, "image", x, y, seed=seed, x_test=x_test, y_test=y_test)

    return load


def _cifar10(seed: int, data_dir: str | None) -> Dataset:
    if data_dir is None:
        raise ValueError("dataset 'cifar10' reads python batches: set data_dir to their folder")
    x, y, x_test, y_test = read_cifar10(data_dir)
    x = x.astype(np.float32) / 255.0
    x_test = x_test.astype(np.float32) / 255.0
    return from_arrays("cifar10", "image", x, y, seed=seed, x_test=x_test, y_test=y_test)


register_dataset("digits", _digits)
register_dataset("mnist1d", _mnist1d)
register_dataset("mnist", _idx("mnist"))
register_dataset("fashion_mnist", _idx("fashion_mnist"))
register_dataset("cifar10", _cifar10)
