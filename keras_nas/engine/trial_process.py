"""Trials in child processes, for long searches whose memory must stay flat.

`fit_in_subprocess` builds and trains one architecture in a child process
started with multiprocessing's "spawn" method, so the child inherits none of
the parent's TensorFlow state and all of its memory is returned when it
exits, whatever TensorFlow, Keras or a user's space leave behind. What
crosses back is small: the per-epoch metrics, the parameter count, and two
files (the best epoch's weights and the model's build config).
(`keras_nas.training.gradient_registry.release_custom_gradients`, which `NASTuner`
applies to every trial, already removes the leak measured in-process.)

Requirements of subprocess trials:

- The space, the hyperparameters and every argument of `fit` are pickled to
  the child: a `SearchSpace`, a `keras_tuner.HyperModel` subclass or a build
  function defined at module level, and NumPy data. With a `data_folder`
  (as `NASTuner` passes, the run's `trial_data/`), arrays of 1 MiB or more
  are written there once and re-opened by each child, memory-mapped,
  instead. A lambda or nested build
  function, a `tf.data.Dataset` or a generator cannot cross
  (`ValueError`), nor can classes defined in a notebook.
- Like any "spawn" child, the child imports the script that started the
  search: keep the search under `if __name__ == "__main__":`.
- User callbacks are passed to the child when they can be pickled (Keras's
  `EarlyStopping`, `CSVLogger` and `TensorBoard` can); they run in the
  child, so a callback's state (for example a `History` kept by the caller)
  is not updated in the parent.
- The child trains under TensorFlow's default distribution strategy.
- Each child pays TensorFlow's import and start-up (a few seconds on a
  small CPU), so this mode suits long searches rather than quick ones.
"""

import hashlib
import importlib
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import sys
import traceback

import keras
import keras_tuner as kt
import numpy as np
import tensorflow as tf

from keras_nas import compat
from keras_nas.disk_arrays import on_disk
from keras_nas.formatting import first_line
from keras_nas.training.trial import fit_trial
from keras_nas.training.trial import numeric_logs
from keras_nas.write_errors import WriteError
from keras_nas.files import save_atomically

_CHILD_TRACEBACK = "Traceback in the trial's child process:"
ARRAY_FILE_BYTES = 1 << 20
"""Arrays of at least this many bytes cross to the child as files."""
_JOIN_SECONDS = 30


class TrialProcessError(RuntimeError):
    """An error raised in a trial's child process, or the child's death.

    The message starts with the child's exception type and message and ends
    with the child's traceback.

    Attributes:
        type_name: Name of the child's exception type (`None` when the child
            died without raising).
        child_message: The child's exception message.
        child_traceback: The child's traceback text.
    """

    def __init__(
        self, message, type_name=None, child_message=None, child_traceback=None
    ):
        super().__init__(message)
        self.type_name = type_name
        self.child_message = child_message
        self.child_traceback = child_traceback


class TrialOutOfMemoryError(TrialProcessError, MemoryError):
    """The child ran out of memory (`MemoryError`, `ResourceExhaustedError`)."""


class TrialProcessKilledError(TrialProcessError):
    """The child was ended by a signal before it reported a result.

    Attributes:
        signal_number: The signal's number (9 for `SIGKILL`, which is what
            the system's out-of-memory killer sends).
    """

    def __init__(self, message, signal_number):
        super().__init__(message)
        self.signal_number = signal_number


