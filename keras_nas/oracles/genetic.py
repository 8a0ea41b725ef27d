"""A generational genetic algorithm on the architecture encoding."""

from keras_nas import validation
from keras_nas.oracles import operators
from keras_nas.oracles.population import PopulationOracle

CROSSOVERS = {
    "uniform": operators.uniform_crossover,
    "one_point": operators.one_point_crossover,
}


def check_variation(crossover, crossover_rate, mutation_rate):
    """Checks a genetic algorithm's variation settings (see `vary`).

    Returns:
        The tuple `(crossover, crossover_rate, mutation_rate)`.

    Raises:
        ValueError: Naming the argument, if one is invalid.
    """
    crossover = validation.check_one_of("crossover", crossover, CROSSOVERS)
    crossover_rate = validation.check_probability("crossover_rate", crossover_rate)
    if mutation_rate is not None:
        validation.check_probability("mutation_rate", mutation_rate)
    return crossover, crossover_rate, mutation_rate


def vary(encoding, select, rng, crossover, crossover_rate, mutation_rate):
    """A child: a crossover of two selected parents, or a copy, then mutated.

    Args:
        encoding: The `ArchitectureEncoding`.
        select: A callable returning a parent's vector (called once, or
            twice for a crossover).
        rng: A `numpy.random.Generator`.
        crossover: A name of `CROSSOVERS`.
        crossover_rate: Probability of a crossover.
        mutation_rate: Probability that each active decision changes;
            `None` for one over the number of active decisions.

    Returns:
        The child's canonical vector.
    """
    first = select()
    if rng.random() < crossover_rate:
        child = CROSSOVERS[crossover](encoding, first, select(), rng)
    else:
        child = first
    rate = mutation_rate
    if rate is None:
        rate = 1.0 / max(1, int(encoding.active_mask(child).sum()))
    return operators.uniform_mutation(encoding, child, rng, rate)


class GeneticOracle(PopulationOracle):
    """Tournament selection, crossover, mutation and elitism, by generation.

    Generation 0 is `population_size` random architectures. Each child is
    bred from two tournament winners of the current generation: crossed
    over with probability `crossover_rate` (else a copy of the first), then
    each active decision mutated with probability `mutation_rate`. When
    `population_size - elitism` children have finished, the next generation
    is the `elitism` fittest of the current one plus those children (the
    fittest of them, if more finished while workers ran in parallel).

    Args:
        objective: Name of the metric to optimise, or a
            `keras_tuner.Objective`.
        max_trials: Number of trials to run at most.
        seed: Random seed.
        population_size: Members of a generation; `None` for 20, or a
            quarter of `max_trials` (at least 3) when that is smaller.
        tournament_size: Members drawn for each parent's tournament.
        crossover: `"uniform"` or `"one_point"`, on the encoding's slots.
        crossover_rate: Probability that a child is a crossover of two
            parents.
        mutation_rate: Probability that each active decision of a child
            changes. `None` means one over the number of decisions.
        elitism: Fittest members carried unchanged into the next generation;
            `None` for 2 (1 for a population of 2).
        **kwargs: Further arguments of `keras_tuner.Oracle`.

    Example:

    ```python
    oracle = GeneticOracle("val_accuracy", max_trials=100, crossover="one_point")
    ```
    """

    def __init__(
        self,
        objective=None,
        max_trials=10,
        seed=None,
        population_size=None,
        tournament_size=3,
        crossover="uniform",
        crossover_rate=0.5,
        mutation_rate=None,
        elitism=None,
        **kwargs,
    ):
        super().__init__(
            objective=objective,
            max_trials=max_trials,
            seed=seed,
            population_size=population_size,
            **kwargs,
        )
        self.tournament_size = validation.check_positive_int(
            "tournament_size", tournament_size
        )
        self.crossover, self.crossover_rate, self.mutation_rate = check_variation(
            crossover, crossover_rate, mutation_rate
        )
        if elitism is None:
            elitism = min(2, self.population_size - 1)
        if (
            isinstance(elitism, bool)
            or not isinstance(elitism, int)
            or not 0 <= elitism < self.population_size
        ):
            raise ValueError(
                "Received an invalid value for `elitism`, expected an integer "
                f"in [0, population_size={self.population_size}). "
                f"Received: elitism={elitism!r}"
            )
        self.elitism = elitism
        self.population = []
        self.offspring = []
        self.generation = 0

    def on_result(self, trial_id):
        if self.generation == 0 and len(self.population) < self.population_size:
            self.population.append(trial_id)
            return
        self.offspring.append(trial_id)
        if len(self.offspring) >= self.population_size - self.elitism:
            elites = self._fittest(self.population, self.elitism)
            children = self._fittest(
                self.offspring, self.population_size - self.elitism
            )
            self.population = elites + children
            self.offspring = []
            self.generation += 1

    def breed(self):
        if len(self.population) < self.population_size:
            return None
        return vary(self.encoding, self._select, self.rng, self.crossover,
                    self.crossover_rate, self.mutation_rate)

    def _select(self):
        fitnesses = [self.fitness(t) for t in self.population]
        winner = operators.tournament(fitnesses, self.tournament_size, self.rng)
        return self.vector(self.population[winner])

    def _fittest(self, trial_ids, n):
        ranked = sorted(trial_ids, key=self.fitness, reverse=True)
        return ranked[:n]

    def get_state(self):
        state = super().get_state()
        state["population"] = list(self.population)
        state["offspring"] = list(self.offspring)
        state["generation"] = self.generation
        return state

    def set_state(self, state):
        super().set_state(state)
        self.population = list(state["population"])
        self.offspring = list(state["offspring"])
        self.generation = state["generation"]
