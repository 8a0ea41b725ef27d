"""Warm starts: a new search begins from an earlier run's architectures.

`NASTuner(warm_start=RUN_DIR)` (`keras-nas run --warm-start RUN_DIR`) reads
the completed trials of an earlier run of the same space and input shape and
hands them to the strategy (`NASOracle.warm_start`). Whether they were
trained on the same data decides what carries over: every search records a
fingerprint of its data and training settings in `search.json`
(`data_fingerprint`); when the earlier run's matches, its trials are taken
over with their results and checkpoints and never trained again, otherwise
only its best architectures are, proposed first and trained on the new data.
"""

import dataclasses
import hashlib
import json
import math
import os
import shutil

import numpy as np

from keras_nas import compat
from keras_nas.disk_arrays import chunks
from keras_nas.disk_arrays import is_array
from keras_nas.runs.run_directory import RunDirectory

_TRIAL_FILE = "trial.json"
_FIT_SETTINGS = ("epochs", "batch_size", "validation_split", "class_weight")


@dataclasses.dataclass
class WarmStart:
    """An earlier run to start a search from.

    Attributes:
        path: The earlier run's folder.
        fingerprint: Its `data_fingerprint`, or `None` if it recorded none.
        trials: Its completed trials with a finite score, in the order they
            were created.
    """

    path: str
    fingerprint: object
    trials: list


def read_warm_start(run_dir, space_label, space_config):
    """Reads an earlier run and checks that a search can start from it.

    Args:
        run_dir: The earlier run's folder (`directory/project_name`).
        space_label: The new search's space name (`search.json`'s `space`).
        space_config: The new space's config (`None` for a plain
            `build(hp)`); its `input_shape` must be the earlier one's.

    Returns:
        A `WarmStart`.

    Raises:
        ValueError: If `run_dir` is not a keras-nas run, or its space or
            input shape differs.
    """
    try:
        run = RunDirectory(run_dir)
    except ValueError as error:
        raise ValueError(
            f"Received an invalid value for `warm_start`, expected the folder "
            f"of an earlier run ({error}). Received: warm_start={str(run_dir)!r}"
        ) from None
    if run.search.get("space") != space_label:
        raise ValueError(
            f"Received an invalid value for `warm_start`: its run searched the "
            f"space {run.search.get('space')!r}, this search {space_label!r}. "
            f"Received: warm_start={str(run_dir)!r}"
        )
    old_shape = (run.search.get("space_config") or {}).get("input_shape")
    new_shape = (space_config or {}).get("input_shape")
    if old_shape is not None and new_shape is not None and (
        list(old_shape) != list(new_shape)
    ):
        raise ValueError(
            f"Received an invalid value for `warm_start`: its run's inputs have "
            f"shape {tuple(old_shape)}, this search's {tuple(new_shape)}. "
            f"Received: warm_start={str(run_dir)!r}"
        )
    trials = [
        t for t in run.trials
        if t.status == "COMPLETED" and t.score is not None and math.isfinite(t.score)
    ]
    return WarmStart(run.path, run.search.get("data_fingerprint"), trials)


def data_fingerprint(x, y, fit_kwargs):
    """A hash of a search's data and of the settings its scores depend on.

    Args:
        x: The training inputs given to `search`.
        y: The training labels, or `None`.
        fit_kwargs: `search`'s keyword arguments (`validation_data`,
            `epochs`, `batch_size`, `validation_split`, `class_weight`).

    Returns:
        A hex string, or `None` when the data is not NumPy arrays (a
        `tf.data.Dataset`, a generator), which is then never "the same".
    """
    validation = fit_kwargs.get("validation_data")
    if not isinstance(validation, (tuple, list)):
        validation = [validation]
    arrays = [x, y, *validation]
    digest = hashlib.sha256()
    for array in arrays:
        if array is None:
            digest.update(b"none")
            continue
        if not is_array(array):
            return None
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        for chunk in chunks(array):
            digest.update(np.ascontiguousarray(chunk).tobytes())
    settings = {key: fit_kwargs.get(key) for key in _FIT_SETTINGS}
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def begin_warm_start(oracle, warm_start, fingerprint):
    """Hands an earlier run's trials to the oracle; copies their files.

    A trial taken over gets its earlier folder's files (the checkpoint of
    its best epoch, ...) but `trial.json`, which the oracle wrote.

    Args:
        oracle: The new search's `NASOracle`.
        warm_start: A `WarmStart`.
        fingerprint: The new search's `data_fingerprint`.

    Returns:
        How many trials were taken over (0 for other data, or when the
        oracle was warm-started before).
    """
    same_data = fingerprint is not None and fingerprint == warm_start.fingerprint
    taken = oracle.warm_start(warm_start.trials, same_data)
    for old_id, new_id in taken.items():
        source = os.path.join(warm_start.path, f"trial_{old_id}")
        for name in os.listdir(source):
            if name != _TRIAL_FILE and os.path.isfile(os.path.join(source, name)):
                shutil.copyfile(
                    os.path.join(source, name),
                    os.path.join(compat.trial_dir(oracle, new_id), name),
                )
    return len(taken)
