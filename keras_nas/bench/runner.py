"""Runs oracles against a `Table`: queries are lookups, nothing is trained.

`run_oracle` drives one oracle exactly as a KerasTuner tuner does
(`create_trial`, then the trial's metrics through `update_trial`, then
`end_trial`), except that the metrics come from the table. `run_benchmark`
runs many strategies over many seeds and gathers a `BenchmarkResult`.
"""

import concurrent.futures
import contextlib
import json
import multiprocessing
import numbers
import os
import shutil
import sys
import tempfile
import time
import warnings

import keras_tuner as kt
import numpy as np

from keras_nas import compat
from keras_nas import validation
from keras_nas.files import write_json_atomically
from keras_nas.bench import baselines as baselines_module
from keras_nas.bench.results import BenchmarkResult
from keras_nas.bench.results import RunResult
from keras_nas.bench.results import StrategyResult
from keras_nas.bench.results import check_direction
from keras_nas.bench.results import infer_direction
from keras_nas.bench.results import pick_curve
from keras_nas.bench.results import run_from_dict
from keras_nas.bench.results import run_to_dict
from keras_nas.bench.table import ArchitectureNotInTable
from keras_nas.bench.table import Table
from keras_nas.oracles import NASOracle

MISSING_POLICIES = ("error", "fail")
"""What a run does with a proposal the table lacks: raise, or fail the trial."""

_TUNER_ID = "tuner0"


SEARCH_METRICS = ("val_acc", "val_accuracy", "valid_acc", "valid_accuracy",
                  "validation_accuracy")
"""Default search metrics, in order of preference."""

REPORT_METRICS = ("test_acc", "test_accuracy")
"""Default report metrics, in order of preference."""


def default_metrics(table, search_metric=None, report_metric=None):
    """Resolves the search and report metrics of a table.

    The search metric defaults to the validation accuracy (`val_acc`, or a
    name of `SEARCH_METRICS`; the only metric of a one-metric table), the
    report metric to the test accuracy (`test_acc` or `test_accuracy`; else
    the search metric): the NAS-Bench-201 protocol searches on validation
    accuracy and reports the test accuracy of the pick.

    Args:
        table: A `Table`.
        search_metric: A metric name, or `None` for the default.
        report_metric: A metric name, or `None` for the default.

    Returns:
        A tuple `(search_metric, report_metric)`.

    Raises:
        ValueError: If a metric is unknown, or there is no default.
    """
    names = table.metric_names
    if search_metric is None:
        found = [name for name in SEARCH_METRICS if name in names]
        if found:
            search_metric = found[0]
        elif len(names) == 1:
            search_metric = names[0]
        else:
            raise ValueError(
                "Received no value for `search_metric`, and the table has no "
                f"validation accuracy ({', '.join(SEARCH_METRICS)}): pass one "
                f"of {list(names)}."
            )
    table.check_metric(search_metric, "search_metric")
    if report_metric is None:
        found = [name for name in REPORT_METRICS if name in names]
        report_metric = found[0] if found else search_metric
    table.check_metric(report_metric, "report_metric")
    return search_metric, report_metric


def _check_seed(seed):
    if (
        isinstance(seed, bool)
        or not isinstance(seed, numbers.Integral)
        or seed < 0
    ):
        raise ValueError(
            "Received an invalid value for `seed`, expected a non-negative "
            f"integer. Received: seed={seed!r}"
        )
    return int(seed)


def _check_missing(missing):
    if missing not in MISSING_POLICIES:
        raise ValueError(
            f"Received an invalid value for `missing`, expected one of "
            f"{list(MISSING_POLICIES)}. Received: missing={missing!r}"
        )
    return missing


def _resolve_factory(table, make_oracle):
    """Returns `(label, factory)` for a strategy name or an oracle factory."""
    if isinstance(make_oracle, str):
        factory = baselines_module.oracle_factory(
            make_oracle, table.hyperparameters
        )
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
    seed = _check_seed(seed)
    table.check_metric(search_metric, "search_metric")
    table.check_metric(report_metric, "report_metric")
    direction = check_direction(
        "search_direction", search_direction or infer_direction(search_metric)
    )
    missing = _check_missing(missing)
    label, factory = _resolve_factory(table, make_oracle)
    if directory is None:
        with tempfile.TemporaryDirectory(prefix="keras-nas-bench-") as temp:
            return _run(table, label, factory, budget, seed, search_metric,
                        report_metric, temp, direction, missing)
    return _run(table, label, factory, budget, seed, search_metric,
                report_metric, os.fspath(directory), direction, missing)


def _run(table, label, factory, budget, seed, search_metric, report_metric,
         directory, direction, missing):
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
    oracle._set_project_dir(directory, project)
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


