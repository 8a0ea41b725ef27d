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


def run_oracle(
    table,
    make_oracle,
    budget,
    seed=0,
    search_metric="val_acc",
    report_metric="test_acc",
    directory=None,
    search_direction=None,
    missing="error",
):
    """Runs one oracle for `budget` queries of a table.

    The oracle is prepared as a tuner prepares it (project folder, the
    space's structure for keras-nas oracles, the space), then each query is
    `create_trial`, a lookup, `update_trial` with the search metric only
    (the report metric stays hidden from the oracle) and `end_trial`. The
    run ends after `budget` queries or when the oracle stops.

    Args:
        table: A `Table`.
        make_oracle: A strategy name (see `keras_nas.bench.strategy_names()`)
            or a callable `(objective, max_trials, seed) -> keras_tuner.Oracle`.
        budget: Number of queries.
        seed: The oracle's seed.
        search_metric: The metric the oracle optimises.
        report_metric: The metric reported for its pick.
        directory: Folder for KerasTuner's trial files; a temporary folder,
            removed afterwards, when `None`.
        search_direction: `"max"` or `"min"`; inferred from the metric's
            name when `None`.
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
    table.check_metric(search_metric, "search_metric")
    table.check_metric(report_metric, "report_metric")
    direction = check_direction(
        "search_direction", search_direction or infer_direction(search_metric)
    )
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


def run_from_factory(table, label, factory, budget, seed, search_metric,
                     report_metric, directory, direction, missing):
    """`run_oracle` on checked arguments and a resolved factory.

    Args:
        table: A `Table`.
        label: The strategy's name in the result; with the seed, it names
            the oracle's project folder, `{label}-{seed}` in `directory`.
        factory: A callable `(objective, max_trials, seed) -> Oracle`.
        budget: Number of queries.
        seed: The oracle's seed.
        search_metric: The metric the oracle optimises.
        report_metric: The metric reported for its pick.
        directory: Folder for KerasTuner's trial files.
        direction: The search metric's direction, `"max"` or `"min"`.
        missing: `"error"` or `"fail"` (see `run_oracle`).

    Returns:
        A `RunResult`.
    """
    start, cpu_start = time.perf_counter(), time.process_time()
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
        curve=pick_curve(search, report, direction, budget),
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
        metrics = _lookup(table, values, search_metric, missing)
        key = _repeat_key(table, values)
        repeated += key in seen
        seen.add(key)
        if metrics is None:
            search.append(float("nan"))
            report.append(float("nan"))
            trial.status = statuses.FAILED
            trial.message = "The architecture is not in the table."
        else:
            search.append(metrics[search_metric])
            report.append(metrics[report_metric])
            oracle.update_trial(trial.trial_id, {search_metric: search[-1]})
            trial.status = statuses.COMPLETED
        oracle.end_trial(trial)
    return search, report, repeated


def _lookup(table, values, search_metric, missing):
    try:
        metrics = table.lookup(values)
    except ArchitectureNotInTable as error:
        if missing == "error":
            raise ArchitectureNotInTable(
                f"{error} Pass missing='fail' to count such proposals as "
                "failed trials."
            ) from None
        return None
    if metrics[search_metric] != metrics[search_metric]:  # nan
        if missing == "error":
            raise ArchitectureNotInTable(
                f"The architecture {table.key(values)} has no `{search_metric}` "
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

