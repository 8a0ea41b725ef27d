"""Strategies by name for benchmarks: our oracles and the baselines.

Baselines are other libraries' searchers, run through the same KerasTuner
contract as ours: KerasTuner's own random search and Bayesian optimisation,
Optuna's TPE sampler (`optuna_tpe`, wrapped in `OptunaTPEOracle`), and for
several objectives Optuna's NSGA-II (`optuna_nsga2`, `OptunaNSGA2Oracle`)
and multi-objective TPE (`optuna_motpe`, `OptunaTPEOracle` on a list
objective).
"""

import functools
import importlib.util

import keras_tuner as kt
import numpy as np

from keras_nas import validation
from keras_nas import strategies

INSTALL_HINT = 'pip install "keras-nas[bench]"'

BASELINES = ("kt_random", "kt_bayesian", "optuna_tpe", "optuna_nsga2",
             "optuna_motpe")
"""Names of the baselines, which resolve before `keras_nas.strategies.STRATEGIES`."""

ONE_OBJECTIVE = {
    "kt_random": "KerasTuner scores a list objective by a `multi_objective` "
                 "metric that no trial reports",
    "kt_bayesian": "KerasTuner scores a list objective by a `multi_objective` "
                   "metric that no trial reports",
    "optuna_tpe": "use optuna_motpe",
}
"""The baselines of one objective only, and why (or what to use instead)."""

SEVERAL_OBJECTIVES = {"optuna_motpe": "use optuna_tpe"}
"""The baselines of several objectives only, and what to use instead."""


def optuna_available():
    """Whether Optuna can be imported (the Optuna baselines need it)."""
    return importlib.util.find_spec("optuna") is not None


BASELINE_CHOICES = ("default", "all", "none")
"""Names of baseline sets `check_baselines` accepts beside lists of names."""


def comparison_baselines(several=False, choice="default"):
    """The baselines a comparison adds to its strategies.

    The default leaves out KerasTuner's Bayesian optimisation
    (`kt_bayesian`): its Gaussian process is refitted with many optimizer
    restarts at every query, so one seed of 100 queries takes minutes on a
    2-core machine while our strategies take about a second (README,
    "Benchmarking on a table"); ask for it with `"all"` or by name.

    Args:
        several: Whether the comparison searches several objectives.
        choice: `"default"`, `"all"` or `"none"`.

    Returns:
        One objective: `["random", "kt_random"]` plus `"optuna_tpe"` when
        Optuna is installed, and `"kt_bayesian"` after `"kt_random"` for
        `"all"`. Several: `["random"]`, plus `"optuna_nsga2"` and
        `"optuna_motpe"` when Optuna is installed, for `"default"` and
        `"all"` alike. `[]` for `"none"`.
    """
    if choice == "none":
        return []
    if several:
        return ["random"] + (
            ["optuna_nsga2", "optuna_motpe"] if optuna_available() else []
        )
    names = ["random", "kt_random"] + (["kt_bayesian"] if choice == "all" else [])
    if optuna_available():
        names.append("optuna_tpe")
    return names


def check_baselines(baselines, several=False):
    """The baseline names of a choice, checked.

    Args:
        baselines: `True` (the default set), `False` (none), one of
            `BASELINE_CHOICES`, or a list (or comma-separated string) of
            names among `random` and `BASELINES`; a list that is not
            empty gets `random` first, the reference of every comparison.
        several: Whether the comparison searches several objectives.

    Returns:
        A list of names, without repeats.

    Raises:
        ValueError: If a name is not a baseline, or does not search that
            many objectives.
    """
    given = baselines
    if isinstance(baselines, bool):
        baselines = "default" if baselines else "none"
    if isinstance(baselines, str):
        if baselines in BASELINE_CHOICES:
            return comparison_baselines(several, baselines)
        baselines = [name.strip() for name in baselines.split(",")]
    valid = ("random",) + BASELINES
    names = list(baselines) if isinstance(baselines, (list, tuple)) else None
    if names is None or not all(isinstance(n, str) and n in valid for n in names):
        raise ValueError(
            "Received an invalid value for `baselines`, expected True, False, "
            f"one of {list(BASELINE_CHOICES)} or a list of names among "
            f"{list(valid)}. Received: baselines={given!r}"
        )
    for name in names:
        reason = unfit_reason(name, several)
        if reason is not None:
            raise ValueError(
                f"Received an invalid value for `baselines`: {reason}. "
                f"Received: baselines={given!r}"
            )
    return list(dict.fromkeys(["random", *names])) if names else []


def strategy_names():
    """Every strategy name a benchmark accepts: baselines, then ours.

    Ours leave out the strategies that train on data before proposing
    (`NASOracle.needs_training_data`: the one-shot `darts`).
    """
    ours = [
        name for name, cls in strategies.STRATEGIES.items()
        if name not in BASELINES and not cls.needs_training_data
    ]
    return list(BASELINES) + sorted(ours)


def check_strategy(name, several=None):
    """Returns `name` if it names a strategy; raises listing the valid ones.

    Args:
        name: A strategy name.
        several: Whether the search has several objectives (then the
            baselines of one objective only are refused, and the other way
            round); `None` checks the name only.

    Raises:
        ValueError: If `name` is unknown or does not search that many
            objectives.
    """
    if not isinstance(name, str) or name not in strategy_names():
        raise ValueError(
            "Received an invalid value for `strategy`, expected one of "
            f"{strategy_names()}. Received: strategy={name!r}"
        )
    reason = unfit_reason(name, several)
    if reason is not None:
        raise ValueError(
            f"Received an invalid value for `strategy`: {reason}. "
            f"Received: strategy={name!r}"
        )
    return name


