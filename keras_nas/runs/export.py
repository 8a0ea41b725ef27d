"""Export a trained architecture as a SavedModel folder, and load it back.

An export folder holds everything needed to serve, fine-tune or reproduce a
searched architecture:

```
path/
  saved_model.pb, variables/, ...   # TensorFlow SavedModel, endpoint `serve`
  model.keras                       # the Keras file, for further training
  architecture.json                 # the architecture (space, decisions, ...)
  metrics.json                      # its metrics, including "params"
  preprocessing.keras               # the data's front, if it has one
```

The folder is written durably (`keras_nas.files.save_folder_atomically`):
under a hidden staging name next to it, synced, then renamed into place. A
staging folder left by a killed export is removed by the next export to the
same path.

The SavedModel loads with TensorFlow alone, without Keras or keras_nas. Keep a
reference to the loaded object before calling it (`m = tf.saved_model.load(p);
m.serve(x)`): TensorFlow 2.21 fails on `tf.saved_model.load(p).serve(x)`.
"""

import dataclasses
import json
import pathlib
import zipfile

import keras
import numpy as np
import tensorflow as tf

from keras_nas.data.preprocessing import with_front
from keras_nas.formatting import first_line
from keras_nas.files import CorruptFileError
from keras_nas.files import read_json as _read_json
from keras_nas.files import save_folder_atomically
from keras_nas.runs.front_file import FRONT_FILE

SAVED_MODEL_FILE = "saved_model.pb"
KERAS_FILE = "model.keras"
ARCHITECTURE_FILE = "architecture.json"
METRICS_FILE = "metrics.json"


def export_saved_model(
    model, path, *, architecture=None, metrics=None, overwrite=False, front=None
):
    """Writes a model, its architecture and its metrics to an export folder.

    The folder gets a TensorFlow SavedModel whose `serve` endpoint (also
    signature `serving_default`, for TF Serving) takes a batch of the model's
    inputs with a dynamic batch dimension, the Keras file `model.keras`,
    `architecture.json` and `metrics.json`. `metrics.json` gets
    `"params": model.count_params()` unless `metrics` already has `"params"`.
    With a `front` (the data's preprocessing, see
    `keras_nas.data.preprocessing`), `serve` takes raw inputs (decoded
    images of any size, waveforms, strings, series) and runs the front
    before the model; `model.keras` stays the model alone and the front is
    written beside it as `preprocessing.keras`.
    NumPy scalars and arrays in both dicts are written as Python numbers and
    lists.

    The folder is written next to `path` under a hidden temporary name
    (`.NAME.tmp-<pid>-XXXX`), synced to disk and renamed into place at the
    end, so an interrupted export never leaves a folder that looks
    complete; temporary folders of `path` left by killed exports are
    removed.

    Args:
        model: A built `keras.Model`.
        path: The export folder (str or path-like). Parent folders are
            created as needed.
        architecture: Optional JSON-safe dict describing the architecture,
            e.g. `{"space": ..., "space_config": ..., "decisions": ...}`.
        metrics: Optional JSON-safe dict of metric names to values.
        overwrite: Whether to replace a previous export at `path`. Only a
            folder that holds a `saved_model.pb`, or an empty one, is
            replaced.
        front: Optional `keras.Model` from raw inputs to `model`'s inputs.

    Returns:
        The export folder, as a `pathlib.Path`.

    Raises:
        TypeError: If `model` is not a `keras.Model`, or `architecture` or
            `metrics` is neither a dict nor None.
        ValueError: If `architecture` or `metrics` cannot be written as JSON,
            if `path` is a file, or if `overwrite=True` and `path` is a
            non-empty folder that is not a previous export.
        FileExistsError: If `path` is a non-empty folder and `overwrite` is
            False.
        keras_nas.write_errors.WriteError: If the folder cannot be written (a
            full disk), naming `path`.

    Example:

    ```python
    path = export_saved_model(
        model, "saved_models/best",
        architecture={"space": "convnet", "decisions": {"depth": 2}},
        metrics={"val_accuracy": 0.93},
    )
    m = tf.saved_model.load(str(path))
    probs = m.serve(x)
    ```
    """
    if not isinstance(model, keras.Model):
        raise TypeError(
            "Received an invalid value for `model`, expected a `keras.Model`. "
            f"Received: model={model!r}"
        )
    path = pathlib.Path(path)
    check_target(path, overwrite)
    metrics = dict(_check_dict(metrics, "metrics"))
    metrics.setdefault("params", int(model.count_params()))
    texts = {
        ARCHITECTURE_FILE: _to_json(_check_dict(architecture, "architecture"),
                                    "architecture"),
        METRICS_FILE: _to_json(metrics, "metrics"),
    }
    save_folder_atomically(
        path, lambda staging: _write_folder(model, pathlib.Path(staging), texts, front)
    )
    return path


def check_target(path, overwrite):
    """Raises unless `path` is absent, empty, or a replaceable export.

    Args:
        path: The export folder, a `pathlib.Path`.
        overwrite: Whether a previous export there may be replaced.

    Raises:
        ValueError: If `path` is a file, or a non-empty folder that is not
            a previous export while `overwrite` is True.
        FileExistsError: If `path` is a non-empty folder and `overwrite` is
            False.
    """
    if not path.exists():
        return
    if not path.is_dir():
        raise ValueError(
            "Received an invalid value for `path`, expected a folder, but it "
            f"is a file. Received: path={str(path)!r}"
        )
    if not any(path.iterdir()):
        return
    if not overwrite:
        raise FileExistsError(
            f"The export folder {str(path)!r} already exists and is not "
            "empty. Pass overwrite=True to replace a previous export."
        )
    if not (path / SAVED_MODEL_FILE).exists():
        raise ValueError(
            "Refusing to overwrite a folder that is not a previous export "
            f"(it has no {SAVED_MODEL_FILE}). Choose another `path`. "
            f"Received: path={str(path)!r}"
        )


