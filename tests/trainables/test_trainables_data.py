"""Dataset readers on files written here in the real formats; seeded splits; nested subsets."""

from __future__ import annotations

import gzip
import pickle
import random
import struct

import numpy as np
import pytest
import torch

from trainables import MLPTrainable, TrainConfig, load_dataset
from trainables.data import DataFileError, read_cifar10, read_idx, subset
from trainables.data.sources import _cached


def _write_idx(path, array, compress):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    payload = header + array.astype(np.uint8).tobytes()
    if compress:
        with gzip.open(path.with_name(path.name + ".gz"), "wb") as f:
            f.write(payload)
    else:
        path.write_bytes(payload)


def _mnist_files(folder, compress, n_train=40, n_test=20, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(n_train, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.arange(n_test, dtype=np.uint8) % 10,
    }
    for name, array in arrays.items():
        _write_idx(folder / name, array, compress)
    return arrays


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trips(tmp_path, compress):
    arrays = _mnist_files(tmp_path, compress)
    suffix = ".gz" if compress else ""
    got = read_idx(tmp_path / f"train-images-idx3-ubyte{suffix}")
    assert got.shape == (40, 28, 28) and np.array_equal(got, arrays["train-images-idx3-ubyte"])


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_idx_dataset_loads_scaled_nchw(tmp_path, compress, name):
    arrays = _mnist_files(tmp_path, compress)
    d = load_dataset(name, data_dir=str(tmp_path))
    assert d.kind == "image" and d.input_shape == (1, 28, 28) and d.num_classes == 10
    assert len(d.x_train) + len(d.x_val) == 40 and len(d.x_test) == 20
    assert torch.allclose(
        d.x_test[:, 0], torch.from_numpy(arrays["t10k-images-idx3-ubyte"] / 255.0).float()
    )
    assert d.y_test.tolist() == arrays["t10k-labels-idx1-ubyte"].tolist()
    _cached.cache_clear()  # the next parametrisation rewrites the same tmp folder name


def test_idx_rejects_bad_magic_and_truncated_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x01\x00")
    with pytest.raises(DataFileError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(struct.pack(">BBBBI", 0, 0, 8, 1, 10) + b"\x00" * 3)
    with pytest.raises(DataFileError, match="header says shape"):
        read_idx(tmp_path / "short")


def test_idx_missing_files_name_the_file(tmp_path):
    with pytest.raises(DataFileError, match="train-images-idx3-ubyte"):
        load_dataset("mnist", data_dir=str(tmp_path / "empty"))


def _cifar_files(folder, per_batch=10):
    rng = np.random.default_rng(1)
    folder.mkdir(parents=True)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {
            b"batch_label": name.encode(),
            b"labels": [int(v) for v in rng.integers(0, 10, per_batch)],
            b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
            b"filenames": [b"x.png"] * per_batch,
        }
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f, protocol=2)
        batches[name] = batch
    return batches


def test_cifar10_reads_python_batches(tmp_path):
    batches = _cifar_files(tmp_path / "cifar-10-batches-py")
    x, _, x_test, y_test = read_cifar10(tmp_path)  # the parent folder works too
    assert x.shape == (50, 3, 32, 32) and x_test.shape == (10, 3, 32, 32)
    # Row layout is 1024 red, 1024 green, 1024 blue values, each row-major 32x32.
    first = batches["data_batch_1"][b"data"][0]
    assert x[0, 1, 0, 5] == first[1024 + 5] and x[0, 2, 31, 31] == first[3071]
    assert y_test.tolist() == batches["test_batch"][b"labels"]
    d = load_dataset("cifar10", data_dir=str(tmp_path))
    assert d.input_shape == (3, 32, 32) and len(d.x_train) + len(d.x_val) == 50
    assert float(d.x_test.max()) <= 1.0


def test_cifar10_missing_batches_are_listed(tmp_path):
    with pytest.raises(DataFileError, match="data_batch_1"):
        read_cifar10(tmp_path)


def test_digits_splits_are_stratified_and_fixed_by_seed():
    d = load_dataset("digits", seed=0)
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (1078, 360, 359)
    assert (
        d.input_shape == (1, 8, 8)
        and float(d.x_train.min()) == 0.0
        and float(d.x_train.max()) == 1.0
    )
    assert torch.bincount(d.y_val).min() >= 34  # ~36 per class
    _cached.cache_clear()
    again = load_dataset("digits", seed=0)
    assert (
        again is not d
        and torch.equal(again.x_train, d.x_train)
        and torch.equal(again.y_test, d.y_test)
    )
    other = load_dataset("digits", seed=1)
    assert not torch.equal(other.y_train, d.y_train)


def test_load_dataset_is_cached_per_process():
    assert load_dataset("digits", seed=0) is load_dataset("digits", seed=0)


def test_mnist1d_is_generated_offline_and_keeps_global_rng():
    state = np.random.get_state()[1].copy()
    py_state = random.getstate()
    d = load_dataset("mnist1d", seed=0)
    assert np.array_equal(np.random.get_state()[1], state) and random.getstate() == py_state
    assert d.kind == "sequence" and d.input_shape == (1, 40)
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (3200, 800, 1000)


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(KeyError, match="valid: .*digits.*mnist1d"):
        load_dataset("imagenet")


def test_subsets_are_nested_stratified_and_seeded():
    y = load_dataset("digits").y_train
    quarter, half, full = (set(subset(y, f, seed=5).tolist()) for f in (0.25, 0.5, 1.0))
    assert quarter < half < full and len(full) == len(y)
    assert len(quarter) == -(-len(y) // 4)
    counts = torch.bincount(y[sorted(quarter)], minlength=10).float() / torch.bincount(
        y, minlength=10
    )
    assert counts.min() > 0.2 and counts.max() < 0.3
    assert subset(y, 0.25, seed=5).tolist() == sorted(quarter)
    assert set(subset(y, 0.25, seed=6).tolist()) != quarter
    with pytest.raises(ValueError, match="fraction must be in"):
        subset(y, 0.0)


def test_fidelity_schedule_picks_first_pair_covering_the_epoch():
    cfg = TrainConfig(fidelity_schedule=[[1, 0.25], [3, 0.5], [9, 1.0]])
    assert [cfg.data_fraction(e) for e in range(1, 11)] == [
        0.25,
        0.5,
        0.5,
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
    ]
    assert TrainConfig(fidelity_schedule=[[2, 0.5]]).data_fraction(3) == 1.0
    assert TrainConfig().data_fraction(1) == 1.0


def test_trainable_trains_on_the_scheduled_fraction():
    run = MLPTrainable.make_run({"fidelity_schedule": [[1, 0.25], [2, 0.5]], "hidden": 8})
    fractions = [run.train_one_epoch()["data_fraction"] for _ in range(3)]
    assert fractions == [0.25, 0.5, 1.0]
    assert len(run.train_data(0.25)[0]) == -(-len(run.data.y_train) // 4)


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"fidelity_schedule": [[3, 0.5], [1, 0.25]]}, "must increase"),
        ({"fidelity_schedule": [[1, 1.5]]}, "data_fraction must be in"),
        ({"lr": 0.0}, "lr must be"),
        ({"batch_size": 12.5}, "batch_size must be a whole number"),
        ({"device": "tpu"}, "device must be one of"),
    ],
)
def test_config_errors_name_the_key(bad, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig.from_flat(bad)


def test_config_ignores_unknown_keys_and_coerces_numpy_scalars():
    cfg = TrainConfig.from_flat(
        {"batch_size": np.float64(32.0), "lr": np.float32(0.5), "mystery": 1}
    )
    assert cfg.batch_size == 32 and type(cfg.batch_size) is int and type(cfg.lr) is float
