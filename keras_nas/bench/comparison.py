"""Compares strategies on a `Table` over many seeds: `run_benchmark`."""

import dataclasses
import shutil
import tempfile
import time

import keras_tuner as kt

from keras_nas import validation
from keras_nas.bench import baselines as baselines_module
from keras_nas.bench.driver import MISSING_POLICIES
from keras_nas.bench.driver import check_report
from keras_nas.bench.driver import check_search
from keras_nas.bench.driver import resolve_factory
from keras_nas.bench.parallel import run_tasks
from keras_nas.bench.pareto import HypervolumeScale
from keras_nas.bench.results import BenchmarkResult
from keras_nas.bench.results import StrategyResult
from keras_nas.bench.results import check_direction
from keras_nas.bench.results import infer_direction
from keras_nas.bench.saved_runs import SavedRuns
from keras_nas.bench.table import Table

SEARCH_METRICS = ("val_acc", "val_accuracy", "valid_acc", "valid_accuracy",
                  "validation_accuracy")
"""Default search metrics, in order of preference."""

REPORT_METRICS = ("test_acc", "test_accuracy")
"""Default report metrics, in order of preference."""

HV_REGRET = "hv_regret"
"""What a benchmark of several search metrics reports: the hypervolume regret."""


def default_metrics(table, search_metric=None, report_metric=None):
    """Resolves the search and report metrics of a table.

    The search metric defaults to the validation accuracy (`val_acc`, or a
    name of `SEARCH_METRICS`; the only metric of a one-metric table), the
    report metric to the test accuracy (`test_acc` or `test_accuracy`; else
    the search metric): the NAS-Bench-201 protocol searches on validation
    accuracy and reports the test accuracy of the pick. Several search
    metrics (a list) report their hypervolume regret: no report metric.

    Args:
        table: A `Table`.
        search_metric: A metric name, a list of names, or `None` for the
            default.
        report_metric: A metric name, or `None` for the default.

    Returns:
        A tuple `(search_metric, report_metric)`; `report_metric` is `None`
        for several search metrics.

    Raises:
        ValueError: If a metric is unknown, there is no default, or a report
            metric is given for several search metrics.
    """
    if isinstance(search_metric, (list, tuple)):
        search_metric, _ = check_search(table, search_metric)
        if not isinstance(search_metric, str):
            return search_metric, check_report(table, search_metric, report_metric, None)
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


def _strategy_factories(table, strategies, baselines, several):
    """Returns `{label: factory}` for names or a `{label: factory}` dict."""
    if isinstance(strategies, dict):
        factories = dict(strategies)
        for label, factory in factories.items():
            if isinstance(factory, str):
                baselines_module.check_strategy(factory, several)
                factories[label] = resolve_factory(table, factory)[1]
        for name in baselines_module.check_baselines(baselines, several):
            factories.setdefault(
                name, baselines_module.oracle_factory(name, table.hyperparameters)
            )
        return factories
    names = baselines_module.comparison_strategies(strategies, baselines, several)
    return {
        name: baselines_module.oracle_factory(name, table.hyperparameters)
        for name in names
    }


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
    run_progress=None,
):
    """Compares strategies on a table over several seeds.

    Each strategy runs `repeats` times, with seeds `seed`, `seed + 1`, ...
    By default the comparison also holds our `random` search, KerasTuner's
    `kt_random`, and `optuna_tpe` when Optuna is installed, all from the
    same call; `baselines="all"` adds KerasTuner's slow `kt_bayesian` (see
    `keras_nas.bench.baselines.check_baselines`).

    Several search metrics (a list) make a multi-objective benchmark: each
    strategy gets a list objective, each run is scored by the hypervolume
    regret of its queries (`keras_nas.bench.pareto`), reported as the
    result's `hv_regret` metric (a percentage, 0 at best), and the
    baselines are our `random` search, and Optuna's `optuna_nsga2` and
    `optuna_motpe` when Optuna is installed (KerasTuner's oracles cannot
    score a list objective).

    Args:
        table: A `Table`, or the path of a CSV file for `Table.from_csv`.
        strategies: Strategy names, or a dict from label to a strategy name
            or a picklable `(objective, max_trials, seed) -> Oracle` callable.
        budget: Queries per run.
        repeats: Seeds per strategy.
        seed: The first seed.
        search_metric: The metric searched on (default: `val_acc`), or a
            list of metrics.
        report_metric: The metric reported for the pick (default:
            `test_acc`, else the search metric); `None` for several search
            metrics.
        search_direction: `"max"` or `"min"` (a list, for several search
            metrics), inferred from the name if `None`.
        report_direction: `"max"` or `"min"`, inferred from the name if
            `None`; gives the sign of the regret. Unused for several search
            metrics.
        baselines: The baselines to add: `True` (the default set), `False`
            or `"none"`, `"all"`, or a list of names (`random` is always
            among them); see `keras_nas.bench.baselines.check_baselines`.
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
        run_progress: Optional callable `(RunResult, elapsed_seconds)`,
            called as each run (one strategy and seed) ends; runs loaded
            from `results_dir` are not reported.

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
    seed = validation.check_non_negative_int("seed", seed)
    missing = validation.check_one_of("missing", missing, MISSING_POLICIES)
    search_metric, report_metric = default_metrics(
        table, search_metric, report_metric
    )
    search_metric, search_direction = check_search(
        table, search_metric, search_direction
    )
    several = not isinstance(search_metric, str)
    factories = _strategy_factories(table, strategies, baselines, several)
    scale = None
    if several:
        scale = HypervolumeScale.from_table(
            table, [kt.Objective(*pair) for pair in zip(search_metric, search_direction)]
        )
        # Each run's curve is its regret already: the best is 0, minimised.
        best_report = best_search_report = 0.0
        report_direction = "min"
    else:
        report_direction = check_direction(
            "report_direction", report_direction or infer_direction(report_metric)
        )
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
    }, scale)
    try:
        task_settings = {**settings, "scale": scale} if several else settings
        tasks = [
            (label, factory, budget, seed + r, task_settings, directory)
            for label, factory in factories.items()
            for r in range(repeats)
        ]
        runs = _run_or_load(table, tasks, jobs, repeats, start,
                            (progress, run_progress), best_report,
                            report_direction, saved)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return BenchmarkResult(
        strategies={
            label: StrategyResult(label, runs[label], best_report, report_direction)
            for label in factories
        },
        table=table.name,
        rows=len(table),
        search_metric=",".join(search_metric) if several else search_metric,
        report_metric=HV_REGRET if several else report_metric,
        search_direction=(
            ",".join(search_direction) if several else search_direction
        ),
        report_direction=report_direction,
        budget=budget,
        repeats=repeats,
        seed=seed,
        best_report=best_report,
        best_search_report=best_search_report,
        seconds=time.perf_counter() - start,
        command=command,
        pareto=dataclasses.asdict(scale) if several else None,
    )


def _run_or_load(table, tasks, jobs, repeats, start, progress, best_report,
                 report_direction, saved):
    """Runs `(label, ...)` tasks; returns `{label: [RunResult, ...]}`.

    Tasks whose run `saved` holds are loaded instead; new runs are saved.
    Each label's runs are sorted by seed. `progress` is a pair of optional
    callables: per strategy, and per new run.
    """
    runs = {}
    progress, run_progress = progress

    def finished(result, loaded=False):
        if not loaded:
            saved.save(result)
            if run_progress is not None:
                run_progress(result, time.perf_counter() - start)
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
    run_tasks(table, pending, jobs, finished)
    for done in runs.values():
        done.sort(key=lambda run: run.seed)
    return runs
