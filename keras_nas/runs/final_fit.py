"""Final training: a searched architecture trained again on train + validation.

A trial's weights were fitted on the training split only and chosen by the
validation split. `final_fit` trains the same architecture from scratch on
both splits together for the epochs its trial found best, through the one
trial path (`keras_nas.training.trial.fit_trial`), and returns the model with
a record of what was done. The test split is never seen.
"""

import os
import tempfile
import time

import keras_tuner as kt

from keras_nas import validation
from keras_nas.data import batches
from keras_nas.disk_arrays import is_array
from keras_nas.training.checkpoint import load_trial_model
from keras_nas.training.trial import fit_trial

_LAST_EPOCH = kt.Objective("val_loss", "min")
"""With no validation data no epoch reports it, so the last epoch is kept."""


def final_epochs(trial, epochs=None):
    """The epochs of a trial's final training.

    Args:
        trial: A completed `keras_tuner.engine.trial.Trial`.
        epochs: A positive integer to use instead, or `None`.

    Returns:
        `epochs`, or the number of epochs up to the trial's best one
        (`trial.best_step` is 0-based).

    Raises:
        ValueError: If `epochs` is neither `None` nor a positive integer.
    """
    validation.check_positive_int("final_epochs", epochs, allow_none=True)
    if epochs is not None:
        return epochs
    return int(trial.best_step or 0) + 1


def final_fit(
    hypermodel,
    trial,
    train,
    validation_data,
    *,
    seed,
    epochs=None,
    fit_kwargs=None,
    build=None,
    scope=None,
):
    """Trains a trial's architecture again on train + validation.

    Args:
        hypermodel: The search's `keras_tuner.HyperModel` (its `fit`
            trains, as in the search).
        trial: The completed `keras_tuner.engine.trial.Trial` to retrain.
        train: `(x, y)` of the training split, labels encoded as in the
            search.
        validation_data: `(x, y)` of the validation split.
        seed: The random seed of the initialisation and shuffling.
        epochs: Epochs to train; `None` for the trial's best epoch count
            (`final_epochs`).
        fit_kwargs: Further arguments of `fit` (`batch_size`, ...);
            `validation_data`, `validation_split`, `epochs` and `callbacks`
            are replaced.
        build: Function from `hp` to the compiled model (`NASTuner` passes
            one that builds under its distribution strategy); the
            hypermodel's `build` by default.
        scope: A context manager factory under which the weights are
            restored (the distribution strategy's `scope`), or `None`.

    Returns:
        `(model, record)`: the trained model, and a JSON-safe dict with the
        `trial_id`, `epochs`, `seed`, `samples` and `seconds` of the final
        training.

    Raises:
        ValueError: If the splits are not pairs of arrays, or `epochs` is
            not a positive integer.
    """
    epochs = final_epochs(trial, epochs)
    x, y = _joined(train, validation_data, (fit_kwargs or {}).get("batch_size"), seed)
    samples = len(train[1]) + len(validation_data[1])
    # Batches of file-backed data carry their own batch size and shuffling.
    replaced = ("validation_data", "validation_split", "epochs", "callbacks", "x", "y")
    if y is None:
        replaced += ("batch_size", "shuffle")
    fit_kwargs = {
        key: value for key, value in (fit_kwargs or {}).items() if key not in replaced
    }
    fit_kwargs.setdefault("verbose", 0)
    build = build or hypermodel.build
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="keras_nas_final_") as folder:
        checkpoint = os.path.join(folder, "final.weights.h5")
        build_config = os.path.join(folder, "build_config.json")
        fit_trial(
            hypermodel, trial.hyperparameters, (x,) if y is None else (x, y),
            {**fit_kwargs, "epochs": epochs},
            seed=seed, objective=_LAST_EPOCH, checkpoint_path=checkpoint,
            build_config_path=build_config, build=build,
        )
        model = load_trial_model(build, trial.hyperparameters, build_config,
                                 checkpoint, scope=scope)
    record = {
        "trial_id": trial.trial_id,
        "epochs": epochs,
        "seed": int(seed),
        "samples": int(samples),
        "seconds": round(time.perf_counter() - start, 2),
    }
    return model, record


def _joined(train, validation_data, batch_size, seed):
    """The training and validation data as one `(x, y)`, checked
    (`keras_nas.data.batches.joined`)."""
    parts = []
    for name, split in (("train", train), ("validation_data", validation_data)):
        if not isinstance(split, (tuple, list)) or len(split) < 2 or not all(
            is_array(a) for a in split[:2]
        ):
            raise ValueError(
                f"Received an invalid value for `{name}`: the final fit "
                "needs NumPy arrays (x, y) of the training and validation "
                f"splits. Received: {name} of type {type(split).__name__}"
            )
        parts.append(split[:2])
    return batches.joined(*parts, batch_size or batches.DEFAULT_BATCH_SIZE, seed)