def _check_dict(value, name):
    """Returns `value` as a dict ({} for None); raises TypeError otherwise."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(
            f"Received an invalid value for `{name}`, expected a dict or None. "
            f"Received: {name}={value!r}"
        )
    return value


def _to_json(value, name):
    """Serialises `value` to indented JSON, converting NumPy types."""
    try:
        return json.dumps(_json_safe(value), indent=2, sort_keys=False) + "\n"
    except TypeError as error:
        raise ValueError(
            f"Received an invalid value for `{name}`, expected JSON-safe "
            f"values ({error}). Received: {name}={value!r}"
        ) from error


def _json_safe(value):
    """Converts NumPy scalars and arrays (also nested) to Python types."""
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    return value


def _write_folder(model, folder, texts, front):
    """Writes the SavedModel, the Keras file and the JSON files to `folder`."""
    served = model if front is None else with_front(front, model)
    served.export(str(folder), format="tf_saved_model", verbose=False)
    model.save(folder / KERAS_FILE)
    if front is not None:
        front.save(folder / FRONT_FILE)
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")


@dataclasses.dataclass
class ExportedModel:
    """A loaded export folder.

    Attributes:
        serve: The object returned by `tf.saved_model.load`; call
            `serve.serve(x)` on a batch. Holding it keeps its variables alive.
        architecture: The dict from `architecture.json` ({} if absent).
        metrics: The dict from `metrics.json` ({} if absent).
        path: The export folder.
    """

    serve: object
    architecture: dict
    metrics: dict
    path: pathlib.Path

    def predict(self, x, batch_size=1024):
        """Runs the `serve` endpoint on `x` in batches.

        Args:
            x: A NumPy array (or array-like) holding a batch of inputs for a
                single-input model; cast to the endpoint's input dtype.
            batch_size: Number of samples per call of `serve`.

        Returns:
            The outputs as one NumPy array, batches concatenated.

        Example:

        ```python
        probs = load_exported("saved_models/best").predict(x_test)
        ```
        """
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(
                "Received an invalid value for `batch_size`, expected a "
                f"positive integer. Received: batch_size={batch_size!r}"
            )
        dtype = self.serve.serve.input_signature[0].dtype
        x = np.asarray(x, dtype=object if dtype == tf.string else dtype.as_numpy_dtype)
        outputs = [
            self.serve.serve(tf.constant(x[start:start + batch_size])).numpy()
            for start in range(0, max(len(x), 1), batch_size)
        ]
        return np.concatenate(outputs, axis=0)


def load_exported(path):
    """Loads an export folder written by `export_saved_model`.

    Args:
        path: The export folder (str or path-like).

    Returns:
        An `ExportedModel` holding the loaded SavedModel and its metadata.

    Raises:
        FileNotFoundError: If `path` or its `saved_model.pb` does not exist.
        ValueError: If the SavedModel has no `serve` endpoint.

    Example:

    ```python
    exported = load_exported("saved_models/best")
    exported.architecture["decisions"]
    probs = exported.predict(x_test)
    ```
    """
    path = pathlib.Path(path)
    if not (path / SAVED_MODEL_FILE).is_file():
        raise FileNotFoundError(
            f"No exported model found at {str(path)!r}: expected a folder "
            f"holding {SAVED_MODEL_FILE}. Received: path={str(path)!r}"
        )
    loaded = tf.saved_model.load(str(path))
    if not hasattr(loaded, "serve"):
        raise ValueError(
            "Received an invalid value for `path`, expected a SavedModel with "
            f"a `serve` endpoint. Received: path={str(path)!r}"
        )
    return ExportedModel(
        serve=loaded,
        architecture=read_json(path / ARCHITECTURE_FILE),
        metrics=read_json(path / METRICS_FILE),
        path=path,
    )


def load_keras_model(path):
    """Loads the Keras file `model.keras` of an export folder, uncompiled.

    Args:
        path: The export folder (str or path-like).

    Returns:
        The `keras.Model`.

    Raises:
        FileNotFoundError: If the folder holds no `model.keras`.
        keras_nas.files.CorruptFileError: If `model.keras` is truncated or
            is not a Keras file, naming it.

    Example:

    ```python
    model = load_keras_model("saved_models/best")
    ```
    """
    path = pathlib.Path(path)
    file = path / KERAS_FILE
    if not file.is_file():
        raise FileNotFoundError(
            f"Received an invalid value for `export_dir`, expected an export "
            f"folder holding {KERAS_FILE}. Received: export_dir={str(path)!r}"
        )
    # Keras reports a damaged file as "File not found".
    if not zipfile.is_zipfile(file):
        raise CorruptFileError(
            file, f"not a whole {KERAS_FILE} zip file: truncated or overwritten; "
            "export the model again"
        )
    try:
        return keras.saving.load_model(file, compile=False)
    except (OSError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise CorruptFileError(
            file, f"{first_line(error)}; export the model again"
        ) from None


def read_json(file):
    """Returns the JSON dict in `file` (a `pathlib.Path`), or {} if there is none.

    Raises:
        keras_nas.files.CorruptFileError: If `file` is not valid JSON,
            naming it.
    """
    if not file.is_file():
        return {}
    return _read_json(file)
