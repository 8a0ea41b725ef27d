"""`PopulationOracle`: what the evolutionary strategies share."""

import math

import keras_tuner as kt

from keras_nas import validation
from keras_nas.oracles.base import NASOracle

_ATTEMPTS = 50


def default_population_size(max_trials):
    """20 members, or a quarter of the budget (at least 3) when smaller.

    A fixed population of 20 would leave a 10-trial search purely random.
    """
    return min(20, max(3, max_trials // 4))


class PopulationOracle(NASOracle):
    """Base of strategies that keep a population of finished trials.

    Results reach the strategy in the order trials ended (KerasTuner's
    `end_order`, part of the oracle state), through `on_result`, just before
    the next proposal. Trials that end out of order, or while other trials
    are still running, are simply absorbed when they end, so no worker waits
    for another. A reloaded oracle absorbs whatever ended after its last
    save. Failed trials and trials without a score are never members.

    Subclasses implement `on_result(trial_id)` and `breed()`, and save their
    population in `get_state`/`set_state`. A `population_size` of `None`
    becomes `default_population_size(max_trials)`.

    Args:
        objective: Name of the metric to optimise, or a
            `keras_tuner.Objective`.
        max_trials: Number of trials to run at most.
        seed: Random seed.
        population_size: Members alive at once; `None` for
            `default_population_size(max_trials)`.
        **kwargs: Further arguments of `keras_tuner.Oracle`.
    """

    def __init__(
        self, objective=None, max_trials=10, seed=None, population_size=None, **kwargs
    ):
        super().__init__(
            objective=objective, max_trials=max_trials, seed=seed, **kwargs
        )
        if population_size is None:
            population_size = default_population_size(max_trials)
        self.population_size = validation.check_positive_int(
            "population_size", population_size
        )
        self._absorbed = 0

    def on_result(self, trial_id):
        """Takes a newly completed trial into the population.

        Args:
            trial_id: The id of a completed trial with a finite score.
        """
        raise NotImplementedError

    def breed(self):
        """Returns the vector of a child, or `None` to propose at random."""
        raise NotImplementedError

    def propose(self, trial_id):
        self._absorb_results()
        for _ in range(_ATTEMPTS):
            vector = self.breed()
            if vector is None:
                break
            values = self.encoding.decode(vector)
            if self.is_new(values):
                return values
        return self.random_new()

    def founder(self, vector):
        """Shapes a random vector into a founding member (identity here).

        NEAT overrides it to start from minimal topologies.
        """
        return vector

    def random_new(self):
        """Returns the values of an untried random founding architecture.

        Returns:
            The values, or `None` when every architecture was tried.
        """
        for _ in range(_ATTEMPTS):
            vector = self.founder(self.encoding.random_vector(self.rng))
            values = self.encoding.decode(vector)
            if self.is_new(values):
                return values
        return self.untried_at_random()

    def fitness(self, trial_id):
        """The trial's score, signed so that higher is always better."""
        score = self.trials[trial_id].score
        return score if self.objective.direction == "max" else -score

    def vector(self, trial_id):
        """The encoding vector of a trial's architecture."""
        return self.encoding.encode(self.trials[trial_id].hyperparameters.values)

    def _absorb_results(self):
        for trial_id in self.end_order[self._absorbed :]:
            trial = self.trials[trial_id]
            completed = trial.status == kt.engine.trial.TrialStatus.COMPLETED
            if completed and trial.score is not None and math.isfinite(trial.score):
                self.on_result(trial_id)
        self._absorbed = len(self.end_order)

    def get_state(self):
        state = super().get_state()
        state["absorbed"] = self._absorbed
        return state

    def set_state(self, state):
        super().set_state(state)
        self._absorbed = state["absorbed"]
