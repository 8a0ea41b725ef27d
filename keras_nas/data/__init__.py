"""Data: loaders for every form users hold, splits, and the data boundary."""

from keras_nas.split_indices import DatasetError
from keras_nas.data.input_spec import MODALITIES
from keras_nas.data.input_spec import InputSpec
from keras_nas.data.loaders import load_dataset
from keras_nas.data.memory import default_memory_budget
from keras_nas.data.search_data import SearchData
from keras_nas.data.splits import DatasetSplits

__all__ = [
    "MODALITIES",
    "DatasetError",
    "DatasetSplits",
    "InputSpec",
    "SearchData",
    "default_memory_budget",
    "load_dataset",
]
