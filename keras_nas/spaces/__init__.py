"""Built-in search spaces; any `build(hp)` or `keras_tuner.HyperModel` works too."""

from keras_nas.spaces.base import SearchSpace
from keras_nas.spaces.conv import ConvNet
from keras_nas.spaces.mlp import MLP
from keras_nas.spaces.nb201 import NB201Cell
from keras_nas.spaces.registry import DEFAULT_SPACES
from keras_nas.spaces.registry import SPACES
from keras_nas.spaces.registry import data_options
from keras_nas.spaces.registry import default_space
from keras_nas.spaces.registry import get_space
from keras_nas.spaces.sequence import SequenceNet
from keras_nas.spaces.supernet import SupernetSpec
