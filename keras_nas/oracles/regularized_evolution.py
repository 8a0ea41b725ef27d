"""Regularized (aging) evolution, after Real et al. (2019)."""

from keras_nas import validation
from keras_nas.oracles import operators
from keras_nas.oracles.population import PopulationOracle


class RegularizedEvolutionOracle(PopulationOracle):
    """Aging evolution: tournament parents, one mutation, the oldest dies.

    The population starts with `population_size` random architectures. Each
    later proposal samples `sample_size` members, mutates the fittest of
    them (`num_mutations` decisions), and, once the child's trial ends, the
    child joins the population and its oldest member leaves, whatever its
    fitness (Real et al., "Regularized Evolution for Image Classifier
    Architecture Search", AAAI 2019). Works asynchronously: a worker asking
    while others train gets a child of the current population.

    Args:
        objective: Name of the metric to optimise, or a
            `keras_tuner.Objective`.
        max_trials: Number of trials to run at most.
        seed: Random seed.
        population_size: Number of members alive at once; `None` for 20,
            or a quarter of `max_trials` (at least 3) when that is smaller.
        sample_size: Members drawn for each tournament.
        num_mutations: Decisions changed per child.
        **kwargs: Further arguments of `keras_tuner.Oracle`.

    Example:

    ```python
    tuner = keras_nas.NASTuner(space, strategy=RegularizedEvolutionOracle(
        "val_accuracy", max_trials=100, population_size=20, sample_size=5))
    ```
    """

    def __init__(
        self,
        objective=None,
        max_trials=10,
        seed=None,
        population_size=None,
        sample_size=5,
        num_mutations=1,
        **kwargs,
    ):
        super().__init__(
            objective=objective,
            max_trials=max_trials,
            seed=seed,
            population_size=population_size,
            **kwargs,
        )
        self.sample_size = validation.check_positive_int("sample_size", sample_size)
        self.num_mutations = validation.check_positive_int(
            "num_mutations", num_mutations
        )
        self.population = []

    def on_result(self, trial_id):
        self.population.append(trial_id)
        if len(self.population) > self.population_size:
            self.population.pop(0)

    def breed(self):
        if len(self.population) < self.population_size:
            return None
        fitnesses = [self.fitness(t) for t in self.population]
        parent = self.population[
            operators.tournament(fitnesses, self.sample_size, self.rng)
        ]
        return operators.point_mutation(
            self.encoding, self.vector(parent), self.rng, self.num_mutations
        )

    def get_state(self):
        state = super().get_state()
        state["population"] = list(self.population)
        return state

    def set_state(self, state):
        super().set_state(state)
        self.population = list(state["population"])
