"""Strategies by name, for `NASTuner(strategy=...)` and the CLI."""

import keras_tuner as kt

from keras_nas import validation
from keras_nas.darts.oracle import DartsOracle
from keras_nas.oracles.bayesian import BayesianOracle
from keras_nas.oracles.dls import DLSOracle
from keras_nas.oracles.genetic import GeneticOracle
from keras_nas.oracles.grid_search import GridSearchOracle
from keras_nas.oracles.neat import NEATOracle
from keras_nas.oracles.nsga2 import NSGA2Oracle
from keras_nas.oracles.q_learning import QLearningOracle
from keras_nas.oracles.random_search import RandomSearchOracle
from keras_nas.oracles.regularized_evolution import RegularizedEvolutionOracle
from keras_nas.oracles.reinforce import ReinforceOracle

STRATEGIES = {
    "random": RandomSearchOracle,
    "grid": GridSearchOracle,
    "evolution": RegularizedEvolutionOracle,
    "genetic": GeneticOracle,
    "neat": NEATOracle,
    "nsga2": NSGA2Oracle,
    "dls": DLSOracle,
    "reinforce": ReinforceOracle,
    "q_learning": QLearningOracle,
    "bayesian": BayesianOracle,
    "darts": DartsOracle,
}


def get_oracle(strategy, objective, max_trials, seed=None, **options):
    """Resolves a strategy name or oracle into a `keras_tuner.Oracle`.

    Args:
        strategy: A name from `STRATEGIES`, or a `keras_tuner.Oracle`
            instance, which is returned unchanged (its own objective and
            budget apply).
        objective: The objective for a named strategy.
        max_trials: The trial budget for a named strategy.
        seed: The seed for a named strategy.
        **options: Further constructor arguments of a named strategy (such
            as `population_size` for `"evolution"`, `order` for `"darts"`;
            see `NASOracle.option_names`).

    Returns:
        A `keras_tuner.Oracle`.

    Raises:
        ValueError: If `strategy` is neither a known name nor an oracle, or
            an option is unknown or invalid.
    """
    if isinstance(strategy, kt.Oracle):
        if options:
            raise ValueError(
                "Received options for a keras_tuner.Oracle instance, which is "
                f"used as it is. Received: {sorted(options)}"
            )
        return strategy
    if not isinstance(strategy, str) or strategy not in STRATEGIES:
        raise ValueError(
            "Received an invalid value for `strategy`, expected one of "
            f"{sorted(STRATEGIES)} or a keras_tuner.Oracle instance. "
            f"Received: strategy={strategy!r}"
        )
    cls = STRATEGIES[strategy]
    known = cls.option_names() - {"objective", "max_trials", "seed"}
    validation.check_known_arguments(
        f"the {strategy!r} strategy", options, sorted(known)
    )
    return cls(objective=objective, max_trials=max_trials, seed=seed, **options)

