"""Datasets as seeded, cached tensor splits; readers for user-downloaded files."""

from __future__ import annotations

from trainables.data._dataset import Dataset, from_arrays, stratified_split, subset
from trainables.data.readers import DataFileError, read_cifar10, read_idx, read_idx_dataset
from trainables.data.sources import dataset_names, load_dataset, register_dataset

__all__ = [
    "DataFileError",
    "Dataset",
    "dataset_names",
    "from_arrays",
    "load_dataset",
    "read_cifar10",
    "read_idx",
    "read_idx_dataset",
    "register_dataset",
    "stratified_split",
    "subset",
]
