"""`NASOracle`: what every keras-nas strategy shares."""

import keras_tuner as kt
import numpy as np

from keras_nas import validation
from keras_nas.encoding import ArchitectureEncoding

_EXHAUSTIVE_LIMIT = 200_000


class NASOracle(kt.Oracle):
    """Base of keras-nas strategies: encoding, seeded generator, proposals.

    A subclass implements `propose()`, returning the values of a new
    architecture or `None` when it has nothing left to propose; this class
    turns that into KerasTuner's `populate_space` answer, so a strategy never
    hands out an architecture twice. The architecture encoding is built from
    the oracle's hyperparameters (the whole space, as the space declared it)
    and rebuilt if the space grows. The random generator's state is part of
    the oracle state, so a reloaded search continues the same sequence.

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
            self.seed = self._seed_state = seed
        self.rng = np.random.default_rng(self.seed)
        self.structure = None
        self._encoding = None
        self._encoded_size = None

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

    def propose(self, trial_id):
        """Returns the values of a new architecture, or `None` if none is left.

        Args:
            trial_id: The id of the trial being created.
        """
        raise NotImplementedError

    def populate_space(self, trial_id):
        values = self.propose(trial_id)
        if values is None:
            return {"status": kt.engine.trial.TrialStatus.STOPPED, "values": None}
        return {"status": kt.engine.trial.TrialStatus.RUNNING, "values": values}

    def is_new(self, values):
        """Whether no trial so far has used these values."""
        return not self._duplicate(values)

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

    def get_state(self):
        state = super().get_state()
        state["rng_state"] = self.rng.bit_generator.state
        return state

    def set_state(self, state):
        super().set_state(state)
        self.rng = np.random.default_rng()
        self.rng.bit_generator.state = state["rng_state"]