def fit_in_subprocess(
    hypermodel,
    hp,
    fit_args=(),
    fit_kwargs=None,
    *,
    epoch_callback=None,
    data_folder=None,
    **settings,
):
    """Builds and trains one trial's model in a fresh child process.

    The child runs `keras_nas.training.trial.fit_trial`, the trial path
    `NASTuner` runs in process: it seeds, builds with `hypermodel.build`,
    measures the costs, fits with the NaN check, the best-epoch checkpoint
    and the deadline, and writes the best epoch's weights to
    `checkpoint_path` and `model.get_build_config()` as JSON to
    `build_config_path`.

    Args:
        hypermodel: A picklable `keras_tuner.HyperModel` (a keras-nas
            space, or `DefaultHyperModel` around a module-level function).
        hp: The trial's `keras_tuner.HyperParameters`.
        fit_args: Positional arguments of `fit` (NumPy arrays).
        fit_kwargs: Keyword arguments of `fit`; `callbacks` are passed to the
            child if they can be pickled.
        epoch_callback: A function `(epoch, logs) -> bool` called in the
            parent at the end of each of the child's epochs; returning
            `True` stops the child's training.
        data_folder: A folder where NumPy arrays of the data (`x`, `y` and
            `validation_data`) of at least `ARRAY_FILE_BYTES` are written
            once, as `.npy` files named by their content's digest, for the
            child to read instead of receiving them pickled; `None` pickles
            them. File-backed arrays are opened from their own file.
        **settings: The keyword arguments of `fit_trial` but `build`:
            `seed`, `objective` (a `keras_tuner.Objective` or a metric
            name), `checkpoint_path`, `build_config_path`, and optionally
            `constraints`, `latency`, `deadline` and `best_value`, all
            picklable.

    Returns:
        A `keras_nas.training.trial.TrialResult`; `result.metrics(objective)`
        gives what `NASTuner.run_trial` records.

    Raises:
        ValueError: If an input cannot be pickled or the child cannot load
            it.
        keras_tuner.errors.FailedTrialError: If the child raised one (or a
            subclass, re-raised as the same class when it can be imported),
            for example an architecture that cannot be built or a NaN loss.
        keras_tuner.errors.FatalError: If the child raised one.
        keras_nas.write_errors.WriteError: If the child could not write the
            checkpoint or the build config (a full disk), naming the file.
        TrialOutOfMemoryError: If the child ran out of memory.
        TrialProcessKilledError: If a signal ended the child.
        TrialProcessError: For any other error in the child, with its type,
            message and traceback.

    Example:

    ```python
    result = fit_in_subprocess(
        space, hp, (x, y), {"validation_data": (x_val, y_val), "epochs": 2},
        seed=1, objective="val_accuracy",
        checkpoint_path="trial.weights.h5", build_config_path="build.json",
    )
    result.metrics(keras_tuner.Objective("val_accuracy", "max"))
    ```
    """
    seed = settings.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(
            "Received an invalid value for `seed`, expected an integer. "
            f"Received: seed={seed!r}"
        )
    if epoch_callback is not None and not callable(epoch_callback):
        raise ValueError(
            "Received an invalid value for `epoch_callback`, expected a "
            "function (epoch, logs) -> bool. "
            f"Received: epoch_callback={epoch_callback!r}"
        )
    fit_kwargs = dict(fit_kwargs or {})
    if data_folder is not None:
        fit_args, fit_kwargs = _as_array_files(fit_args, fit_kwargs, data_folder)
    settings = {
        **settings,
        "objective": compat.create_objective(settings["objective"]),
        "checkpoint_path": os.fspath(settings["checkpoint_path"]),
        "build_config_path": os.fspath(settings["build_config_path"]),
        "report_epochs": epoch_callback is not None,
    }
    payload = {
        "hypermodel": _pickle("hypermodel", hypermodel),
        "hp": _pickle("hp", hp),
        "fit_args": [
            _pickle(f"fit_args[{i}]", value) for i, value in enumerate(fit_args)
        ],
        "fit_kwargs": {
            key: _pickle(f"fit_kwargs[{key!r}]", value)
            for key, value in fit_kwargs.items()
        },
        "settings": _pickle("objective", settings),
    }
    context = multiprocessing.get_context("spawn")
    connection, child_connection = context.Pipe(duplex=True)
    process = context.Process(
        target=_child_main, args=(child_connection,), name="keras-nas-trial"
    )
    process.start()
    child_connection.close()
    try:
        message = _exchange(connection, process, payload, epoch_callback)
    except BaseException:
        # Interrupted, or `epoch_callback` raised: the child is not awaited.
        connection.close()
        _reap(process, wait=0)
        raise
    connection.close()
    exitcode = _reap(process)
    if message is None:
        raise _death_error(exitcode)
    if message[0] == "result":
        return message[1]
    raise _rebuild_error(message[1])


class ArrayFile:
    """A NumPy array the child re-opens from an `.npy` file.

    Args:
        path: The `.npy` file.
        mapped: Whether the child keeps it in the file (an array beyond the
            memory budget, `keras_nas.disk_arrays`) rather than
            reading it into memory.
    """

    def __init__(self, path, mapped=False):
        self.path, self.mapped = path, mapped

    def open(self):
        """The array: memory-mapped read-only, or read into memory."""
        return np.load(self.path, mmap_mode="r" if self.mapped else None)


