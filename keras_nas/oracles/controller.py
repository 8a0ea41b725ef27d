"""`ControllerOracle`: strategies whose controller is a small Keras model.

The controller (an LSTM policy, an encoder-predictor-decoder, ...) is built
from the architecture encoding, trained on the CPU between trials, and saved
with the oracle: its weights and its optimizer's state go to a file beside
KerasTuner's `oracle.json`, the rest of the search state to the JSON state.
The file's name carries a version number, also kept in the JSON state, so a
reloaded oracle always pairs the JSON state with the weights of the same
moment, even when a crash fell between the two writes.
"""

import io
import os

import keras
import numpy as np
import tensorflow as tf

from keras_nas import compat
from keras_nas.files import write_atomically
from keras_nas.oracles.base import NASOracle

CONTROLLER_DEVICE = "cpu:0"
"""Where controllers live and train: they are tiny, and the device is busy."""


def controller_scope():
    """The device scope under which controllers are built and run."""
    return keras.device(CONTROLLER_DEVICE)


def write_arrays(path, arrays):
    """Writes a list of NumPy arrays to `path` atomically (`.npz` format).

    The arrays go to a temporary file first, renamed over `path` once
    complete, so a reader never sees a partial file.

    Args:
        path: The file to write (local or any `tf.io.gfile` path).
        arrays: A list of NumPy arrays.
    """
    buffer = io.BytesIO()
    np.savez(buffer, *arrays)
    write_atomically(path, buffer.getvalue())


def read_arrays(path):
    """Reads the list of arrays written by `write_arrays`."""
    with tf.io.gfile.GFile(path, "rb") as f:
        data = np.load(io.BytesIO(f.read()))
        return [data[f"arr_{i}"] for i in range(len(data.files))]


class ControllerOracle(NASOracle):
    """Base of strategies whose controller is a Keras model.

    A subclass implements `build_controller()`, returning an object with a
    `variables` attribute: every Keras variable of its models and of its
    optimizer, in a fixed order (the optimizer built in advance, so that its
    slots exist). The controller is built on first use of `self.controller`,
    and rebuilt, untrained, if the space's encoding changes (a plain
    KerasTuner space discovered trial by trial). After each change of the
    weights, the subclass calls `controller_updated()`; the next `save()`
    writes the new weights and optimizer state, and `reload()` restores
    them.

    Controllers are deterministic for a seed: initialisers are seeded from
    `controller_seed(i)`, and sampling uses the oracle's `self.rng`.

    Args:
        objective: Name of the metric to optimise, or a
            `keras_tuner.Objective`.
        max_trials: Number of trials to run at most.
        seed: Random seed.
        **kwargs: Further arguments of `NASOracle`.
    """

    controller_file_prefix = "controller"
    """Start of the name of the controller's file in the project folder."""

    def __init__(self, objective=None, max_trials=10, seed=None, **kwargs):
        super().__init__(
            objective=objective, max_trials=max_trials, seed=seed, **kwargs
        )
        self._controller = None
        self._signature = None
        self.controller_version = 0
        self.controller_updates = 0
        self._pending = None
        self._written = None

    # ------------------------------------------------------------ controller

    def build_controller(self):
        """Builds a new, untrained controller for `self.encoding`.

        Returns:
            An object with a `variables` list (models' and optimizer's).
        """
        raise NotImplementedError

    @property
    def controller(self):
        """The controller of the current space, built (or restored) lazily."""
        signature = self._encoding_signature()
        if self._controller is None or signature != self._signature:
            if self._signature is not None and signature != self._signature:
                # The space grew: the old weights do not fit any more.
                self.controller_updates = 0
                self._pending = None
            with controller_scope():
                self._controller = self.build_controller()
            if self._pending is not None:
                _assign(self._controller.variables, self._pending)
            self._pending = None
            self._signature = signature
        return self._controller

    def controller_updated(self):
        """Records that the controller's weights changed (call after a step)."""
        self.controller_version += 1
        self.controller_updates += 1

    def controller_seed(self, index):
        """A seed for the `index`-th initialiser of the controller."""
        return (int(self.seed) * 7919 + 104_729 * (index + 1)) % (2**31 - 1)

    def _encoding_signature(self):
        encoding = self.encoding
        return [list(encoding.names), [int(c) for c in encoding.cardinalities]]

    # ------------------------------------------------------------- saving

    def _controller_path(self, version):
        return os.path.join(
            compat.project_dir(self),
            f"{self.controller_file_prefix}_controller_{version}.npz",
        )

    def save(self):
        written = None
        if self._controller is not None and self.controller_updates:
            path = self._controller_path(self.controller_version)
            if self._written != path:
                write_arrays(path, [v.numpy() for v in self._controller.variables])
                written = path
        super().save()
        if written is not None:
            self._written = written
            pattern = self._controller_path("*")
            for stale in tf.io.gfile.glob(pattern):
                if os.path.basename(stale) != os.path.basename(written):
                    tf.io.gfile.remove(stale)

    def reload(self):
        super().reload()
        self._controller = None
        self._pending = None
        self._written = None
        if self.controller_updates:
            path = self._controller_path(self.controller_version)
            if not tf.io.gfile.exists(path):
                raise RuntimeError(
                    f"The controller file {path} of this search is missing: "
                    "the search cannot resume its controller."
                )
            self._pending = read_arrays(path)
            self._written = path

    def get_state(self):
        state = super().get_state()
        state["controller"] = {
            "version": self.controller_version,
            "updates": self.controller_updates,
            "signature": self._signature,
        }
        return state

    def set_state(self, state):
        super().set_state(state)
        controller = state["controller"]
        self.controller_version = controller["version"]
        self.controller_updates = controller["updates"]
        self._signature = controller["signature"]
        self._controller = None


def _assign(variables, arrays):
    if len(variables) != len(arrays):
        raise ValueError(
            f"The controller file holds {len(arrays)} arrays, but the "
            f"controller has {len(variables)} variables."
        )
    for variable, array in zip(variables, arrays):
        variable.assign(array)
