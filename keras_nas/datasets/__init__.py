"""The former name of `keras_nas.data`, kept so that old imports work."""

from keras_nas.data import DatasetError
from keras_nas.data import DatasetSplits
from keras_nas.data import load_dataset

__all__ = [
    "DatasetError",
    "DatasetSplits",
    "load_dataset",
]
