"""Drives one oracle over a `Table`: queries are lookups, nothing is trained.

`run_oracle` drives an oracle exactly as a KerasTuner tuner does
(`create_trial`, then the trial's metrics through `update_trial`, then
`end_trial`), except that the metrics come from the table.
"""

import contextlib
import os
import tempfile
import time
import warnings

import keras_tuner as kt
import numpy as np

from keras_nas import compat
from keras_nas import validation
from keras_nas.bench import baselines
from keras_nas.bench.pareto import HypervolumeScale
from keras_nas.bench.results import RunResult
from keras_nas.bench.results import check_direction
from keras_nas.bench.results import infer_direction
from keras_nas.bench.results import pick_curve
from keras_nas.bench.table import ArchitectureNotInTable
from keras_nas.oracles import NASOracle

MISSING_POLICIES = ("error", "fail")
"""What a run does with a proposal the table lacks: raise, or fail the trial."""

_TUNER_ID = "tuner0"


def resolve_factory(table, make_oracle):
    """Returns `(label, factory)` for a strategy name or an oracle factory.

    Args:
        table: The `Table`, whose space sizes the baselines' defaults.
        make_oracle: A strategy name or a callable
            `(objective, max_trials, seed) -> keras_tuner.Oracle`, labelled
            by its `__name__` (else its type's name).

    Raises:
        ValueError: If the name is unknown.
        TypeError: If `make_oracle` is neither a name nor a callable.
    """
    if isinstance(make_oracle, str):
        factory = baselines.oracle_factory(make_oracle, table.hyperparameters)
        return make_oracle, factory
    if not callable(make_oracle):
        raise TypeError(
            "Received an invalid value for `make_oracle`, expected a strategy "
            "name or a callable `(objective, max_trials, seed) -> Oracle`. "
            f"Received: make_oracle={make_oracle!r}"
        )
    label = getattr(make_oracle, "__name__", None) or type(make_oracle).__name__
    return label, make_oracle


@contextlib.contextmanager
def _quiet():
    """Hides the per-fit warnings of KerasTuner's Gaussian process."""
    with warnings.catch_warnings():
        try:
            from sklearn.exceptions import ConvergenceWarning
        except ImportError:
            pass
        else:
            warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _release(oracle):
    """Drops KerasTuner's per-oracle lock entries.

    `keras_tuner.synchronized` keeps a lock per oracle in module-level dicts
    that are never cleared, so every oracle created would stay in memory for
    the life of the process.
    """
    compat.release_oracle_locks(oracle)


def check_search(table, search_metric, search_direction=None):
    """The searched metrics and their directions, checked: one or several.

    Args:
        table: A `Table`.
        search_metric: A metric name, or a list of names (several
            objectives; a list of one is that one metric).
        search_direction: For one metric `"max"` or `"min"`; for several a
            list of them, one per metric; `None` (or a `None` entry) infers
            a direction from the metric's name.

    Returns:
        A tuple `(search_metric, direction)`: two strings for one metric,
        two lists for several.

    Raises:
        ValueError: If a metric is not the table's, a name repeats, or a
            direction is invalid or does not match the metrics.
    """
    if isinstance(search_metric, str):
        if isinstance(search_direction, (list, tuple)):
            if len(search_direction) != 1:
                _mismatch(search_metric, search_direction)
            search_direction = search_direction[0]
        table.check_metric(search_metric, "search_metric")
        return search_metric, check_direction(
            "search_direction", search_direction or infer_direction(search_metric)
        )
    names = list(search_metric) if isinstance(search_metric, (list, tuple)) else []
    if not names or not all(isinstance(n, str) for n in names) or (
        len(set(names)) != len(names)
    ):
        raise ValueError(
            "Received an invalid value for `search_metric`, expected a metric "
            "name or a list of distinct names. "
            f"Received: search_metric={search_metric!r}"
        )
    if len(names) == 1:
        return check_search(table, names[0], search_direction)
    if search_direction is None:
        search_direction = [None] * len(names)
    if not isinstance(search_direction, (list, tuple)) or (
        len(search_direction) != len(names)
    ):
        _mismatch(names, search_direction)
    for name in names:
        table.check_metric(name, "search_metric")
    directions = [
        check_direction("search_direction", d or infer_direction(n))
        for n, d in zip(names, search_direction)
    ]
    return names, directions