# ------------------------------------------------------------- benchmarks


def _strategy_factories(table, strategies, baselines):
    """Returns `{label: factory}` for names or a `{label: factory}` dict."""
    if isinstance(strategies, dict):
        factories = dict(strategies)
        for label, factory in factories.items():
            if isinstance(factory, str):
                factories[label] = _resolve_factory(table, factory)[1]
        if baselines:
            for name in baselines_module.comparison_baselines():
                factories.setdefault(
                    name,
                    baselines_module.oracle_factory(name, table.hyperparameters),
                )
        return factories
    names = baselines_module.comparison_strategies(strategies, baselines)
    return {
        name: baselines_module.oracle_factory(name, table.hyperparameters)
        for name in names
    }


_WORKER_TABLE = None


def _init_worker(table):
    global _WORKER_TABLE
    _WORKER_TABLE = table


def _run_task(task, table=None):
    label, factory, budget, seed, settings, directory = task
    table = table if table is not None else _WORKER_TABLE
    try:
        return _run(table, label, factory, budget, seed,
                    directory=directory, **settings)
    finally:
        shutil.rmtree(os.path.join(directory, f"{label}-{seed}"),
                      ignore_errors=True)


def run_benchmark(
    table,
    strategies=("random",),
    budget=100,
    repeats=10,
    seed=0,
    search_metric=None,
    report_metric=None,
    search_direction=None,
    report_direction=None,
    baselines=True,
    missing="error",
    jobs=1,
    progress=None,
    command=None,
    results_dir=None,
):
    """Compares strategies on a table over several seeds.

    Each strategy runs `repeats` times, with seeds `seed`, `seed + 1`, ...
    Unless `baselines=False`, the comparison also holds our `random` search,
    KerasTuner's `kt_random` and `kt_bayesian`, and `optuna_tpe` when Optuna
    is installed, all from the same call.

    Args:
        table: A `Table`, or the path of a CSV file for `Table.from_csv`.
        strategies: Strategy names, or a dict from label to a strategy name
            or a picklable `(objective, max_trials, seed) -> Oracle` callable.
        budget: Queries per run.
        repeats: Seeds per strategy.
        seed: The first seed.
        search_metric: The metric searched on (default: `val_acc`).
        report_metric: The metric reported for the pick (default:
            `test_acc`, else the search metric).
        search_direction: `"max"` or `"min"`, inferred from the name if
            `None`.
        report_direction: `"max"` or `"min"`, inferred from the name if
            `None`; gives the sign of the regret.
        baselines: Whether to add the baselines.
        missing: `"error"` or `"fail"`: see `run_oracle`.
        jobs: Processes running seeds in parallel (`1`: in this process).
            With more, factories must be picklable (names always are).
        progress: Optional callable `(StrategyResult, elapsed_seconds)`,
            called as each strategy finishes all its seeds.
        command: Optional command line, stored in the result.
        results_dir: Optional folder keeping each finished run (one JSON
            file per strategy and seed, written as it ends). A call with the
            same folder and settings loads those runs instead of running
            them again, so an interrupted benchmark resumes where it
            stopped; runs saved under other settings are refused.

    Returns:
        A `BenchmarkResult`.

    Raises:
        ValueError: On an invalid argument, such as an unknown strategy or
            metric.
    """
    if not isinstance(table, Table):
        table = Table.from_csv(table)
    budget = validation.check_positive_int("budget", budget)
    repeats = validation.check_positive_int("repeats", repeats)
    jobs = validation.check_positive_int("jobs", jobs)
    seed = _check_seed(seed)
    missing = _check_missing(missing)
    search_metric, report_metric = default_metrics(
        table, search_metric, report_metric
    )
    search_direction = check_direction(
        "search_direction", search_direction or infer_direction(search_metric)
    )
    report_direction = check_direction(
        "report_direction", report_direction or infer_direction(report_metric)
    )
    factories = _strategy_factories(table, strategies, baselines)
    best_report, _ = table.best(report_metric, report_direction)
    _, best_search_row = table.best(search_metric, search_direction)
    best_search_report = table.lookup(table.architecture(best_search_row))[
        report_metric
    ]
    settings = {
        "search_metric": search_metric,
        "report_metric": report_metric,
        "direction": search_direction,
        "missing": missing,
    }
    start = time.perf_counter()
    directory = tempfile.mkdtemp(prefix="keras-nas-bench-")
    saved = SavedRuns(results_dir, {
        **settings, "table": table.name, "rows": len(table), "budget": budget,
    })
    try:
        tasks = [
            (label, factory, budget, seed + r, settings, directory)
            for label, factory in factories.items()
            for r in range(repeats)
        ]
        runs = _run_tasks(table, tasks, jobs, repeats, start, progress,
                          best_report, report_direction, saved)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return BenchmarkResult(
        strategies={
            label: StrategyResult(label, runs[label], best_report, report_direction)
            for label in factories
        },
        table=table.name,
        rows=len(table),
        search_metric=search_metric,
        report_metric=report_metric,
        search_direction=search_direction,
        report_direction=report_direction,
        budget=budget,
        repeats=repeats,
        seed=seed,
        best_report=best_report,
        best_search_report=best_search_report,
        seconds=time.perf_counter() - start,
        command=command,
    )


THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""The environment variables that size the BLAS and OpenMP thread pools."""


@contextlib.contextmanager
def worker_threads_limited(jobs):
    """Caps the BLAS and OpenMP threads of worker processes started inside.

    `jobs` processes each running a BLAS pool of one thread per core
    oversubscribe the machine, and OpenBLAS's waiting threads spin: on
    KerasTuner's Bayesian optimisation this tripled the processor time of
    a run. Workers started inside get `cpu_count // jobs` threads (at least
    one) through `THREAD_VARIABLES`; a variable the user has set is kept.
    Nothing in a run depends on the thread count but the order of
    floating-point sums.

    Args:
        jobs: The number of worker processes.
    """
    threads = str(max(1, (os.cpu_count() or 1) // jobs))
    added = [name for name in THREAD_VARIABLES if name not in os.environ]
    for name in added:
        os.environ[name] = threads
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


@contextlib.contextmanager
def _workers_stderr_silenced():
    """Starts worker processes with their stderr on the null device.

    Each worker imports TensorFlow, whose C++ start-up lines go to file
    descriptor 2 before any Python setting can stop them. Workers are
    started while the pool receives its tasks, and keep the stderr they were
    started with; their errors still reach this process as exceptions.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # No real descriptor 2: nothing to hide.
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _run_tasks(table, tasks, jobs, repeats, start, progress, best_report,
               report_direction, saved):
    """Runs `(label, ...)` tasks; returns `{label: [RunResult, ...]}`.

    Tasks whose run `saved` holds are loaded instead; new runs are saved.
    """
    runs = {}

    def finished(result, loaded=False):
        if not loaded:
            saved.save(result)
        runs.setdefault(result.strategy, []).append(result)
        done = runs[result.strategy]
        if len(done) == repeats and progress is not None:
            done.sort(key=lambda run: run.seed)
            progress(
                StrategyResult(result.strategy, done, best_report, report_direction),
                time.perf_counter() - start,
            )

    pending = []
    for task in tasks:
        result = saved.load(task[0], task[3])
        if result is None:
            pending.append(task)
        else:
            finished(result, loaded=True)
    tasks = pending
    if jobs == 1:
        for task in tasks:
            finished(_run_task(task, table))
    else:
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(
            max_workers=jobs, mp_context=context, initializer=_init_worker,
            initargs=(table,),
        ) as pool:
            with _workers_stderr_silenced(), worker_threads_limited(jobs):
                futures = [pool.submit(_run_task, task) for task in tasks]
            try:
                for future in concurrent.futures.as_completed(futures):
                    finished(future.result())
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    for done in runs.values():
        done.sort(key=lambda run: run.seed)
    return runs


class SavedRuns:
    """The finished runs of a benchmark kept in a folder, one JSON per run.

    Args:
        folder: The folder, or `None` to keep nothing.
        settings: What a run depends on besides its strategy and seed
            (table, budget, metrics, ...); a saved run with other settings
            is refused rather than mixed in.
    """

    def __init__(self, folder, settings):
        self.folder = folder
        self.settings = settings
        if folder is not None:
            os.makedirs(folder, exist_ok=True)

    def _path(self, strategy, seed):
        return os.path.join(self.folder, f"{strategy}-{seed}.json")

    def load(self, strategy, seed):
        """The saved run of `strategy` and `seed`, or `None`.

        Raises:
            ValueError: If the saved run was made with other settings.
        """
        if self.folder is None or not os.path.isfile(self._path(strategy, seed)):
            return None
        with open(self._path(strategy, seed)) as f:
            data = json.load(f)
        if data["settings"] != self.settings:
            raise ValueError(
                f"Received an invalid value for `results_dir`: "
                f"{self._path(strategy, seed)} was saved with settings "
                f"{data['settings']}, not {self.settings}."
            )
        return run_from_dict(
            strategy, data["run"], self.settings["direction"],
            self.settings["budget"],
        )

    def save(self, run):
        """Writes one finished run (atomically)."""
        if self.folder is None:
            return
        write_json_atomically(
            self._path(run.strategy, run.seed),
            {"settings": self.settings, "run": run_to_dict(run)},
        )
