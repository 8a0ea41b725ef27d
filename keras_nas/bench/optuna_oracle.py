"""`OptunaOracle`: an Optuna sampler as a KerasTuner oracle.

The base of the Optuna baselines of benchmarks (`OptunaTPEOracle`,
`OptunaNSGA2Oracle`), driven through Optuna's ask-and-tell interface so
that they run under any KerasTuner tuner. Optuna is imported only when an
oracle is created; it is not a dependency of keras-nas (install
`keras-nas[bench]`).
"""

import math

import keras_tuner as kt
import numpy as np

from keras_nas import compat
from keras_nas import validation
from keras_nas.oracles.base import NASOracle


def import_optuna():
    """Imports Optuna, or raises an `ImportError` saying how to install it."""
    try:
        import optuna
    except ImportError:
        raise ImportError(
            "The Optuna baselines need Optuna. Install it with: "
            'pip install "keras-nas[bench]"'
        ) from None
    return optuna


def optuna_distribution(hp):
    """The Optuna distribution of a KerasTuner hyperparameter.

    `Choice` and `Boolean` become categorical; `Int` and `Float` become
    Optuna's integer and float distributions with their step and log scale,
    except a stepped log (or reverse log) range, and a float step that does
    not divide the range in floating point (Optuna would shrink the range),
    whose values are listed as categories. Optuna has no reverse log scale: an unstepped `reverse_log`
    range is sampled linearly.

    Args:
        hp: A KerasTuner hyperparameter other than `Fixed`.

    Returns:
        An `optuna.distributions.BaseDistribution`.

    Raises:
        TypeError: If the hyperparameter type is not supported.
    """
    distributions = import_optuna().distributions
    hps = kt.engine.hyperparameters
    if isinstance(hp, hps.Boolean):
        return distributions.CategoricalDistribution([False, True])
    if isinstance(hp, hps.Choice):
        return distributions.CategoricalDistribution(list(hp.values))
    if isinstance(hp, (hps.Int, hps.Float)):
        is_int = isinstance(hp, hps.Int)
        as_type = int if is_int else float
        if hp.step is not None and hp.sampling != "linear":
            values = sorted({as_type(round(v) if is_int else v) for v in hp.values})
            return distributions.CategoricalDistribution(values)
        low, high = as_type(hp.min_value), as_type(hp.max_value)
        if hp.step is not None:
            steps = math.floor((high - low) / hp.step + 1e-9)
            if is_int:
                return distributions.IntDistribution(
                    low, low + steps * hp.step, step=hp.step
                )
            # Round off float noise (0.1 * 3 is 0.30000000000000004).
            grid = [float(f"{low + k * hp.step:.12g}") for k in range(steps + 1)]
            if math.fmod(grid[-1] - low, hp.step) == 0:
                return distributions.FloatDistribution(
                    low, grid[-1], step=float(hp.step)
                )
            # Optuna would shrink a range its float step does not divide.
            return distributions.CategoricalDistribution(grid)
        log = hp.sampling == "log"
        if is_int:
            return distributions.IntDistribution(low, high, log=log)
        return distributions.FloatDistribution(low, high, log=log)
    raise TypeError(
        f"Unsupported hyperparameter type for Optuna: {type(hp).__name__} "
        f"({hp.name})."
    )


