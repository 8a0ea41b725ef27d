"""NEAT-style topology growth with speciation and fitness sharing."""

import numpy as np

from keras_nas import validation
from keras_nas.oracles import operators
from keras_nas.oracles.population import PopulationOracle
from keras_nas.oracles.ranking import ordinal_ranks

MUTATIONS = {
    "insert_unit": operators.insert_unit,
    "delete_unit": operators.delete_unit,
    "replace_operation": operators.replace_operation,
    "toggle_skip": operators.toggle_skip,
    "point": operators.point_mutation,
}
"""The mutations NEAT draws from; those that do not apply are skipped."""

DEFAULT_MUTATION_WEIGHTS = {
    "insert_unit": 0.3,
    "delete_unit": 0.1,
    "replace_operation": 0.25,
    "toggle_skip": 0.1,
    "point": 0.25,
}


class NEATOracle(PopulationOracle):
    """Grows architectures from minimal topologies, protected by species.

    After NEAT (Stanley and Miikkulainen, "Evolving Neural Networks through
    Augmenting Topologies", 2002), on the units of a chain space (`MLP`,
    `ConvNet`):

    - Founders are minimal: the chain at its smallest depth, other decisions
      random.
    - Children come from structural mutations (insert a layer, delete a
      layer, replace an operation, add or remove a skip connection) and
      point mutations of the other decisions, or from a crossover of two
      members of the same species (units aligned by position).
    - Each finished member joins the first species whose representative is
      within `compatibility_threshold` (`operators.structural_distance`:
      depth difference plus the fraction of differing decisions of the
      shared units), or founds a new one. The threshold adapts towards
      `target_species`.
    - Fitness sharing: a member's shared fitness is its rank in the
      population divided by its species' size. Species breed in proportion
      to their summed shared fitness, and when the population is full the
      member with the lowest shared fitness leaves, so a new topology is not
      crowded out by a large species before it is tuned.

    On spaces without a chain (`NB201Cell`, a plain KerasTuner space), the
    structural mutations do not apply and NEAT falls back to operation
    replacement and point mutations.

    Args:
        objective: Name of the metric to optimise, or a
            `keras_tuner.Objective`.
        max_trials: Number of trials to run at most.
        seed: Random seed.
        population_size: Members kept alive across all species; `None` for 20,
            or a quarter of `max_trials` (at least 3) when that is smaller.
        target_species: Number of species the threshold adapts towards.
        compatibility_threshold: Initial distance under which a member joins
            a species.
        crossover_rate: Probability that a child is a crossover of two
            members of one species (then mutated).
        tournament_size: Members of a species drawn to pick each parent.
        mutation_weights: Dict from a name in `MUTATIONS` to its relative
            probability; defaults to `DEFAULT_MUTATION_WEIGHTS`.
        **kwargs: Further arguments of `keras_tuner.Oracle`.

    Example:

    ```python
    space = keras_nas.spaces.MLP(input_shape=(64,), num_classes=10, max_layers=6)
    tuner = keras_nas.NASTuner(space, strategy="neat", max_trials=40)
    ```
    """

    def __init__(
        self,
        objective=None,
        max_trials=10,
        seed=None,
        population_size=None,
        target_species=4,
        compatibility_threshold=0.8,
        crossover_rate=0.2,
        tournament_size=2,
        mutation_weights=None,
        **kwargs,
    ):
        super().__init__(
            objective=objective,
            max_trials=max_trials,
            seed=seed,
            population_size=population_size,
            **kwargs,
        )
        self.target_species = validation.check_positive_int(
            "target_species", target_species
        )
        if (
            isinstance(compatibility_threshold, bool)
            or not isinstance(compatibility_threshold, (int, float))
            or compatibility_threshold <= 0
        ):
            raise ValueError(
                "Received an invalid value for `compatibility_threshold`, "
                "expected a positive number. "
                f"Received: compatibility_threshold={compatibility_threshold!r}"
            )
        self.crossover_rate = validation.check_probability(
            "crossover_rate", crossover_rate
        )
        self.tournament_size = validation.check_positive_int(
            "tournament_size", tournament_size
        )
        self.mutation_weights = _check_weights(mutation_weights)
        self.threshold = float(compatibility_threshold)
        self.species = []
        self.next_species_id = 0

    @property
    def members(self):
        """The ids of all living members, species by species."""
        return [t for s in self.species for t in s["members"]]

    def founder(self, vector):
        structure = self.encoding.structure
        if structure is None or structure.count_slot is None:
            return vector
        minimal = np.array(vector)
        minimal[structure.count_slot] = int(np.argmin(structure.count_values))
        return self.encoding.repair(minimal, self.rng)

    def on_result(self, trial_id):
        vector = self.vector(trial_id)
        for species in self.species:
            representative = self.vector(species["representative"])
            if self._distance(vector, representative) <= self.threshold:
                species["members"].append(trial_id)
                break
        else:
            self.species.append(
                {
                    "id": self.next_species_id,
                    "representative": trial_id,
                    "members": [trial_id],
                }
            )
            self.next_species_id += 1
        if len(self.members) > self.population_size:
            self._remove(self._weakest())
        self._adapt_threshold()

    def breed(self):
        if len(self.members) < self.population_size:
            return None
        shared = self._shared_fitness()
        weights = np.array(
            [sum(shared[t] for t in s["members"]) for s in self.species]
        )
        species = self.species[self.rng.choice(len(weights), p=weights / weights.sum())]
        parent = self._select(species)
        if len(species["members"]) > 1 and self.rng.random() < self.crossover_rate:
            parent = operators.uniform_crossover(
                self.encoding, parent, self._select(species), self.rng
            )
        return self._mutate(parent)

    def _mutate(self, vector):
        names = list(self.mutation_weights)
        weights = np.array([self.mutation_weights[n] for n in names])
        while names:
            k = self.rng.choice(len(names), p=weights / weights.sum())
            child = MUTATIONS[names[k]](self.encoding, vector, self.rng)
            if child is not None and not np.array_equal(child, vector):
                return child
            names.pop(k)
            weights = np.delete(weights, k)
        return None

    def _select(self, species):
        members = species["members"]
        fitnesses = [self.fitness(t) for t in members]
        winner = operators.tournament(fitnesses, self.tournament_size, self.rng)
        return self.vector(members[winner])

    def _distance(self, first, second):
        return operators.structural_distance(self.encoding, first, second)

    def _shared_fitness(self):
        """Rank in the population (1 = worst) over the species' size."""
        members = self.members
        ranks = ordinal_ranks([self.fitness(t) for t in members])
        rank_of = dict(zip(members, ranks / len(members)))
        return {
            t: rank_of[t] / len(s["members"])
            for s in self.species
            for t in s["members"]
        }

    def _weakest(self):
        shared = self._shared_fitness()
        return min(self.members, key=lambda t: (shared[t], self.fitness(t)))

    def _remove(self, trial_id):
        for species in self.species:
            if trial_id in species["members"]:
                species["members"].remove(trial_id)
                if species["representative"] == trial_id and species["members"]:
                    species["representative"] = max(
                        species["members"], key=self.fitness
                    )
        self.species = [s for s in self.species if s["members"]]

    def _adapt_threshold(self):
        if len(self.species) > self.target_species:
            self.threshold += 0.1
        elif len(self.species) < self.target_species:
            self.threshold = max(0.1, self.threshold - 0.1)

    def get_state(self):
        state = super().get_state()
        state["species"] = [
            {**s, "members": list(s["members"])} for s in self.species
        ]
        state["next_species_id"] = self.next_species_id
        state["threshold"] = self.threshold
        return state

    def set_state(self, state):
        super().set_state(state)
        self.species = [
            {**s, "members": list(s["members"])} for s in state["species"]
        ]
        self.next_species_id = state["next_species_id"]
        self.threshold = state["threshold"]


def _check_weights(weights):
    if weights is None:
        return dict(DEFAULT_MUTATION_WEIGHTS)
    if (
        not isinstance(weights, dict)
        or not weights
        or any(name not in MUTATIONS for name in weights)
        or any(
            isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0
            for w in weights.values()
        )
        or sum(weights.values()) <= 0
    ):
        raise ValueError(
            "Received an invalid value for `mutation_weights`, expected a "
            f"dict from names in {sorted(MUTATIONS)} to non-negative numbers "
            f"with a positive sum. Received: mutation_weights={weights!r}"
        )
    return {name: float(w) for name, w in weights.items() if w > 0}