def _as_array_files(fit_args, fit_kwargs, folder):
    """`fit` arguments with their large arrays written to `folder` as files."""
    def stored(value):
        if on_disk(value):  # Its own file, or its files' names (picklable).
            return ArrayFile(value.filename, mapped=True) if isinstance(
                value, np.memmap) else value
        if not isinstance(value, np.ndarray) or value.nbytes < ARRAY_FILE_BYTES:
            return value
        value = np.ascontiguousarray(value)
        digest = hashlib.sha256(f"{value.dtype.str}{value.shape}".encode())
        digest.update(memoryview(value).cast("B"))
        path = os.path.join(folder, f"{digest.hexdigest()[:24]}.npy")
        if not os.path.isfile(path):
            os.makedirs(folder, exist_ok=True)
            save_atomically(path, lambda temporary: _save_npy(temporary, value))
        return ArrayFile(path)

    fit_args = [stored(value) for value in fit_args]
    fit_kwargs = dict(fit_kwargs)
    for key in ("x", "y"):
        if key in fit_kwargs:
            fit_kwargs[key] = stored(fit_kwargs[key])
    validation_data = fit_kwargs.get("validation_data")
    if isinstance(validation_data, (tuple, list)):
        fit_kwargs["validation_data"] = tuple(map(stored, validation_data))
    return fit_args, fit_kwargs


def _save_npy(path, value):
    with open(path, "wb") as f:
        np.save(f, value)


def _opened(value):
    """An `ArrayFile` re-opened; any other value as it is."""
    if isinstance(value, ArrayFile):
        return value.open()
    if isinstance(value, tuple) and any(isinstance(v, ArrayFile) for v in value):
        return tuple(map(_opened, value))
    return value


def _pickle(name, value):
    try:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as error:
        shown = repr(value)
        if len(shown) > 200:
            shown = shown[:200] + "..."
        raise ValueError(
            f"Received a value for `{name}` that cannot be pickled, and "
            "subprocess trials need picklable spaces and NumPy data: a "
            "SearchSpace, a HyperModel subclass or a build function defined "
            "at module level (not a lambda or a nested function), and NumPy "
            "arrays (not a tf.data.Dataset or a generator). "
            f"Received: {name}={shown} ({type(error).__name__}: "
            f"{first_line(error)})"
        ) from error


def _exchange(connection, process, payload, epoch_callback):
    """Sends the inputs, answers epoch reports, returns the final message.

    Returns `None` when the child ended without a result.
    """
    try:
        connection.send(payload)
    except OSError:
        return None
    while True:
        multiprocessing.connection.wait([connection, process.sentinel])
        if not connection.poll():
            return None
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return None
        if message[0] != "epoch":
            return message
        stop = bool(epoch_callback(message[1], message[2]))
        connection.send(stop)


def _reap(process, wait=_JOIN_SECONDS):
    """Waits for the child to exit (ending it if it hangs); its exit code."""
    process.join(wait)
    if process.exitcode is None:
        process.terminate()
        process.join(5)
    if process.exitcode is None:
        process.kill()
        process.join()
    exitcode = process.exitcode
    process.close()
    return exitcode


def _death_error(exitcode):
    if exitcode is not None and exitcode < 0:
        number = -exitcode
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        hint = (
            "; SIGKILL usually means the system's out-of-memory killer ended it"
            if number == getattr(signal, "SIGKILL", None)
            else ""
        )
        return TrialProcessKilledError(
            f"The trial's child process was killed by {name} ({number}) "
            f"before it reported a result{hint}.",
            number,
        )
    return TrialProcessError(
        f"The trial's child process exited with code {exitcode} before it "
        "reported a result; its error, if any, is printed above. A script "
        "that runs subprocess trials must start the search under "
        "`if __name__ == '__main__':`, since the child imports the script."
    )


