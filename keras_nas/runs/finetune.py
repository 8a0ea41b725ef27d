"""Fine-tuning an exported model on new data: full, features or LoRA.

Three ways to adapt an export folder (see `keras_nas.runs.export`) to a new
dataset of the same input shape, each ending in a new export folder whose
SavedModel TensorFlow serves alone:

- `"full"`: every weight trains.
- `"features"`: the network is frozen and only the head trains; with
  `unfreeze_top=True` the top block (the last Dense or convolution below the
  head, and what follows it) then trains too, in a second phase.
- `"lora"`: Keras's own low-rank adaptation (`layer.enable_lora(rank)`) on
  every Dense and convolution of the network; their kernels stay frozen,
  their biases and the low-rank factors train. Keras writes a LoRA layer's
  kernel merged (`kernel + alpha / rank * a @ b`) when it saves weights, so
  the trained weights are saved and loaded into the same network without
  LoRA, which is exported: the served model has the original layers only.

The head is kept when the new data has the export's task and classes;
otherwise (other classes, another class count, another task) a new head of
the new task replaces it and trains in every mode.

Each phase trains for a budget of optimisation steps (`STEPS`) at its
phase's Adam learning rate (`LEARNING_RATES`), on the training data
reshuffled each pass and repeated, and validates every `VALIDATION_STEPS`
steps (or every epoch, when an epoch is longer; the budget is rounded up to
whole validation periods). It stops early on the validation loss
(`StepEarlyStopping`): not before `MIN_STEPS` steps, then after
`PATIENCE_STEPS` steps without a better validation loss, keeping the best
weights. Steps rather than epochs, because a few-shot set of 60 images is
two steps an epoch and 1,500 images 47: an epoch count that trains one
stops the other too soon. The defaults were chosen by measurement
(`benchmarks/finetune.py`, see the README).
"""

import dataclasses
import math
import pathlib
import tempfile
import time

import keras
import numpy as np

from keras_nas import tasks
from keras_nas.data import batches
from keras_nas import validation
from keras_nas.data.search_data import SearchData
from keras_nas.data.splits import DatasetSplits
from keras_nas.runs.export import ARCHITECTURE_FILE
from keras_nas.runs.export import check_target
from keras_nas.runs.export import export_saved_model
from keras_nas.runs.export import read_json
from keras_nas.runs.front_file import load_front

MODES = ("full", "features", "lora")