def _mismatch(search_metric, search_direction):
    raise ValueError(
        "Received an invalid value for `search_direction`, expected one "
        "direction per search metric. Received: "
        f"search_direction={search_direction!r} for "
        f"search_metric={search_metric!r}"
    )


def run_oracle(
    table,
    make_oracle,
    budget,
    seed=0,
    search_metric="val_acc",
    report_metric=None,
    directory=None,
    search_direction=None,
    missing="error",
):
    """Runs one oracle for `budget` queries of a table.

    The oracle is prepared as a tuner prepares it (project folder, the
    space's structure for keras-nas oracles, the space), then each query is
    `create_trial`, a lookup, `update_trial` with the search metrics only
    (the report metric stays hidden from the oracle) and `end_trial`. The
    run ends after `budget` queries or when the oracle stops.

    With several search metrics the oracle gets a list objective, and the
    run is scored by its hypervolume regret (see
    `keras_nas.bench.pareto`) instead of a pick.

    Args:
        table: A `Table`.
        make_oracle: A strategy name (see `keras_nas.bench.strategy_names()`)
            or a callable `(objective, max_trials, seed) -> keras_tuner.Oracle`.
        budget: Number of queries.
        seed: The oracle's seed.
        search_metric: The metric the oracle optimises, or a list of them.
        report_metric: The metric reported for the pick of one search
            metric (`None`: `test_acc`); none with several.
        directory: Folder for KerasTuner's trial files; a temporary folder,
            removed afterwards, when `None`.
        search_direction: `"max"` or `"min"` (a list of them, for several
            metrics); inferred from the metric's name when `None`.
        missing: `"error"` to raise on a proposal the table lacks (or whose
            search metric is `nan`), `"fail"` to end that trial as failed.

    Returns:
        A `RunResult`.

    Raises:
        ArchitectureNotInTable: If the oracle proposes an architecture the
            table lacks and `missing="error"`.
    """
    budget = validation.check_positive_int("budget", budget)
    seed = validation.check_non_negative_int("seed", seed)
    search_metric, direction = check_search(table, search_metric, search_direction)
    report_metric = check_report(table, search_metric, report_metric, "test_acc")
    if isinstance(make_oracle, str):
        baselines.check_strategy(make_oracle, not isinstance(search_metric, str))
    missing = validation.check_one_of("missing", missing, MISSING_POLICIES)
    label, factory = resolve_factory(table, make_oracle)
    if directory is None:
        with tempfile.TemporaryDirectory(prefix="keras-nas-bench-") as temp:
            return run_from_factory(table, label, factory, budget, seed,
                                    search_metric, report_metric, temp,
                                    direction, missing)
    return run_from_factory(table, label, factory, budget, seed, search_metric,
                            report_metric, os.fspath(directory), direction,
                            missing)


def check_report(table, search_metric, report_metric, default):
    """The report metric of one search metric (`default` for `None`); none of several.

    Raises:
        ValueError: If the metric is not the table's, or one is given for
            several search metrics (their runs report a hypervolume regret).
    """
    if isinstance(search_metric, str):
        return table.check_metric(report_metric or default, "report_metric")
    if report_metric is not None:
        raise ValueError(
            "Received an invalid value for `report_metric`, expected None: a "
            "search of several metrics reports the hypervolume regret of its "
            f"queries. Received: report_metric={report_metric!r}"
        )
    return None


