"""Readers for dataset files users download themselves (this package never downloads).

* IDX (MNIST, Fashion-MNIST): `train-images-idx3-ubyte[.gz]`, `train-labels-idx1-ubyte[.gz]`,
  `t10k-images-idx3-ubyte[.gz]`, `t10k-labels-idx1-ubyte[.gz]`; format from
  http://yann.lecun.com/exdb/mnist/ (big-endian header: 0, 0, dtype code, ndim, then dims).
* CIFAR-10 python batches: `data_batch_1..5`, `test_batch` (pickled dicts with `b"data"`
  uint8 `(N, 3072)` and `b"labels"`), as shipped in `cifar-10-python.tar.gz`.
"""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np

_IDX_DTYPES = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class DataFileError(ValueError):
    """A dataset file is missing or not in the expected format."""


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (optionally gzip-compressed) into an array of its stored shape."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataFileError(f"{path}: not an IDX file (bad magic number {raw[:4]!r})")
    dtype, ndim = np.dtype(_IDX_DTYPES[raw[2]]), raw[3]
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - offset != expected:
        raise DataFileError(
            f"{path}: header says shape {dims} ({expected} bytes) but file holds "
            f"{len(raw) - offset} bytes of data"
        )
    return (
        np.frombuffer(raw, dtype=dtype, offset=offset).reshape(dims).astype(dtype.newbyteorder("="))
    )


def find_file(data_dir: str | Path, stem: str) -> Path:
    """`data_dir/stem` or `data_dir/stem.gz`, whichever exists."""
    base = Path(data_dir)
    for candidate in (base / stem, base / f"{stem}.gz"):
        if candidate.exists():
            return candidate
    raise DataFileError(f"missing {stem}[.gz] in {base} (download it yourself; nothing is fetched)")


def read_idx_dataset(data_dir: str | Path) -> tuple[np.ndarray, ...]:
    """`(x_train, y_train, x_test, y_test)` from the four MNIST-style IDX files; x is uint8."""
    arrays = [
        read_idx(find_file(data_dir, stem))
        for stem in (
            "train-images-idx3-ubyte",
            "train-labels-idx1-ubyte",
            "t10k-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte",
        )
    ]
    for x, y, split in ((arrays[0], arrays[1], "train"), (arrays[2], arrays[3], "t10k")):
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise DataFileError(
                f"{data_dir}: {split} images {x.shape} and labels {y.shape} do not match"
            )
    return tuple(arrays)


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with open(path, "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    try:
        data, labels = batch[b"data"], batch[b"labels"]
    except (KeyError, TypeError) as e:
        raise DataFileError(f"{path}: not a CIFAR-10 python batch (no b'data'/b'labels')") from e
    x = np.asarray(data, dtype=np.uint8).reshape(-1, 3, 32, 32)
    return x, np.asarray(labels, dtype=np.int64)


def read_cifar10(data_dir: str | Path) -> tuple[np.ndarray, ...]:
    """`(x_train, y_train, x_test, y_test)` from CIFAR-10 python batches; x is uint8 NCHW.

    Accepts the folder holding the batches or its parent (`cifar-10-batches-py/` inside).
    """
    base = Path(data_dir)
    if not (base / "test_batch").exists() and (base / "cifar-10-batches-py").is_dir():
        base = base / "cifar-10-batches-py"
    names = [f"data_batch_{i}" for i in range(1, 6)]
    missing = [n for n in [*names, "test_batch"] if not (base / n).exists()]
    if missing:
        raise DataFileError(f"missing CIFAR-10 batches {missing} in {base}")
    train = [_read_cifar_batch(base / n) for n in names]
    x_test, y_test = _read_cifar_batch(base / "test_batch")
    x = np.concatenate([b[0] for b in train])
    y = np.concatenate([b[1] for b in train])
    return x, y, x_test, y_test
