"""Failed trials: one-line reasons, NaN detection, the consecutive limit."""

import math

import keras
import keras_tuner as kt
import tensorflow as tf

from keras_nas.formatting import first_line


class ArchitectureBuildError(kt.errors.FailedTrialError):
    """The space could not build a trial's architecture."""


class NaNLossError(kt.errors.FailedTrialError):
    """A trial's loss became NaN or infinite."""


class TooManyFailuresError(RuntimeError):
    """The search stopped after too many consecutive failed trials."""


def build_trial_model(build, hp):
    """Builds a trial's model, failing the trial with a clear reason.

    Clears Keras's global state first. An error of the space's `build`
    fails the trial as `ArchitectureBuildError`, except KerasTuner's own
    errors and running out of memory, which keep their kind.

    Args:
        build: Function from `hp` to the trial's `keras.Model`.
        hp: The trial's `keras_tuner.HyperParameters`.

    Returns:
        The built (compiled) model.

    Raises:
        keras_tuner.errors.FatalTypeError: If `build` returns no
            `keras.Model`.
    """
    keras.backend.clear_session(free_memory=False)
    try:
        model = build(hp)
    except (
        kt.errors.FailedTrialError,
        kt.errors.FatalError,
        tf.errors.ResourceExhaustedError,
        MemoryError,
    ):
        raise
    except Exception as error:
        raise ArchitectureBuildError(
            "the architecture could not be built: "
            f"{type(error).__name__}: {first_line(error)}"
        ) from error
    if not isinstance(model, keras.Model):
        raise kt.errors.FatalTypeError(
            "Expected the space's build(hp) to return a keras.Model. "
            f"Received: {model!r} of type {type(model)}."
        )
    return model


def failure_reason(error):
    """Says in one line why a trial failed.

    Args:
        error: The exception the trial raised.

    Returns:
        A line such as `out of memory: ...`, `the loss became nan at epoch
        2`, or `ValueError: ...`.
    """
    if isinstance(error, (tf.errors.ResourceExhaustedError, MemoryError)):
        return f"out of memory: {first_line(error)}"
    if isinstance(error, kt.errors.FailedTrialError):
        return first_line(error)
    return f"{type(error).__name__}: {first_line(error)}"


class StopOnNaN(keras.callbacks.Callback):
    """Fails the trial at the end of an epoch whose loss is NaN or infinite.

    A diverged model would otherwise finish its epochs and be scored on
    meaningless predictions. Checked per epoch, so that no batch waits for
    its loss to reach Python.
    """

    def on_epoch_end(self, epoch, logs=None):
        for name in ("loss", "val_loss"):
            value = (logs or {}).get(name)
            if value is not None and not math.isfinite(float(value)):
                raise NaNLossError(
                    f"the {name} became {float(value)} at epoch {epoch + 1}"
                )


class InfeasibleArchitecture(Exception):
    """An architecture over a budget, measured and never trained.

    Args:
        message: One line, `keras_nas.objectives.costs.describe_violation`.
        metrics: Its measured costs and `constraint_violation`.
    """

    def __init__(self, message, metrics):
        super().__init__(message)
        self.metrics = metrics


class InfeasibleBudgetError(RuntimeError):
    """No architecture met the search's budgets, many trials in a row."""
