"""A DARTS one-shot search kept in a run folder, resumable at each epoch."""

import json
import os

import keras
import tensorflow as tf

from keras_nas.darts.heatmap import save_alpha_heatmap
from keras_nas.darts.search import DartsSearch
from keras_nas.files import save_weights_atomically
from keras_nas.files import write_json_atomically

STATE_FILE = "darts_state.json"
"""Progress of the one-shot search: epochs done, logs, guard, the result."""
ALPHAS_FILE = "darts_alphas.json"
"""The softmax architecture weights after every epoch."""
HEATMAP_FILE = "darts_alphas.png"
"""The latest architecture weights as a decisions x operations heatmap."""
WEIGHTS_FILE = "darts_supernet.weights.h5"
"""Network weights, logits and both optimizers' states of the last epoch."""


class OneShotRun:
    """Runs `DartsSearch` inside a run folder, saving it after every epoch.

    After each epoch the supernet (weights, logits, optimizer states), the
    guard's state, the epoch's logs and the architecture weights are written
    (atomically) to `folder`, and the heatmap is redrawn; a run interrupted at
    any point resumes from its last finished epoch with the same learning
    rate schedule. A finished run returns its derived architecture at once.

    Args:
        space: The `NB201Cell` or `ConvNet` to search.
        folder: The run folder.
        seed: Seed of the search: the supernet's initial weights
            (`keras.utils.set_random_seed`, as `NASTuner` seeds each trial),
            its logits and its data shuffles.
        search_options: Further arguments of `DartsSearch`.
        distribution_strategy: The `tf.distribute.Strategy` to train under.
        on_epoch: Optional function `(epoch, epochs, logs, description)`
            called after each epoch, for progress lines.
    """

    def __init__(self, space, folder, seed=None, search_options=None,
                 distribution_strategy=None, on_epoch=None):
        self.space = space
        self.folder = str(folder)
        self.seed = seed
        self.search_options = dict(search_options or {})
        self.distribution_strategy = distribution_strategy
        self.on_epoch = on_epoch

    def path(self, name):
        """The path of one of the run's DARTS files."""
        return os.path.join(self.folder, name)

    def read_state(self):
        """The saved progress, or `None` before the first epoch ends."""
        if not tf.io.gfile.exists(self.path(STATE_FILE)):
            return None
        with tf.io.gfile.GFile(self.path(STATE_FILE)) as f:
            return json.load(f)

    def run(self, x_train, y_train, x_val, y_val, epochs, batch_size):
        """Searches (or resumes) and returns the derived architecture's values.

        Raises:
            ValueError: If a resumed search was started with other `epochs`
                or `batch_size`.
        """
        state = self.read_state()
        if state is not None:
            for name, value in (("epochs", epochs), ("batch_size", batch_size)):
                if state[name] != value:
                    raise ValueError(
                        f"Received an invalid value for `{name}`: the DARTS "
                        f"search in {self.folder} was started with "
                        f"{name}={state[name]}. Received: {name}={value}"
                    )
            if state["finished"]:
                return state["architecture"]
        if self.seed is not None:
            keras.utils.set_random_seed(self.seed)
        search = DartsSearch(
            self.space,
            seed=self.seed,
            distribution_strategy=self.distribution_strategy,
            **self.search_options,
        )
        initial_epoch, history = 0, []
        if state is not None:
            search.load_weights(self.path(WEIGHTS_FILE))
            if search.guard is not None:
                search.guard.set_state(state["guard"])
            initial_epoch, history = state["epoch"], state["history"]
        saver = _SaveEachEpoch(self, search, epochs, batch_size, history)
        # A run killed after its last epoch (or after the guard stopped it)
        # but before the result was written only needs deriving.
        done = state is not None and (
            state["stopped_by_guard"] or state["epoch"] >= epochs
        )
        if not done:
            search.fit(
                x_train, y_train, x_val, y_val,
                epochs=epochs, batch_size=batch_size,
                callbacks=[saver], initial_epoch=initial_epoch,
            )
        values = search.derive()
        saver.write_state(finished=True, architecture=values)
        return values


class _SaveEachEpoch(keras.callbacks.Callback):
    """Writes the search's files at the end of every epoch."""

    def __init__(self, run, search, epochs, batch_size, history):
        super().__init__()
        self.run = run
        self.search = search
        self.epochs = epochs
        self.batch_size = batch_size
        self.history = list(history)
        self.epoch = len(self.history)

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: float(v) for k, v in (logs or {}).items()}
        alphas = self.search.alphas()
        self.history.append({"epoch": epoch + 1, "logs": logs, "alphas": alphas})
        self.epoch = epoch + 1
        save_weights_atomically(self.search.supernet, self.run.path(WEIGHTS_FILE))
        write_json_atomically(
            self.run.path(ALPHAS_FILE),
            {"decisions_by_epoch": [
                {"epoch": h["epoch"], "alphas": h["alphas"]} for h in self.history
            ]},
        )
        save_alpha_heatmap(
            alphas, self.run.path(HEATMAP_FILE),
            title=f"DARTS architecture weights, epoch {epoch + 1}",
        )
        self.write_state(finished=False)
        if self.run.on_epoch is not None:
            self.run.on_epoch(epoch, self.epochs, logs, self.search.describe())

    def write_state(self, finished, architecture=None):
        guard = self.search.guard
        write_json_atomically(self.run.path(STATE_FILE), {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "epoch": self.epoch,
            "history": self.history,
            "guard": guard.get_state() if guard is not None else None,
            "stopped_by_guard": bool(guard is not None and guard.stopped_epoch is not None),
            "finished": finished,
            "architecture": architecture,
        })
