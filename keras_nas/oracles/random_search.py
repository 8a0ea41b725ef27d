"""Random search over any KerasTuner space, without repeats."""

from keras_nas.oracles.base import NASOracle


class RandomSearchOracle(NASOracle):
    """Samples architectures uniformly per active decision, never twice.

    Each active decision is drawn independently (continuous `Float`s over
    their whole range). When sampling keeps hitting architectures already
    tried, and the space is small enough to list, the oracle picks uniformly
    among the untried ones; when none is left it stops the search, so a
    search of a space smaller than `max_trials` ends after trying all of it.

    Args:
        objective: Name of the metric to optimise, or a
            `keras_tuner.Objective`.
        max_trials: Number of trials to run at most.
        seed: Random seed.
        max_collisions: Consecutive repeated samples before the oracle lists
            the untried architectures instead.
        **kwargs: Further arguments of `keras_tuner.Oracle`.

    Example:

    ```python
    oracle = RandomSearchOracle(objective="val_accuracy", max_trials=20, seed=1)
    tuner = keras_nas.NASTuner(space, strategy=oracle)
    ```
    """

    def __init__(
        self, objective=None, max_trials=10, seed=None, max_collisions=50, **kwargs
    ):
        super().__init__(
            objective=objective, max_trials=max_trials, seed=seed, **kwargs
        )
        self.max_collisions = max_collisions

    def propose(self, trial_id):
        for _ in range(self.max_collisions):
            values = self._sample()
            if self.is_new(values):
                return values
        return self.untried_at_random()

    def _sample(self):
        values = {}
        for hp in self.hyperparameters.space:
            if all(cond.is_active(values) for cond in hp.conditions):
                values[hp.name] = hp.prob_to_value(float(self.rng.random()))
        return values