class OptunaOracle(NASOracle):
    """An Optuna sampler behind KerasTuner's oracle contract.

    Each trial asks Optuna for the active decisions of the space in order,
    so conditions are honoured (a layer's decisions are asked only when the
    depth makes it active). Finished trials are told with their objective,
    in the objective's direction, or with each objective's value for a
    list objective (a study of several directions); failed ones as failed.

    The oracle never proposes an architecture twice while it can help it:
    when the sampler repeats one, the repeat is told the values already
    measured and Optuna is asked again, up to `max_collisions` times; then
    an untried architecture is drawn at random (and told to Optuna like any
    other). When none is left, the search stops.

    Seeding, the random generator behind those draws, the last-resort pick
    among untried architectures and the crash-safe saving are `NASOracle`'s.
    A reloaded search rebuilds Optuna's study from the finished trials, in
    the order they started; the sampler's own random state is not saved, so
    it does not continue the exact same sequence.

    A subclass implements `make_sampler()`.

    Args:
        objective: Name of the metric to optimise, a
            `keras_tuner.Objective`, or a list of them.
        max_trials: Number of trials to run at most.
        seed: Random seed of the sampler (`0` is a seed).
        max_collisions: Repeated proposals told and re-asked before drawing
            an untried architecture at random.
        **kwargs: Further arguments of `keras_tuner.Oracle`.
    """

    def __init__(
        self,
        objective=None,
        max_trials=10,
        seed=None,
        max_collisions=20,
        **kwargs,
    ):
        self._optuna = import_optuna()
        super().__init__(
            objective=objective, max_trials=max_trials, seed=seed, **kwargs
        )
        self.max_collisions = validation.check_positive_int(
            "max_collisions", max_collisions
        )
        self._study = None
        self._asked = {}

    def make_sampler(self):
        """The Optuna sampler, seeded with `self.seed`."""
        raise NotImplementedError

    @property
    def study(self):
        """The Optuna study, rebuilt from the finished trials if needed."""
        if self._study is None:
            optuna = self._optuna
            optuna.logging.set_verbosity(optuna.logging.WARNING)
            directions = [
                "maximize" if o.direction == "max" else "minimize"
                for o in self.objectives
            ]
            if self.multi_objective:
                self._study = optuna.create_study(
                    sampler=self.make_sampler(), directions=directions
                )
            else:
                self._study = optuna.create_study(
                    sampler=self.make_sampler(), direction=directions[0]
                )
            for trial in self.trials.values():
                if trial.status == kt.engine.trial.TrialStatus.COMPLETED:
                    self._add_finished(
                        trial.hyperparameters.values, self._result(trial.trial_id)
                    )
        return self._study

    def propose(self, trial_id):
        study = self.study
        for _ in range(self.max_collisions):
            asked = study.ask()
            values = self._suggest(asked)
            if self.is_new(values):
                self._asked[trial_id] = asked
                return values
            self._tell(asked, self._known_result(values))
        values = self._random_new_values()
        if values is None:
            return None
        study.enqueue_trial(self._params(values))
        asked = study.ask()
        self._asked[trial_id] = asked
        return self._suggest(asked)

    @kt.synchronized
    def end_trial(self, trial):
        super().end_trial(trial)
        trial = self.trials[trial.trial_id]
        if trial.status == kt.engine.trial.TrialStatus.INVALID:
            return  # Sent for retry: told when it finishes.
        asked = self._asked.pop(trial.trial_id, None)
        if asked is None:
            return
        result = None
        if trial.status == kt.engine.trial.TrialStatus.COMPLETED:
            result = self._result(trial.trial_id)
        self._tell(asked, result)

    def set_state(self, state):
        super().set_state(state)
        self._study = None
        self._asked = {}

    def _active_space(self, values):
        """Yields the decisions active given `values`, in space order."""
        for hp in self.hyperparameters.space:
            if all(cond.is_active(values) for cond in hp.conditions):
                yield hp

    def _suggest(self, asked):
        values = {}
        for hp in self._active_space(values):
            if hp.name in values:
                continue
            if isinstance(hp, kt.engine.hyperparameters.Fixed):
                values[hp.name] = hp.value
            else:
                values[hp.name] = _suggest_value(asked, hp)
        return values

    def _params(self, values):
        """The values Optuna asks for: the non-`Fixed` active decisions."""
        return {name: values[name] for name in self._distributions(values)}

    def _distributions(self, values):
        distributions = {}
        for hp in self.hyperparameters.space:
            if hp.name in values and hp.name not in distributions and not (
                isinstance(hp, kt.engine.hyperparameters.Fixed)
            ):
                distributions[hp.name] = optuna_distribution(hp)
        return distributions

    def _result(self, trial_id):
        """What Optuna is told of a completed trial: its score, or the
        objectives' values (a list) for a list objective; `None` when not
        finite."""
        if self.multi_objective:
            values = self.objective_values(trial_id)
            return None if values is None else [float(v) for v in values]
        score = self.trials[trial_id].score
        return float(score) if score is not None and np.isfinite(score) else None

    def _add_finished(self, values, result):
        distributions = self._distributions(values)
        params = {name: values[name] for name in distributions}
        state = self._optuna.trial.TrialState
        finished = result is not None
        told = {"values" if self.multi_objective else "value": result}
        self._study.add_trial(
            self._optuna.trial.create_trial(
                params=params,
                distributions=distributions,
                state=state.COMPLETE if finished else state.FAIL,
                **told,
            )
        )

    def _tell(self, asked, result):
        if result is None:
            self._study.tell(asked, state=self._optuna.trial.TrialState.FAIL)
        else:
            self._study.tell(asked, result)

    def _known_result(self, values):
        """The result of the finished trial with these values, or `None`."""
        wanted = compat.values_hash(self, values)
        for trial_id, trial in self.trials.items():
            if (
                compat.trial_hashes(self)[trial_id] == wanted
                and trial.status == kt.engine.trial.TrialStatus.COMPLETED
            ):
                return self._result(trial_id)
        return None

    def _random_new_values(self):
        """An untried architecture drawn at random, or `None` if none is left.

        Draws each active decision as KerasTuner's random search does
        (`prob_to_value` of a uniform number), up to `max_collisions` times,
        then picks among all untried architectures (`untried_at_random`).
        """
        for _ in range(self.max_collisions):
            values = {}
            for hp in self._active_space(values):
                if hp.name not in values:
                    values[hp.name] = hp.prob_to_value(float(self.rng.random()))
            if self.is_new(values):
                return values
        return self.untried_at_random()


def _suggest_value(asked, hp):
    distribution = optuna_distribution(hp)
    optuna = import_optuna()
    if isinstance(distribution, optuna.distributions.CategoricalDistribution):
        value = asked.suggest_categorical(hp.name, distribution.choices)
    elif isinstance(distribution, optuna.distributions.IntDistribution):
        value = asked.suggest_int(
            hp.name, distribution.low, distribution.high,
            step=distribution.step, log=distribution.log,
        )
    else:
        value = asked.suggest_float(
            hp.name, distribution.low, distribution.high,
            step=distribution.step, log=distribution.log,
        )
    return value.item() if isinstance(value, np.generic) else value
