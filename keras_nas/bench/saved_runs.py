"""Result files of a benchmark: one JSON per finished run, for resuming."""

import json
import os

from keras_nas.bench.results import run_from_dict
from keras_nas.bench.results import run_to_dict
from keras_nas.files import write_json_atomically


class SavedRuns:
    """The finished runs of a benchmark kept in a folder, one JSON per run.

    Args:
        folder: The folder, or `None` to keep nothing.
        settings: What a run depends on besides its strategy and seed
            (table, budget, metrics, ...); a saved run with other settings
            is refused rather than mixed in.
        scale: The table's `HypervolumeScale` for several search metrics
            (it scores the loaded runs), else `None`.
    """

    def __init__(self, folder, settings, scale=None):
        self.folder = folder
        self.settings = settings
        self.scale = scale
        if folder is not None:
            os.makedirs(folder, exist_ok=True)

    def _path(self, strategy, seed):
        return os.path.join(self.folder, f"{strategy}-{seed}.json")

    def load(self, strategy, seed):
        """The saved run of `strategy` and `seed`, or `None`.

        Args:
            strategy: The strategy's label.
            seed: The run's seed.

        Returns:
            A `RunResult`, or `None` when no run of theirs was saved.

        Raises:
            ValueError: If the saved run was made with other settings.
        """
        if self.folder is None or not os.path.isfile(self._path(strategy, seed)):
            return None
        with open(self._path(strategy, seed)) as f:
            data = json.load(f)
        if data["settings"] != self.settings:
            raise ValueError(
                f"Received an invalid value for `results_dir`: "
                f"{self._path(strategy, seed)} was saved with settings "
                f"{data['settings']}, not {self.settings}."
            )
        return run_from_dict(
            strategy, data["run"], self.settings["direction"],
            self.settings["budget"], self.scale,
        )

    def save(self, run):
        """Writes one finished run (atomically).

        Args:
            run: A `RunResult`.
        """
        if self.folder is None:
            return
        write_json_atomically(
            self._path(run.strategy, run.seed),
            {"settings": self.settings, "run": run_to_dict(run)},
        )
