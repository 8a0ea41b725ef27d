"""`NASOracle`: what every keras-nas strategy shares."""

import inspect
import math
import os

import keras_tuner as kt
import numpy as np

from keras_nas import compat
from keras_nas import validation
from keras_nas.encoding import ArchitectureEncoding
from keras_nas.files import write_json_atomically

_EXHAUSTIVE_LIMIT = 200_000
_ATTEMPTS = 50


class NASOracle(kt.Oracle):
    """Base of keras-nas strategies: encoding, seeded generator, proposals.

    A subclass implements `propose()`, returning the values of a new
    architecture or `None` when it has nothing left to propose; this class
    turns that into KerasTuner's `populate_space` answer, so a strategy never
    hands out an architecture twice. The architecture encoding is built from
    the oracle's hyperparameters (the whole space, as the space declared it)
    and rebuilt if the space grows. The random generator's state is part of
    the oracle state, so a reloaded search continues the same sequence.

    `oracle.json` and the trial files are written atomically, and a reload
    squares the two where a crash fell between them, so a search killed at
    any moment resumes without losing or rerunning a finished trial.

    Args:
        objective: Name of the metric to optimise, or a
            `keras_tuner.Objective`.
        max_trials: Number of trials to run at most.
        seed: Random seed.
        hyperparameters: Optional `keras_tuner.HyperParameters` to declare
            the space in advance.
        **kwargs: Further arguments of `keras_tuner.Oracle`.
    """

    def __init__(
        self,
        objective=None,
        max_trials=10,
        seed=None,
        hyperparameters=None,
        **kwargs,
    ):
        validation.check_positive_int("max_trials", max_trials)
        super().__init__(
            objective=objective,
            max_trials=max_trials,
            seed=seed,
            hyperparameters=hyperparameters,
            **kwargs,
        )
        if seed is not None:
            # KerasTuner reads `seed or random.randint(...)`, dropping seed=0.
            self.seed = seed
            compat.set_seed_state(self, seed)
        self.rng = np.random.default_rng(self.seed)
        self.structure = None
        self._encoding = None
        self._encoded_size = None
        self._absorbed = 0

    needs_training_data = False
    """Whether the strategy learns from the training data before proposing
    (in `before_search`), which a tabular benchmark has none of."""

    @property
    def encoding(self):
        """The `ArchitectureEncoding` of the current space."""
        size = len(self.hyperparameters.space)
        if self._encoding is None or self._encoded_size != size:
            self._encoding = ArchitectureEncoding(
                self.hyperparameters, self.structure
            )
            self._encoded_size = size
        return self._encoding

    def set_structure(self, structure):
        """Gives the oracle the space's `RepeatedStructure` (or `None`)."""
        self.structure = structure
        self._encoding = None

    @classmethod
    def option_names(cls):
        """The constructor arguments the strategy takes by name, a set.

        `keras_nas.oracles.get_oracle` accepts them (less `objective`,
        `max_trials` and `seed`, which it passes itself) as a named
        strategy's options. By default they are the named arguments of
        `__init__` along the class's bases, KerasTuner's included; a
        strategy that takes more through `**kwargs` adds them.
        """
        named = (
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            inspect.Parameter.KEYWORD_ONLY,
        )
        names = set()
        for klass in cls.__mro__:
            if klass is object or "__init__" not in vars(klass):
                continue
            parameters = inspect.signature(klass.__init__).parameters.values()
            names.update(p.name for p in parameters if p.kind in named)
        return names - {"self"}

    def check_search(self, space, time_limit=None, workers=None):
        """Refuses a search the strategy cannot run (every search here).

        `NASTuner` calls it when it is created, and `keras-nas run` before
        it starts any process, so that a search the strategy cannot run
        fails at once, with a message naming the argument.

        Args:
            space: The search space: a `keras_tuner.HyperModel` (a
                keras-nas `SearchSpace` or a user's) or a build function.
            time_limit: The search's time limit in seconds, or `None`.
            workers: How many KerasTuner workers share the search
                (`keras-nas run --workers`), or `None` when it runs in one
                process (`NASTuner` itself passes `None`).

        Raises:
            ValueError: If the strategy cannot search `space` or cannot
                run under `time_limit` or `workers`.
        """

    def before_search(self, tuner, x, y, validation_data, fit_kwargs):
        """Runs before the search's first trial is created (nothing here).

        `NASTuner.search` calls it on every search, a resumed one too, in
        the process that holds the oracle (not on distributed workers),
        after checking the data and before the time limit starts. A
        strategy that learns from the data before proposing trials (a
        one-shot search) does it here, and saves what it needs to resume.

        Args:
            tuner: The `NASTuner`: its `hypermodel`, `project_dir`, `seed`,
                `distribution_strategy` and `progress`.
            x: The training inputs given to `search`.
            y: The training labels given to `search`, or `None`.
            validation_data: `search`'s `validation_data`, or `None`.
            fit_kwargs: The keyword arguments of `search` (`epochs`,
                `batch_size`, ...), as `model.fit` receives them.
        """

    def propose(self, trial_id):
        """Returns the values of a new architecture, or `None` if none is left.

        Args:
            trial_id: The id of the trial being created.
        """
        raise NotImplementedError

    def on_result(self, trial_id):
        """Learns from a newly completed trial (nothing here).

        Called once per completed trial with a finite score, in the order
        trials ended (KerasTuner's `end_order`, part of the oracle state),
        just before the next proposal. Trials that end out of order, or while
        others still run, are taken in when they end, so no worker waits for
        another; a reloaded oracle takes in whatever ended after its last
        save. Failed trials never reach it.

        Args:
            trial_id: The id of the trial.
        """

    def populate_space(self, trial_id):
        self._absorb_results()
        values = self.propose(trial_id)
        if values is None:
            return {"status": kt.engine.trial.TrialStatus.STOPPED, "values": None}
        return {"status": kt.engine.trial.TrialStatus.RUNNING, "values": values}

    def is_new(self, values):
        """Whether no trial so far has used these values."""
        return not compat.is_duplicate(self, values)

    def fitness(self, trial_id):
        """The trial's score, signed so that higher is always better."""
        score = self.trials[trial_id].score
        return score if self.objective.direction == "max" else -score

    def vector(self, trial_id):
        """The encoding vector of a trial's architecture."""
        return self.encoding.encode(self.trials[trial_id].hyperparameters.values)

    def random_new(self, transform=None):
        """Returns the values of an untried random architecture.

        Args:
            transform: Optional function applied to each random vector
                (NEAT starts from minimal topologies through it).

        Returns:
            The values, or `None` when every architecture was tried.
        """
        for _ in range(_ATTEMPTS):
            vector = self.encoding.random_vector(self.rng)
            if transform is not None:
                vector = transform(vector)
            values = self.encoding.decode(vector)
            if self.is_new(values):
                return values
        return self.untried_at_random()

    def untried_at_random(self):
        """Picks uniformly among the architectures no trial has used.

        Lists the whole space, so it is meant as the last resort of a
        strategy whose own proposals keep repeating.

        Returns:
            The values of an untried architecture, or `None` when every one
            was tried or the space is continuous or too large to list.
        """
        encoding = self.encoding
        if not encoding.exact or encoding.count() > _EXHAUSTIVE_LIMIT:
            return None
        untried = [
            values
            for values in map(encoding.decode, encoding.enumerate())
            if self.is_new(values)
        ]
        if not untried:
            return None
        return untried[int(self.rng.integers(len(untried)))]

    def _absorb_results(self):
        for trial_id in self.end_order[self._absorbed :]:
            trial = self.trials[trial_id]
            completed = trial.status == kt.engine.trial.TrialStatus.COMPLETED
            if completed and trial.score is not None and math.isfinite(trial.score):
                self.on_result(trial_id)
        self._absorbed = len(self.end_order)

    def save(self):
        write_json_atomically(compat.oracle_file(self), self.get_state())

    def _save_trial(self, trial):
        path = os.path.join(compat.trial_dir(self, trial.trial_id), "trial.json")
        write_json_atomically(path, trial.get_state())

    def reload(self):
        super().reload()
        self._recover_unsaved_trials()
        # KerasTuner reads the trial files in the order the file system lists
        # them; restore the order the trials started in, which decides, for
        # example, which of two equal scores `get_best_trials` returns.
        started = {trial_id: i for i, trial_id in enumerate(self.start_order)}
        self.trials = dict(
            sorted(
                self.trials.items(),
                key=lambda item: (started.get(item[0], len(started)), int(item[0])),
            )
        )

    def _recover_unsaved_trials(self):
        """Squares the oracle state with the trial files after a crash.

        KerasTuner writes a trial's file, then `oracle.json`. A crash between
        the two leaves a trial that ended in its own file only (it would run
        again) or one that was created in its own file only (it would never
        run). The first is ended, the second queued to run.
        """
        status = kt.engine.trial.TrialStatus
        ended = set(self.end_order)
        retry_queue, run_times = compat.retry_queue(self), compat.run_times(self)
        for trial_id in sorted(self.trials):
            trial = self.trials[trial_id]
            if trial_id in ended:
                continue
            if trial.status in (status.COMPLETED, status.FAILED):
                self.end_order.append(trial_id)
                if trial_id in retry_queue:
                    retry_queue.remove(trial_id)
                run_times[trial_id] = max(run_times[trial_id], 1)
            elif trial_id not in retry_queue:
                trial.status = status.RUNNING
                retry_queue.append(trial_id)
                if trial_id not in self.start_order:
                    self.start_order.append(trial_id)
                compat.record_values(self, trial)

    def get_state(self):
        state = super().get_state()
        state["rng_state"] = self.rng.bit_generator.state
        state["absorbed"] = self._absorbed
        return state

    def set_state(self, state):
        super().set_state(state)
        self.rng = np.random.default_rng()
        self.rng.bit_generator.state = state["rng_state"]
        self._absorbed = state["absorbed"]
