"""The former place of `keras_nas.runs.export`, kept so that old imports work."""

from keras_nas.runs.export import ExportedModel
from keras_nas.runs.export import export_saved_model
from keras_nas.runs.export import load_exported
from keras_nas.runs.export import load_keras_model

__all__ = [
    "ExportedModel",
    "export_saved_model",
    "load_exported",
    "load_keras_model",
]
