"""NSGA-II, steady state: a Pareto front searched without generations."""

import numpy as np

from keras_nas import validation
from keras_nas.objectives import pareto
from keras_nas.oracles import operators
from keras_nas.oracles.genetic import check_variation
from keras_nas.oracles.genetic import vary
from keras_nas.oracles.population import PopulationOracle


def default_population_size(max_trials):
    """A tenth of the budget, between 4 and 20 members.

    Measured on the two-objective tables of `benchmarks/nb201_pareto.py`
    (README, "Several objectives: hypervolume regret"): at 50 and 100
    queries a population of a tenth of the budget has a lower hypervolume
    regret than a quarter of it (the random founders are a tenth of the
    search instead of a fifth, and the front is bred from for more steps);
    at 200 queries it is the 20 members of before.
    """
    return min(20, max(4, max_trials // 10))


class NSGA2Oracle(PopulationOracle):
    """NSGA-II (Deb et al., 2002) with one child per finished trial.

    Members are ranked by non-dominated sorting of their objectives (front
    0 is the population's Pareto front), and within a front by crowding
    distance (larger is lonelier, so better). Each proposal breeds a child
    from two parents, each the winner of a tournament of `tournament_size`
    members on (rank, crowding): crossed over with probability
    `crossover_rate`, then each active decision mutated with probability
    `mutation_rate`, with the shared operators of the architecture encoding.

    Steady state, as in Durillo et al. ("On the effect of the steady-state
    selection scheme in multi-objective genetic algorithms", EMO 2009):
    the first `population_size` trials are random founders; afterwards each
    result joins the population as its trial ends, and when the population
    is over `population_size` the member worst by (rank, crowding) leaves
    (the oldest of equals). There is no generation barrier, so workers
    never wait for one another. With one objective the fronts are the
    levels of the score, and NSGA-II is a steady-state genetic algorithm.

    Args:
        objective: A list of `keras_tuner.Objective`s (several objectives),
            or one objective (a name or a `keras_tuner.Objective`).
        max_trials: Number of trials to run at most.
        seed: Random seed.
        population_size: Members alive at once; `None` for
            `default_population_size(max_trials)`: a tenth of
            `max_trials`, between 4 and 20.
        tournament_size: Members drawn for each parent's tournament (2:
            NSGA-II's binary tournament).
        crossover: `"uniform"` or `"one_point"`, on the encoding's slots.
        crossover_rate: Probability that a child is a crossover of two
            parents (else a copy of the first).
        mutation_rate: Probability that each active decision of a child
            changes; `None` for one over the number of active decisions.
        **kwargs: Further arguments of `keras_tuner.Oracle`.

    Example:

    ```python
    oracle = NSGA2Oracle(
        [kt.Objective("val_accuracy", "max"), kt.Objective("params", "min")],
        max_trials=100,
    )
    ```
    """

    def __init__(
        self,
        objective=None,
        max_trials=10,
        seed=None,
        population_size=None,
        tournament_size=2,
        crossover="uniform",
        crossover_rate=0.9,
        mutation_rate=None,
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
        self.population = []

    default_population = staticmethod(default_population_size)

    def ranking(self, trial_ids):
        """The front and crowding distance of each of `trial_ids`.

        Args:
            trial_ids: Ids of completed trials.

        Returns:
            A tuple `(ranks, crowding)` of arrays: the non-dominated rank
            among `trial_ids` (0 for their Pareto front) and the crowding
            distance within each one's front.
        """
        points = np.array([self.objective_values(t) for t in trial_ids])
        ranks = pareto.non_dominated_ranks(points, self.objectives)
        crowding = np.zeros(len(trial_ids))
        for rank in np.unique(ranks):
            front = np.flatnonzero(ranks == rank)
            crowding[front] = pareto.crowding_distance(points[front], self.objectives)
        return ranks, crowding

    def on_result(self, trial_id):
        self.population.append(trial_id)
        if len(self.population) > self.population_size:
            ranks, crowding = self.ranking(self.population)
            worst = max(
                range(len(self.population)),
                key=lambda i: (ranks[i], -crowding[i], -i),
            )
            self.population.pop(worst)

    def breed(self):
        if len(self.population) < self.population_size:
            return None
        ranks, crowding = self.ranking(self.population)
        # The tournament keeps the highest: a low rank, then a large crowding.
        fitnesses = list(zip(-ranks, crowding))

        def select():
            winner = operators.tournament(fitnesses, self.tournament_size, self.rng)
            return self.vector(self.population[winner])

        return vary(self.encoding, select, self.rng, self.crossover,
                    self.crossover_rate, self.mutation_rate)

    def get_state(self):
        state = super().get_state()
        state["population"] = list(self.population)
        return state

    def set_state(self, state):
        super().set_state(state)
        self.population = list(state["population"])
