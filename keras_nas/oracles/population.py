"""`PopulationOracle`: what the evolutionary strategies share."""

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

    Members join through `NASOracle.on_result`, in the order trials end, so
    failed trials are never members and no worker waits for another. Each
    proposal is a child from `breed()`, tried again until it is new, else an
    untried random founder.

    Subclasses implement `on_result(trial_id)` and `breed()`, and save their
    population in `get_state`/`set_state`. A `population_size` of `None`
    becomes `default_population(max_trials)`, by default
    `default_population_size(max_trials)`.

    Args:
        objective: Name of the metric to optimise, or a
            `keras_tuner.Objective`.
        max_trials: Number of trials to run at most.
        seed: Random seed.
        population_size: Members alive at once; `None` for
            `default_population(max_trials)`.
        **kwargs: Further arguments of `keras_tuner.Oracle`.
    """

    def __init__(
        self, objective=None, max_trials=10, seed=None, population_size=None, **kwargs
    ):
        super().__init__(
            objective=objective, max_trials=max_trials, seed=seed, **kwargs
        )
        if population_size is None:
            population_size = self.default_population(max_trials)
        self.population_size = validation.check_positive_int(
            "population_size", population_size
        )

    default_population = staticmethod(default_population_size)
    """The population of a budget of `max_trials` when none is given."""

    def warm_start_size(self):
        """A warm start from other data proposes a population's worth first."""
        return self.population_size

    def breed(self):
        """Returns the vector of a child, or `None` to propose at random."""
        raise NotImplementedError

    def propose(self, trial_id):
        for _ in range(_ATTEMPTS):
            vector = self.breed()
            if vector is None:
                break
            values = self.encoding.decode(vector)
            if self.is_new(values):
                return values
        return self.random_new(self.founder)

    def founder(self, vector):
        """Shapes a random vector into a founding member (identity here).

        NEAT overrides it to start from minimal topologies.
        """
        return vector