LEARNING_RATES = {"full": 1e-3, "features": 1e-2, "top": 1e-3, "lora": 1e-3}
"""Adam learning rate of each phase: `full`, `features` (the head), `top`
(the second phase of `features` with `unfreeze_top`) and `lora`."""
STEPS = 1000
"""Most optimisation steps of each phase."""
MIN_STEPS = 200
"""Steps each phase trains before it may stop early."""
PATIENCE_STEPS = 200
"""Steps without a better validation loss before a phase stops."""
VALIDATION_STEPS = 10
"""Fewest steps between two validations (one epoch when that is longer)."""

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
        metrics: The dict written to `metrics.json`: the above, the steps
            trained, the passes over the training data (`epochs_trained`)
            and the step of the kept weights (`best_step`) of each phase,
            and the validation and test figures (`val_loss`,
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
    steps=None,
    epochs=None,
    learning_rate=None,
    unfreeze_top=False,
    batch_size=32,
    seed=0,
    overwrite=False,
    callbacks=None,
):
    """Fine-tunes an exported model on new data and exports the result.

    Args:
        export_dir: An export folder written by `keras_nas.runs.export`
            (it holds `model.keras`).
        data: A `keras_nas.data.DatasetSplits` of the new data
            (`keras_nas.data.load_dataset`), labels encoded by its task.
            Its validation split stops each phase early; its test split is
            only scored. When the export has a front (its preprocessing:
            text, audio, images of any size), the raw inputs go through it
            and the new export keeps it.
        out: The new export folder.
        mode: `"full"`, `"features"` or `"lora"` (see the module docstring).
        rank: Rank of the LoRA factors (`mode="lora"` only).
        steps: Most optimisation steps of each phase (rounded up to whole
            validation periods); `None` for `STEPS`.
        epochs: Most passes over the training data in each phase, a cap on
            `steps`; `None` for no cap.
        learning_rate: Adam learning rate of every phase; `None` for each
            phase's `LEARNING_RATES`.
        unfreeze_top: With `mode="features"`, train the top block after the
            head.
        batch_size: Samples per step.
        seed: Seed of the new weights and the shuffling.
        overwrite: Whether to replace a previous export at `out`.
        callbacks: Keras callbacks added to every phase's `fit`.

    Returns:
        A `FineTuneResult`.

    Raises:
        ValueError: If `mode`, `rank`, `steps`, `epochs`, `learning_rate`
            or `batch_size` is invalid, the data's input shape is not the
            model's, or `out` is not a folder that may be written.
        FileExistsError: If `out` is a non-empty folder and `overwrite` is
            False.
        FileNotFoundError: If `export_dir` holds no `model.keras`.

    Example:

    ```python
    data = keras_nas.data.load_dataset("new_digits.npz")
    result = finetune("saved_models/digits", data, "saved_models/new",
                      mode="lora", rank=4)
    print(result.trainable_params, result.metrics["test_accuracy"])
    ```
    """
    validation.check_one_of("mode", mode, MODES)
    for name, value in (("rank", rank), ("batch_size", batch_size)):
        validation.check_positive_int(name, value)
    steps = validation.check_positive_int("steps", steps, allow_none=True) or STEPS
    validation.check_positive_int("epochs", epochs, allow_none=True)
    if learning_rate is not None:
        learning_rate = validation.check_positive_float("learning_rate", learning_rate)
    rates = {
        key: learning_rate or value for key, value in LEARNING_RATES.items()
    }
    export_dir, out = pathlib.Path(export_dir), pathlib.Path(out)
    check_target(out, overwrite)
    front = load_front(export_dir)
    if front is not None and isinstance(data, DatasetSplits):
        data = SearchData.from_splits(data, front=front)  # Raw inputs, as served.
    source = _load_model(export_dir)
    _check_input_shape(source, data)
    keras.utils.set_random_seed(seed)
    old_task = tasks.get_task(read_json(export_dir / ARCHITECTURE_FILE).get("task"))
    keep_head = _same_task(old_task, data.task)
    model = _adapted(source, data.task, keep_head)
    fit = _Fit(data, batch_size, steps, epochs, seed, callbacks)
    start = time.perf_counter()
    if mode == "full":
        fit(model, rates["full"])
    elif mode == "features":
        _freeze_body(model)
        fit(model, rates["features"])
        if unfreeze_top:
            _unfreeze_top_block(model)
            fit(model, rates["top"])
    else:
        _enable_lora(model, rank, keep_head)
        fit(model, rates["lora"])
        model = _merged(model, _adapted(_load_model(export_dir), data.task, keep_head))
        data.task.compile(model, keras.optimizers.Adam(rates["lora"]))
    seconds = time.perf_counter() - start
    metrics = {
        "finetune": {
            "source": str(export_dir), "mode": mode,
            "rank": rank if mode == "lora" else None,
            "unfreeze_top": unfreeze_top if mode == "features" else None,
            "new_head": not keep_head, "seed": seed, "steps": steps,
            "epochs": epochs, "learning_rates": fit.learning_rates,
            "min_steps": MIN_STEPS, "patience_steps": PATIENCE_STEPS,
            "batch_size": batch_size,
        },
        "trainable_params": fit.trainable_params,
        "seconds": seconds,
        "steps_trained": fit.steps_trained,
        "epochs_trained": fit.epochs_trained,
        "best_step": fit.best_steps,
        "task": data.task.name,
        **tasks.evaluate(model, *batches.labelled(data.x_val, data.y_val), prefix="val_"),
        **tasks.evaluate(model, *batches.labelled(data.x_test, data.y_test)),
    }
    if data.task.is_classification:
        metrics["class_names"] = data.task.class_names
    architecture = {
        **read_json(export_dir / ARCHITECTURE_FILE),
        "task": data.task.get_config(),
    }
    metrics["modality"] = architecture.get("modality")
    path = export_saved_model(
        model, out, architecture=architecture, metrics=metrics, overwrite=overwrite,
        front=front,
    )
    return FineTuneResult(path, mode, fit.trainable_params, seconds, metrics)


