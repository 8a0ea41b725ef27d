"""Datasets: the bundled digits and loaders for tfds, `.npz` and `.csv` data."""

from keras_nas.datasets.loaders import load_dataset
from keras_nas.datasets.splits import DatasetError
from keras_nas.datasets.splits import DatasetSplits

__all__ = [
    "DatasetError",
    "DatasetSplits",
    "load_dataset",
]
