"""Fine-tuning an exported model on new data: full, features or LoRA.

Three ways to adapt an export folder (see `keras_nas.export`) to a new
dataset of the same input shape, each ending in a new export folder whose
SavedModel TensorFlow serves alone:

- `"full"`: every weight trains, at `LOWER_LEARNING_RATE` (a tenth of the
  spaces' default learning rate).
- `"features"`: the network is frozen and only the head trains; with
  `unfreeze_top=True` the top block (the last Dense or convolution below the
  head, and what follows it) then trains too, at the lower rate.
- `"lora"`: Keras's own low-rank adaptation (`layer.enable_lora(rank)`) on
  every Dense and convolution of the network; their kernels stay frozen,
  their biases and the low-rank factors train. Keras writes a LoRA layer's
  kernel merged (`kernel + alpha / rank * a @ b`) when it saves weights, so
  the trained weights are saved and loaded into the same network without
  LoRA, which is exported: the served model has the original layers only.

The head is kept when the new data has the export's task and classes;
otherwise (other classes, another class count, another task) a new head of
the new task replaces it and trains in every mode. Every mode stops early
on the validation loss and keeps its best epoch's weights.
"""

import dataclasses
import pathlib
import tempfile
import time

import keras
import numpy as np

from keras_nas import tasks
from keras_nas import validation
from keras_nas.export import ARCHITECTURE_FILE
from keras_nas.export import KERAS_FILE
from keras_nas.export import check_target
from keras_nas.export import export_saved_model
from keras_nas.export import read_json

MODES = ("full", "features", "lora")

LEARNING_RATE = 1e-3
"""The head's (and LoRA's) Adam learning rate."""
LOWER_LEARNING_RATE = 1e-4
"""The learning rate where pre-trained weights train (`full`, the top block)."""
PATIENCE = 5
"""Epochs without a better validation loss before a phase stops."""

_HEAD_NAMES = ("classifier", "regression")


@dataclasses.dataclass
class FineTuneResult:
    """What a fine-tuning run produced.

    Attributes:
        path: The new export folder.
        mode: `"full"`, `"features"` or `"lora"`.
        trainable_params: Weights trained (the larger phase's for
            `features` with `unfreeze_top`).
        seconds: Training time, loading and export excluded.
        metrics: The dict written to `metrics.json`: the above, the epochs
            trained, and the validation and test figures (`val_loss`,
            `test_accuracy`, ...).
    """

    path: pathlib.Path
    mode: str
    trainable_params: int
    seconds: float
    metrics: dict


def finetune(
    export_dir,
    data,
    out,
    *,
    mode="full",
    rank=8,
    epochs=30,
    unfreeze_top=False,
    batch_size=32,
    seed=0,
    overwrite=False,
):
    """Fine-tunes an exported model on new data and exports the result.

    Args:
        export_dir: An export folder written by `keras_nas.export`
            (it holds `model.keras`).
        data: A `keras_nas.datasets.DatasetSplits` of the new data
            (`keras_nas.datasets.load_dataset`), labels encoded by its task.
        out: The new export folder.
        mode: `"full"`, `"features"` or `"lora"` (see the module docstring).
        rank: Rank of the LoRA factors (`mode="lora"` only).
        epochs: Most epochs of each training phase.
        unfreeze_top: With `mode="features"`, train the top block after the
            head.
        batch_size: Samples per step.
        seed: Seed of the new weights and the shuffling.
        overwrite: Whether to replace a previous export at `out`.

    Returns:
        A `FineTuneResult`.

    Raises:
        ValueError: If `mode`, `rank`, `epochs` or `batch_size` is invalid,
            the data's input shape is not the model's, or `out` is not a
            folder that may be written.
        FileExistsError: If `out` is a non-empty folder and `overwrite` is
            False.
        FileNotFoundError: If `export_dir` holds no `model.keras`.

    Example:

    ```python
    data = keras_nas.datasets.load_dataset("new_digits.npz")
    result = finetune("saved_models/digits", data, "saved_models/new",
                      mode="lora", rank=4)
    print(result.trainable_params, result.metrics["test_accuracy"])
    ```
    """
    validation.check_one_of("mode", mode, MODES)
    for name, value in (("rank", rank), ("epochs", epochs),
                        ("batch_size", batch_size)):
        validation.check_positive_int(name, value)
    export_dir, out = pathlib.Path(export_dir), pathlib.Path(out)
    check_target(out, overwrite)
    source = _load_model(export_dir)
    _check_input_shape(source, data)
    keras.utils.set_random_seed(seed)
    old_task = tasks.get_task(read_json(export_dir / ARCHITECTURE_FILE).get("task"))
    keep_head = _same_task(old_task, data.task)
    model = _adapted(source, data.task, keep_head)
    fit = _Fit(data, batch_size, epochs)
    start = time.perf_counter()
    if mode == "full":
        fit(model, LOWER_LEARNING_RATE)
    elif mode == "features":
        _freeze_body(model)
        fit(model, LEARNING_RATE)
        if unfreeze_top:
            _unfreeze_top_block(model)
            fit(model, LOWER_LEARNING_RATE)
    else:
        _enable_lora(model, rank, keep_head)
        fit(model, LEARNING_RATE)
        model = _merged(model, _adapted(_load_model(export_dir), data.task, keep_head))
        data.task.compile(model, keras.optimizers.Adam(LEARNING_RATE))
    seconds = time.perf_counter() - start
    metrics = {
        "finetune": {
            "source": str(export_dir), "mode": mode,
            "rank": rank if mode == "lora" else None,
            "unfreeze_top": unfreeze_top if mode == "features" else None,
            "new_head": not keep_head, "seed": seed,
        },
        "trainable_params": fit.trainable_params,
        "seconds": seconds,
        "epochs_trained": fit.epochs_trained,
        "task": data.task.name,
        **tasks.evaluate(model, data.x_val, data.y_val, prefix="val_"),
        **tasks.evaluate(model, data.x_test, data.y_test),
    }
    if data.task.is_classification:
        metrics["class_names"] = data.task.class_names
    architecture = {
        **read_json(export_dir / ARCHITECTURE_FILE),
        "task": data.task.get_config(),
    }
    path = export_saved_model(
        model, out, architecture=architecture, metrics=metrics, overwrite=overwrite
    )
    return FineTuneResult(path, mode, fit.trainable_params, seconds, metrics)


