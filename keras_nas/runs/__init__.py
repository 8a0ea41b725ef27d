"""A run folder and what comes out of it.

The run directory and its leaderboard, the export (a SavedModel folder),
the final model (a trial's weights, a final fit, an ensemble), fine-tuning
of an export, and the folder locks and output paths that keep a run
folder whole (durable writes are `keras_nas.files`).
"""

from keras_nas.runs.run_directory import DATASET_FILE
from keras_nas.runs.run_directory import SEARCH_FILE
from keras_nas.runs.run_directory import RunDirectory
from keras_nas.runs.run_directory import export_trial

__all__ = [
    "DATASET_FILE",
    "SEARCH_FILE",
    "RunDirectory",
    "export_trial",
]
