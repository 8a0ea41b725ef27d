"""The former place of `keras_nas.runs.finetune`, kept so that old imports work."""

from keras_nas.runs.finetune import MODES
from keras_nas.runs.finetune import FineTuneResult
from keras_nas.runs.finetune import finetune

__all__ = [
    "MODES",
    "FineTuneResult",
    "finetune",
]