class _Fit:
    """Trains phases with early stopping; records their sizes and epochs."""

    def __init__(self, data, batch_size, epochs):
        self.data, self.batch_size, self.epochs = data, batch_size, epochs
        self.trainable_params = 0
        self.epochs_trained = []

    def __call__(self, model, learning_rate):
        self.data.task.compile(model, keras.optimizers.Adam(learning_rate))
        trainable = _count(model.trainable_weights)
        self.trainable_params = max(self.trainable_params, trainable)
        history = model.fit(
            self.data.x_train, self.data.y_train,
            validation_data=(self.data.x_val, self.data.y_val),
            epochs=self.epochs, batch_size=self.batch_size, verbose=0,
            callbacks=[keras.callbacks.EarlyStopping(
                "val_loss", patience=PATIENCE, restore_best_weights=True
            )],
        )
        self.epochs_trained.append(len(history.epoch))


def _count(weights):
    return int(sum(np.prod(w.shape) for w in weights))


def _load_model(export_dir):
    file = export_dir / KERAS_FILE
    if not file.is_file():
        raise FileNotFoundError(
            f"Received an invalid value for `export_dir`, expected an export "
            f"folder holding {KERAS_FILE}. Received: export_dir={str(export_dir)!r}"
        )
    return keras.saving.load_model(file, compile=False)


def _check_input_shape(model, data):
    expected = tuple(model.input_shape[1:])
    if tuple(data.input_shape) != expected:
        raise ValueError(
            f"Received an invalid value for `data`: its inputs have shape "
            f"{tuple(data.input_shape)}, the exported model takes {expected}. "
            f"Received: data={data.name!r}"
        )


def _same_task(old_task, new_task):
    """Whether the new data's task is the export's, classes included."""
    if old_task is None or old_task.name != new_task.name:
        return False
    if new_task.is_classification:
        return old_task.class_names == new_task.class_names
    return old_task.get_config() == new_task.get_config()


def _head(model):
    """The model's output layer (`classifier` or `regression`)."""
    for name in _HEAD_NAMES:
        if any(layer.name == name for layer in model.layers):
            return model.get_layer(name)
    raise ValueError(
        "Received an invalid value for `export_dir`: its model has no layer "
        f"named {' or '.join(_HEAD_NAMES)} to fine-tune behind. Received "
        f"layers: {[layer.name for layer in model.layers]}"
    )


def _adapted(model, task, keep_head):
    """The model, or its network under a new head of `task`."""
    if keep_head:
        return model
    return keras.Model(model.input, task.head(_head(model).input), name=model.name)


def _freeze_body(model):
    """Freezes every layer below the head."""
    head_layers = set(map(id, model.layers[model.layers.index(_head(model)):]))
    for layer in model.layers:
        layer.trainable = id(layer) in head_layers


def _unfreeze_top_block(model):
    """Unfreezes the last Dense or convolution below the head, and what follows."""
    head_index = model.layers.index(_head(model))
    kernels = [
        i for i, layer in enumerate(model.layers[:head_index])
        if hasattr(layer, "enable_lora")
    ]
    for layer in model.layers[kernels[-1] if kernels else head_index:]:
        layer.trainable = True


def _enable_lora(model, rank, keep_head):
    """LoRA on every Dense and convolution; other layers frozen but a new head."""
    head_index = model.layers.index(_head(model))
    for i, layer in enumerate(model.layers):
        if i >= head_index and not keep_head:
            continue  # The new head trains whole.
        if hasattr(layer, "enable_lora") and layer.weights:
            layer.enable_lora(rank)
        else:
            layer.trainable = False


def _merged(lora_model, plain_model):
    """`plain_model` with the LoRA model's weights, LoRA merged by Keras."""
    with tempfile.TemporaryDirectory() as folder:
        file = pathlib.Path(folder) / "merged.weights.h5"
        lora_model.save_weights(file)
        plain_model.load_weights(file)
    return plain_model
