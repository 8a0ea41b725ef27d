"""`OptunaTPEOracle`: Optuna's TPE sampler (MOTPE for several objectives)."""

from keras_nas import validation
from keras_nas.bench.optuna_oracle import OptunaOracle


class OptunaTPEOracle(OptunaOracle):
    """Optuna's Tree-structured Parzen Estimator, as a KerasTuner oracle.

    `optuna.samplers.TPESampler` with its defaults but the number of random
    startup trials. With a list objective the study has one direction per
    objective and the sampler is Optuna's multi-objective TPE (MOTPE,
    Ozaki et al., 2020). See `OptunaOracle` for how trials are asked and
    told.

    Args:
        objective: Name of the metric to optimise, a
            `keras_tuner.Objective`, or a list of them.
        max_trials: Number of trials to run at most.
        seed: Random seed of the sampler (`0` is a seed).
        n_startup_trials: Random trials before TPE models the results.
        max_collisions: Repeated proposals told and re-asked before drawing
            an untried architecture at random.
        **kwargs: Further arguments of `keras_tuner.Oracle`.

    Example:

    ```python
    oracle = OptunaTPEOracle(objective="val_accuracy", max_trials=50, seed=1)
    tuner = keras_nas.NASTuner(space, strategy=oracle)
    ```
    """

    def __init__(
        self,
        objective=None,
        max_trials=10,
        seed=None,
        n_startup_trials=10,
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
        self.n_startup_trials = validation.check_positive_int(
            "n_startup_trials", n_startup_trials
        )

    def make_sampler(self):
        return self._optuna.samplers.TPESampler(
            seed=self.seed, n_startup_trials=self.n_startup_trials
        )