def run_from_factory(table, label, factory, budget, seed, search_metric,
                     report_metric, directory, direction, missing, scale=None):
    """`run_oracle` on checked arguments and a resolved factory.

    Args:
        table: A `Table`.
        label: The strategy's name in the result; with the seed, it names
            the oracle's project folder, `{label}-{seed}` in `directory`.
        factory: A callable `(objective, max_trials, seed) -> Oracle`.
        budget: Number of queries.
        seed: The oracle's seed.
        search_metric: The metric the oracle optimises, or a list of them.
        report_metric: The metric reported for its pick (`None` for
            several search metrics).
        directory: Folder for KerasTuner's trial files.
        direction: The search metric's direction, `"max"` or `"min"` (a
            list of them for several metrics).
        missing: `"error"` or `"fail"` (see `run_oracle`).
        scale: For several search metrics, the table's `HypervolumeScale`
            (measured here when `None`).

    Returns:
        A `RunResult`.
    """
    start, cpu_start = time.perf_counter(), time.process_time()
    several = not isinstance(search_metric, str)
    if several:
        objective = [kt.Objective(n, d) for n, d in zip(search_metric, direction)]
        scale = scale or HypervolumeScale.from_table(table, objective)
    else:
        objective = kt.Objective(search_metric, direction=direction)
    with _quiet():
        oracle = factory(objective=objective, max_trials=budget, seed=seed)
        try:
            search, report, repeated = _drive(
                oracle, table, budget, search_metric, report_metric,
                directory, f"{label}-{seed}", missing,
            )
        finally:
            _release(oracle)
    return RunResult(
        strategy=label,
        seed=seed,
        search=np.asarray(search, dtype=np.float64),
        report=np.asarray(report, dtype=np.float64),
        curve=(scale.regret_curve(search, budget) if several
               else pick_curve(search, report, direction, budget)),
        queries=len(search),
        repeated=repeated,
        seconds=time.perf_counter() - start,
        cpu_seconds=time.process_time() - cpu_start,
    )


def _drive(oracle, table, budget, search_metric, report_metric, directory,
           project, missing):
    compat.set_project_dir(oracle, directory, project)
    oracle.verbose = 0
    if isinstance(oracle, NASOracle):
        oracle.set_structure(table.structure)
    oracle.update_space(table.hyperparameters.copy())
    if missing == "fail":
        oracle.max_consecutive_failed_trials = budget + 1
    statuses = kt.engine.trial.TrialStatus
    single = isinstance(search_metric, str)
    names = [search_metric] if single else list(search_metric)
    search, report, seen, repeated = [], [], set(), 0
    while len(search) < budget:
        trial = oracle.create_trial(_TUNER_ID)
        if trial.status == statuses.STOPPED:
            break
        if trial.status != statuses.RUNNING:
            raise RuntimeError(
                f"Oracle {type(oracle).__name__} answered a trial with status "
                f"{trial.status!r}; a benchmark runs one trial at a time and "
                "expects RUNNING or STOPPED."
            )
        values = dict(trial.hyperparameters.values)
        metrics = _lookup(table, values, names, missing)
        key = _repeat_key(table, values)
        repeated += key in seen
        seen.add(key)
        if metrics is None:
            found = [float("nan")] * len(names)
            trial.status = statuses.FAILED
            trial.message = "The architecture is not in the table."
        else:
            found = [metrics[name] for name in names]
            oracle.update_trial(trial.trial_id, dict(zip(names, found)))
            trial.status = statuses.COMPLETED
        search.append(found[0] if single else found)
        if report_metric is not None:
            report.append(float("nan") if metrics is None else metrics[report_metric])
        oracle.end_trial(trial)
    return search, report, repeated


def _lookup(table, values, names, missing):
    try:
        metrics = table.lookup(values)
    except ArchitectureNotInTable as error:
        if missing == "error":
            raise ArchitectureNotInTable(
                f"{error} Pass missing='fail' to count such proposals as "
                "failed trials."
            ) from None
        return None
    lacking = [name for name in names if metrics[name] != metrics[name]]  # nan
    if lacking:
        if missing == "error":
            raise ArchitectureNotInTable(
                f"The architecture {table.key(values)} has no `{lacking[0]}` "
                f"in {table.name}. Pass missing='fail' to count such proposals "
                "as failed trials."
            )
        return None
    return metrics


def _repeat_key(table, values):
    try:
        return table.key(values)
    except ValueError:
        return tuple(sorted((k, repr(v)) for k, v in values.items()))

