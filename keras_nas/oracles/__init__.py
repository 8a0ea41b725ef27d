"""Search strategies, each a `keras_tuner.Oracle`."""

from keras_nas.oracles.base import NASOracle
from keras_nas.oracles.grid_search import GridSearchOracle
from keras_nas.oracles.random_search import RandomSearchOracle
from keras_nas.oracles.registry import STRATEGIES
from keras_nas.oracles.registry import get_oracle