class StepEarlyStopping(keras.callbacks.Callback):
    """Early stopping on the validation loss, counted in steps.

    At each epoch's end the step count grows by `steps_per_epoch`; a
    validation loss below the best so far keeps the weights. Training stops
    once at least `min_steps` steps are done and `patience` steps have gone
    by since the best; the best weights are restored when training ends.

    Args:
        steps_per_epoch: Optimisation steps of one epoch.
        patience: Steps without a better validation loss before stopping.
        min_steps: Steps trained before training may stop.
        monitor: The logged figure to minimise.

    Example:

    ```python
    steps_per_epoch = math.ceil(len(x_train) / 32)
    stop = StepEarlyStopping(steps_per_epoch, patience=100, min_steps=100)
    model.fit(x_train, y_train, validation_data=(x_val, y_val), batch_size=32,
              epochs=math.ceil(500 / steps_per_epoch), callbacks=[stop])
    stop.steps, stop.best_step
    ```
    """

    def __init__(self, steps_per_epoch, patience, min_steps, monitor="val_loss"):
        super().__init__()
        self.steps_per_epoch = validation.check_positive_int(
            "steps_per_epoch", steps_per_epoch
        )
        self.patience = validation.check_positive_int("patience", patience)
        self.min_steps = validation.check_non_negative_int("min_steps", min_steps)
        self.monitor = monitor
        self.reset()

    def reset(self):
        """Forgets the steps, the best value and the best weights."""
        self.steps, self.best_step, self.best = 0, 0, math.inf
        self.best_weights = None

    def on_train_begin(self, logs=None):
        self.reset()

    def on_epoch_end(self, epoch, logs=None):
        if self.update((logs or {}).get(self.monitor)):
            self.best_weights = self.model.get_weights()
        if self.should_stop():
            self.model.stop_training = True

    def update(self, value):
        """Counts one epoch that ended at `value`; whether it is the best."""
        self.steps += self.steps_per_epoch
        if value is not None and value < self.best:
            self.best, self.best_step = float(value), self.steps
            return True
        return False

    def should_stop(self):
        """Whether the steps so far call for stopping."""
        return (self.steps >= self.min_steps
                and self.steps - self.best_step >= self.patience)

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)


class _Fit:
    """Trains phases by a step budget; records their sizes and steps."""

    def __init__(self, data, batch_size, steps, epochs, seed, callbacks):
        self.data, self.batch_size, self.seed = data, batch_size, seed
        self.callbacks = list(callbacks or [])
        self.steps_per_epoch = math.ceil(len(data.x_train) / batch_size)
        if epochs is not None:
            steps = min(steps, epochs * self.steps_per_epoch)
        self.period = min(steps, max(self.steps_per_epoch, VALIDATION_STEPS))
        self.steps = math.ceil(steps / self.period) * self.period
        self.trainable_params = 0
        self.steps_trained, self.best_steps, self.learning_rates = [], [], []

    def __call__(self, model, learning_rate):
        self.data.task.compile(model, keras.optimizers.Adam(learning_rate))
        trainable = _count(model.trainable_weights)
        self.trainable_params = max(self.trainable_params, trainable)
        stop = StepEarlyStopping(self.period, PATIENCE_STEPS, MIN_STEPS)
        model.fit(
            self._stream(), steps_per_epoch=self.period,
            epochs=self.steps // self.period,
            validation_data=batches.labelled(self.data.x_val, self.data.y_val),
            shuffle=False, verbose=0, callbacks=[stop, *self.callbacks],
        )
        self.steps_trained.append(stop.steps)
        self.best_steps.append(stop.best_step)
        self.learning_rates.append(learning_rate)

    @property
    def epochs_trained(self):
        """Passes over the training data of each phase (the last may be part)."""
        return [round(s / self.steps_per_epoch, 2) for s in self.steps_trained]

    def _stream(self):
        """The training data, reshuffled each pass, repeated without end."""
        return batches.repeated_dataset(
            self.data.x_train, self.data.y_train, self.batch_size, self.seed
        )


def _count(weights):
    return int(sum(np.prod(w.shape) for w in weights))


def _load_model(export_dir):
    """The export's `model.keras`; a damaged one is named as corrupt.

    Raises:
        FileNotFoundError: If `export_dir` holds no `model.keras`.
        keras_nas.files.CorruptFileError: If it is truncated or garbage.
    """
    from keras_nas.runs.export import load_keras_model

    return load_keras_model(export_dir)


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
    if any(layer.name == "average" for layer in model.layers):
        raise ValueError(
            "Received an invalid value for `export_dir`: it holds an ensemble "
            "(keras_nas.runs.ensembles), which cannot be fine-tuned; export one "
            "model (`keras-nas run --ensemble 1`) and fine-tune that. "
            f"Received layers: {[layer.name for layer in model.layers]}"
        )
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
