"""`keras-nas bench`: compare strategies on a tabular benchmark."""

import importlib
import importlib.util
import os
import shlex
import time

import click

MISSING_POLICIES = ("error", "fail")

SLOW_RUN_SECONDS = 5.0
"""A run that takes longer is reported as it ends, seed by seed."""


def _positive(option, value):
    if value < 1:
        raise click.BadParameter(
            f"expected a positive integer, received {value}.", param_hint=option
        )


def _writable(option, path):
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise click.BadParameter(
            f"folder {folder} does not exist.", param_hint=option
        )


def _load_space(spec):
    """Imports `MODULE:NAME`: a space, or a callable returning one."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise click.BadParameter(
            f"expected MODULE:NAME, received {spec!r}.", param_hint="--space"
        )
    try:
        space = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise click.BadParameter(
            f"cannot import {spec!r}: {error}", param_hint="--space"
        ) from None
    if isinstance(space, type) or not hasattr(space, "declare_hyperparameters"):
        if not callable(space):
            raise click.BadParameter(
                f"{spec!r} is neither a space nor a callable returning one.",
                param_hint="--space",
            )
        try:
            space = space()
        except (TypeError, ValueError) as error:
            raise click.BadParameter(
                f"calling {spec!r} with no arguments failed: {error}",
                param_hint="--space",
            ) from None
    return space


def _parse_search(spec):
    """`NAME[:max|min][,NAME[:max|min]...]` into names and directions.

    Returns:
        `(None, None)` for `None`; `(name, direction)` for one metric;
        `(names, directions)` lists for several. A direction not given is
        `None` (inferred from the name later).
    """
    if spec is None:
        return None, None
    names, directions = [], []
    for item in spec.split(","):
        item = item.strip()
        name, colon, direction = item.rpartition(":")
        if not colon or direction not in ("max", "min"):
            name, direction = item, None
        if not name:
            raise click.BadParameter(
                f"expected NAME[:max|min][,NAME[:max|min]...], received {spec!r}.",
                param_hint="--search-metric",
            )
        names.append(name)
        directions.append(direction)
    if len(names) == 1:
        return names[0], directions[0]
    return names, directions


def _check_baselines(benchmark, spec, several):
    """The baseline names of `--baselines`; a one-line error otherwise."""
    choices = benchmark.baselines.BASELINE_CHOICES
    if spec not in choices:
        valid = ("random",) + benchmark.BASELINES
        for name in (name.strip() for name in spec.split(",")):
            if name not in valid:
                raise click.BadParameter(
                    f"expected {', '.join(choices)} or comma-separated names "
                    f"among {', '.join(valid)}; received {spec!r}.",
                    param_hint="--baselines",
                )
            reason = benchmark.baselines.unfit_reason(name, several)
            if reason is not None:
                raise click.BadParameter(f"{reason}; received {spec!r}.",
                                         param_hint="--baselines")
    return benchmark.baselines.check_baselines(spec, several)


def _search_spec(names, directions):
    """The `--search-metric` text of resolved metrics and directions."""
    if isinstance(names, str):
        return names if directions is None else f"{names}:{directions}"
    return ",".join(f"{n}:{d}" for n, d in zip(names, directions))


def _command_line(ctx, values):
    """The command line that reproduces this benchmark."""
    always = ("table", "strategy", "budget", "repeats", "seed", "search_metric",
              "report_metric")
    words = ["keras-nas", "bench"]
    for param in ctx.command.params:
        name = param.name
        value = values.get(name, ctx.params.get(name))
        source = ctx.get_parameter_source(name)
        given = source is not None and source.name == "COMMANDLINE"
        if value is None or (name not in always and not given):
            continue
        words += [param.opts[0], str(value)]
    return " ".join(shlex.quote(word) for word in words)


@click.command()
@click.option("--table", required=True, type=click.Path(),
              help="CSV of architectures and metrics (NAS-Bench-201 layout: an "
                   "arch_str column).")
@click.option("--strategy", default="random", show_default=True,
              help="Comma-separated strategies, compared with --baselines.")
@click.option("--baselines", default="default", show_default=True,
              help="Baselines added to the strategies: 'default' (random, "
                   "kt_random, and optuna_tpe when Optuna is installed; with "
                   "several search metrics random, and optuna_nsga2 and "
                   "optuna_motpe when Optuna is installed), 'all' (the "
                   "default and KerasTuner's slow kt_bayesian), 'none', or "
                   "comma-separated names (random, the reference of the "
                   "'vs random' column, is always added).")
@click.option("--budget", default=100, show_default=True, type=int,
              help="Queries per run.")
@click.option("--repeats", default=10, show_default=True, type=int,
              help="Seeds per strategy.")
@click.option("--seed", default=0, show_default=True, type=int,
              help="First seed; run r uses SEED + r.")
@click.option("--search-metric", default=None,
              help="Metric searched on, NAME or NAME:max|min [default: val_acc, "
                   "or another name of the validation accuracy]. Several, "
                   "comma-separated (val_acc:max,params:min), search for a "
                   "Pareto front and report the hypervolume regret.")
@click.option("--report-metric", default=None,
              help="Metric reported for the pick of one search metric "
                   "[default: test_acc, else the search metric].")
@click.option("--space", default=None,
              help="MODULE:NAME of the search space, for a table with one "
                   "column per hyperparameter [default: NB201Cell].")
@click.option("--skip-outside", is_flag=True,
              help="Skip rows whose architecture is not in the space.")
@click.option("--missing", default="error", show_default=True,
              type=click.Choice(MISSING_POLICIES),
              help="A proposal the table lacks: stop with an error, or fail "
                   "its trial.")
@click.option("--jobs", default=1, show_default=True, type=int,
              help="Processes running seeds in parallel.")
@click.option("--plot", default=None, type=click.Path(),
              help="Save the regret curves to this PNG.")
@click.option("--json", "json_path", default=None, type=click.Path(),
              help="Save the result (summaries and curves) to this JSON file.")
@click.option("--results-dir", default=None, type=click.Path(),
              help="Keep each finished run here; the same command started "
                   "again resumes from them.")
@click.pass_context
def bench(ctx, table, strategy, baselines, budget, repeats, seed, search_metric,
          report_metric, space, skip_outside, missing, jobs, plot, json_path,
          results_dir):
    """Compare search strategies on a table of architectures, no training."""
    for option, value in (("--budget", budget), ("--repeats", repeats),
                          ("--jobs", jobs)):
        _positive(option, value)
    if seed < 0:
        raise click.BadParameter(
            f"expected a non-negative integer, received {seed}.",
            param_hint="--seed",
        )
    if not os.path.isfile(table):
        raise click.BadParameter(f"no such file: {table}", param_hint="--table")
    _writable("--plot", plot)
    _writable("--json", json_path)
    if plot is not None and importlib.util.find_spec("matplotlib") is None:
        raise click.UsageError(
            '--plot needs Matplotlib: pip install "keras-nas[bench]"'
        )
    requested = [name.strip() for name in strategy.split(",") if name.strip()]
    if not requested:
        raise click.BadParameter("expected at least one name.",
                                 param_hint="--strategy")

    from keras_nas_cli.common import import_keras_nas

    import_keras_nas()
    from keras_nas import bench as benchmark

    names, directions = _parse_search(search_metric)
    several = isinstance(names, list)
    given = directions  # For one metric, the direction in the command line.
    if several and report_metric is not None:
        raise click.BadParameter(
            "a search of several metrics reports the hypervolume regret of its "
            "queries, not a report metric.", param_hint="--report-metric",
        )
    for name in requested:
        if name not in benchmark.strategy_names():
            raise click.BadParameter(
                f"{name!r} is not one of {', '.join(benchmark.strategy_names())}.",
                param_hint="--strategy",
            )
        reason = benchmark.baselines.unfit_reason(name, several)
        if reason is not None:
            raise click.BadParameter(f"{reason}.", param_hint="--strategy")
    added = _check_baselines(benchmark, baselines, several)
    search_space = _load_space(space) if space is not None else None
    try:
        data = benchmark.Table.from_csv(table, space=search_space,
                                        skip_outside=skip_outside)
    except (ValueError, TypeError, FileNotFoundError) as error:
        message = str(error).replace("skip_outside=True", "--skip-outside")
        raise click.BadParameter(message, param_hint="--table") from None
    try:
        names, report_metric = benchmark.default_metrics(
            data, names, report_metric
        )
        names, directions = benchmark.check_search(data, names, directions)
    except ValueError as error:
        option = "--report-metric" if "report_metric" in str(error) else (
            "--search-metric"
        )
        raise click.BadParameter(str(error), param_hint=option) from None
    command = _command_line(ctx, {"table": table, "strategy": strategy,
                                  "search_metric": _search_spec(
                                      names, directions if several else given),
                                  "report_metric": report_metric})
    click.echo(
        f"{len(data)} architectures from {table}"
        + (f" ({data.skipped} rows outside the space skipped)" if data.skipped
           else ""),
        err=True,
    )

    def progress(result, elapsed):
        click.echo(
            f"{result.name}: {len(result.runs)} seeds, {result.seconds:.1f} s "
            f"({elapsed:.1f} s elapsed)",
            err=True,
        )

    def run_progress(run, elapsed):
        if run.seconds >= SLOW_RUN_SECONDS:
            click.echo(
                f"{run.strategy} seed {run.seed}: {run.seconds:.1f} s "
                f"({elapsed:.1f} s elapsed)",
                err=True,
            )

    try:
        result = benchmark.run_benchmark(
            data, requested, budget=budget, repeats=repeats, seed=seed,
            search_metric=names, report_metric=report_metric,
            search_direction=directions, baselines=added,
            missing=missing, jobs=jobs, progress=progress, command=command,
            results_dir=results_dir, run_progress=run_progress,
        )
    except benchmark.ArchitectureNotInTable as error:
        raise click.UsageError(
            str(error).replace("missing='fail'", "--missing fail")
        ) from None
    except ImportError as error:
        raise click.UsageError(str(error)) from None
    except ValueError as error:
        if "results_dir" not in str(error):
            raise
        raise click.BadParameter(str(error), param_hint="--results-dir") from None
    click.echo(benchmark.format_comparison(result), nl=False)
    if json_path is not None:
        benchmark.to_json(result, json_path)
        click.echo(f"Saved the result to {json_path}.", err=True)
    if plot is not None:
        started = time.perf_counter()
        benchmark.save_regret_plot(result, plot)
        click.echo(f"Saved the regret curves to {plot} "
                   f"({time.perf_counter() - started:.1f} s).", err=True)