def unfit_reason(name, several):
    """Why a baseline cannot search that many objectives, or `None`.

    Args:
        name: A strategy name.
        several: Whether the search has several objectives; `None` for
            either.

    Returns:
        A sentence without its full stop, or `None` when `name` fits.
    """
    unfit = {True: ONE_OBJECTIVE, False: SEVERAL_OBJECTIVES}.get(several, {})
    if name not in unfit:
        return None
    count = "several objectives" if several else "one objective"
    return f"{name!r} cannot search {count} ({unfit[name]})"


def comparison_strategies(requested, baselines=True, several=False):
    """The requested strategies followed by the baselines, without repeats.

    Args:
        requested: Strategy names.
        baselines: The baselines to add: see `check_baselines`.
        several: Whether the comparison searches several objectives.

    Returns:
        A list of names.

    Raises:
        ValueError: If a name is unknown, or does not search that many
            objectives (see `check_strategy` and `check_baselines`).
    """
    if isinstance(requested, str):
        requested = [requested]
    names = [check_strategy(name, several) for name in requested]
    names += check_baselines(baselines, several)
    return list(dict.fromkeys(names))


def make_oracle(name, objective, max_trials, seed=None, hyperparameters=None):
    """Creates the oracle of a strategy name.

    Args:
        name: A baseline (`BASELINES`) or a name of
            `keras_nas.strategies.STRATEGIES`.
        objective: The `keras_tuner.Objective` (or metric name) to optimise,
            or a list of them.
        max_trials: The query budget.
        seed: Random seed; `0` is a seed like any other. KerasTuner's
            oracles receive `kerastuner_seed(seed)`.
        hyperparameters: Optional `keras_tuner.HyperParameters` of the space,
            which baselines use to size their defaults (KerasTuner's
            Bayesian optimisation: its random start).

    Returns:
        A `keras_tuner.Oracle`.

    Raises:
        ValueError: If `name` is unknown.
        ImportError: If a baseline's library is not installed.
    """
    check_strategy(name)
    validation.check_positive_int("max_trials", max_trials)
    if name == "kt_random":
        return kt.oracles.RandomSearchOracle(
            objective=objective, max_trials=max_trials, seed=kerastuner_seed(seed)
        )
    if name == "kt_bayesian":
        return _kt_bayesian(objective, max_trials, seed, hyperparameters)
    if name in ("optuna_tpe", "optuna_motpe"):
        from keras_nas.bench.optuna_tpe import OptunaTPEOracle

        return OptunaTPEOracle(objective=objective, max_trials=max_trials, seed=seed)
    if name == "optuna_nsga2":
        from keras_nas.bench.optuna_nsga2 import OptunaNSGA2Oracle

        return OptunaNSGA2Oracle(objective=objective, max_trials=max_trials, seed=seed)
    return strategies.get_oracle(name, objective, max_trials, seed=seed)


def oracle_factory(name, hyperparameters=None):
    """A picklable `make_oracle(objective, max_trials, seed)` for a name."""
    check_strategy(name)
    return functools.partial(_make, name, hyperparameters)


def _make(name, hyperparameters, objective, max_trials, seed):
    return make_oracle(name, objective, max_trials, seed, hyperparameters)


def bayesian_initial_points(max_trials, hyperparameters=None):
    """Random trials before KerasTuner's Bayesian oracle fits its process.

    KerasTuner's own default, three per dimension (at least 3), capped at a
    quarter of the budget (at least 2), so that a small budget still leaves
    most queries to the Gaussian process.
    """
    dimensions = len(hyperparameters.space) if hyperparameters is not None else 0
    default = max(3 * dimensions, 3)
    return max(2, min(default, max_trials // 4))


def _kt_bayesian(objective, max_trials, seed, hyperparameters):
    missing = [m for m in ("sklearn", "scipy") if importlib.util.find_spec(m) is None]
    if missing:
        raise ImportError(
            "The `kt_bayesian` baseline (KerasTuner's BayesianOptimizationOracle) "
            f"needs scikit-learn and SciPy; {missing} not found. Install them "
            f"with: {INSTALL_HINT}"
        )
    return kt.oracles.BayesianOptimizationOracle(
        objective=objective,
        max_trials=max_trials,
        num_initial_points=bayesian_initial_points(max_trials, hyperparameters),
        seed=kerastuner_seed(seed),
    )


def kerastuner_seed(seed):
    """The seed a KerasTuner oracle gets for a benchmark seed.

    KerasTuner draws the `k`-th random value of a search from
    `random.Random(seed + k)`, so searches with consecutive seeds propose
    the same values shifted by one decision: runs with seeds 0, 1, 2, ...
    would not be independent. Each benchmark seed is therefore mixed into a
    distant seed in `[1, 2**31 - 1]` (never 0, which KerasTuner would replace
    by an unseeded random one).

    Args:
        seed: A non-negative integer, or `None`.

    Returns:
        An int, or `None` for `None`.
    """
    if seed is None:
        return None
    state = np.random.SeedSequence(seed).generate_state(1)[0]
    return int(state % (2**31 - 1)) + 1