def _rebuild_error(info):
    """Turns the child's description of its exception into a parent error."""
    text = (
        f"{info['message']}\n\n{_CHILD_TRACEBACK}\n{info['traceback']}".rstrip()
    )
    kind = info["kind"]
    if kind == "write":
        return WriteError(
            info["path"], info["errno"], info["strerror"], info["detail"]
        )
    if kind == "load":
        return ValueError(
            "The trial's child process could not load "
            f"`{info['input']}`: {info['type']}: {first_line(info['message'])}. "
            "Subprocess trials need spaces, functions and classes importable "
            "from a module (not defined in a notebook or an interactive "
            f"session).\n\n{_CHILD_TRACEBACK}\n{info['traceback']}".rstrip()
        )
    if kind in ("failed_trial", "fatal"):
        base = (
            kt.errors.FailedTrialError
            if kind == "failed_trial"
            else kt.errors.FatalError
        )
        cls = _import_class(info["module"], info["qualname"])
        if cls is None or not issubclass(cls, base):
            cls = base
        try:
            return cls(text)
        except Exception:
            return base(text)
    arguments = {
        "type_name": info["type"],
        "child_message": info["message"],
        "child_traceback": info["traceback"],
    }
    message = f"{info['type']}: {text}"
    if kind == "oom":
        return TrialOutOfMemoryError(message, **arguments)
    return TrialProcessError(message, **arguments)


def _import_class(module, qualname):
    try:
        value = importlib.import_module(module)
        for part in qualname.split("."):
            value = getattr(value, part)
    except Exception:
        return None
    return value if isinstance(value, type) else None


def _describe_error(error, kind=None, **extra):
    if isinstance(error, WriteError):
        extra = {"path": error.path, "errno": error.errno,
                 "strerror": error.strerror, "detail": error.detail, **extra}
        kind = "write"
    if kind is None:
        if isinstance(error, kt.errors.FailedTrialError):
            kind = "failed_trial"
        elif isinstance(error, kt.errors.FatalError):
            kind = "fatal"
        elif isinstance(error, (MemoryError, tf.errors.ResourceExhaustedError)):
            kind = "oom"
        else:
            kind = "other"
    return {
        "kind": kind,
        "type": type(error).__name__,
        "module": type(error).__module__,
        "qualname": type(error).__qualname__,
        "message": str(error),
        "traceback": traceback.format_exc(),
        **extra,
    }


# The child's side.


def _child_main(connection):
    """Entry point of the child: load the inputs, train, report, exit."""
    try:
        message = ("result", _child_run(connection))
    except _LoadError as error:
        message = ("error", error.info)
    except Exception as error:
        message = ("error", _describe_error(error))
    try:
        connection.send(message)
    except Exception as error:  # e.g. an exception that cannot be pickled
        try:
            connection.send(("error", _describe_error(error)))
        except Exception:  # the parent is gone
            pass
    connection.close()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skips TensorFlow's slow interpreter teardown; every file is closed.
    os._exit(0)


class _LoadError(Exception):
    """An input could not be unpickled in the child."""

    def __init__(self, info):
        super().__init__(info["message"])
        self.info = info


def _load(name, blob):
    try:
        return pickle.loads(blob)
    except Exception as error:
        raise _LoadError(
            _describe_error(error, kind="load", input=name)
        ) from None


def _child_run(connection):
    payload = connection.recv()
    hypermodel = _load("hypermodel", payload["hypermodel"])
    hp = _load("hp", payload["hp"])
    settings = _load("settings", payload["settings"])
    fit_args = [
        _opened(_load(f"fit_args[{i}]", blob))
        for i, blob in enumerate(payload["fit_args"])
    ]
    fit_kwargs = {
        key: _opened(_load(f"fit_kwargs[{key!r}]", blob))
        for key, blob in payload["fit_kwargs"].items()
    }
    if settings.pop("report_epochs"):
        fit_kwargs["callbacks"] = [
            *(fit_kwargs.get("callbacks") or []), _ReportEpochs(connection)
        ]
    return fit_trial(hypermodel, hp, fit_args, fit_kwargs, **settings)


class _ReportEpochs(keras.callbacks.Callback):
    """Sends each epoch's logs to the parent and obeys its answer."""

    def __init__(self, connection):
        super().__init__()
        self.connection = connection

    def on_epoch_end(self, epoch, logs=None):
        self.connection.send(("epoch", epoch, numeric_logs(logs or {})))
        if self.connection.recv():
            self.model.stop_training = True
