"""keras-nas: neural architecture search for Keras."""

from keras_nas import darts
from keras_nas import data
from keras_nas import datasets
from keras_nas import oracles
from keras_nas import spaces
from keras_nas import strategies
from keras_nas import tasks
from keras_nas.encoding import ArchitectureEncoding
from keras_nas.encoding import RepeatedStructure
from keras_nas.runs.export import export_saved_model
from keras_nas.runs.export import load_exported
from keras_nas.engine.tuner import NASTuner
from keras_nas.report import report

__version__ = "0.1.0"
