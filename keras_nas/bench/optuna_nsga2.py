"""`OptunaNSGA2Oracle`: Optuna's NSGA-II sampler as a KerasTuner oracle."""

from keras_nas import validation
from keras_nas.bench.optuna_oracle import OptunaOracle
from keras_nas.oracles.nsga2 import default_population_size


class OptunaNSGA2Oracle(OptunaOracle):
    """Optuna's NSGA-II (`optuna.samplers.NSGAIISampler`), as a KerasTuner oracle.

    Generational, as Optuna implements it: the first generation is random,
    each later one is bred from the best of the previous ones by
    non-dominated rank and crowding distance. The population defaults to
    that of keras-nas's own `nsga2` (`default_population_size` of
    `keras_nas.oracles.nsga2`: a tenth of `max_trials`, between 4 and 20)
    rather than Optuna's 50, which would leave a 100-trial search two
    generations. The sampler's other settings are Optuna's defaults. See `OptunaOracle` for how trials are
    asked and told.

    Args:
        objective: Name of the metric to optimise, a
            `keras_tuner.Objective`, or a list of them.
        max_trials: Number of trials to run at most.
        seed: Random seed of the sampler (`0` is a seed).
        population_size: Trials of a generation; `None` for
            `default_population_size(max_trials)`, at least 2.
        max_collisions: Repeated proposals told and re-asked before drawing
            an untried architecture at random.
        **kwargs: Further arguments of `keras_tuner.Oracle`.

    Example:

    ```python
    oracle = OptunaNSGA2Oracle(
        [kt.Objective("val_acc", "max"), kt.Objective("params", "min")],
        max_trials=100, seed=1,
    )
    ```
    """

    def __init__(
        self,
        objective=None,
        max_trials=10,
        seed=None,
        population_size=None,
        max_collisions=20,
        **kwargs,
    ):
        super().__init__(
            objective=objective,
            max_trials=max_trials,
            seed=seed,
            max_collisions=max_collisions,
            **kwargs,
        )
        if population_size is None:
            population_size = default_population_size(max_trials)
        population_size = validation.check_positive_int(
            "population_size", population_size
        )
        if population_size < 2:
            raise ValueError(
                "Received an invalid value for `population_size`, expected an "
                f"integer of at least 2. Received: population_size={population_size!r}"
            )
        self.population_size = population_size

    def make_sampler(self):
        return self._optuna.samplers.NSGAIISampler(
            seed=self.seed, population_size=self.population_size
        )
