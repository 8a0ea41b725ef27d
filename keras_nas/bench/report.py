"""A benchmark's comparison as text, JSON and a regret plot."""

import json
import math
import os

import numpy as np

from keras_nas.bench.pareto import HypervolumeScale
from keras_nas.bench.results import BenchmarkResult
from keras_nas.bench.results import StrategyResult
from keras_nas.bench.results import run_from_dict
from keras_nas.bench.results import run_to_dict

REFERENCE = "random"
"""The strategy every other is compared with."""


def _fmt(value, digits=3):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def format_comparison(result, digits=3):
    """The comparison table of a benchmark, as plain text.

    One row per strategy, best mean pick first. Columns: the number of
    seeds; the mean and standard deviation over seeds of the report metric
    of each run's pick; its standard error; the mean regret after the last
    query (best report metric in the table minus the pick's); the difference
    of the mean with our `random` search and whether it exceeds random's
    standard error; the mean number of repeated queries per run; the wall
    time of all seeds. With several search metrics the mean is that of the
    hypervolume regret after the last query, and there is no pick regret.

    Args:
        result: A `BenchmarkResult`.
        digits: Decimals of the metric columns.

    Returns:
        A string of lines, ending with a newline.
    """
    lines = []
    if result.command:
        lines.append(f"$ {result.command}")
    seeds = (f"{result.budget} queries, {result.repeats} seeds "
             f"({result.seed}..{result.seed + result.repeats - 1})")
    several = result.pareto is not None
    if several:
        searched = ", ".join(
            f"{name} ({direction})" for name, direction in
            zip(result.pareto["names"], result.pareto["directions"])
        )
        lines.append(
            f"table {result.table}: {result.rows} architectures; Pareto front "
            f"of {searched}: {result.pareto['front_size']} architectures"
        )
        lines.append(
            f"search on {searched}, report the hypervolume regret (%) of the "
            f"queried architectures; {seeds}"
        )
    else:
        lines.append(
            f"table {result.table}: {result.rows} architectures; best "
            f"{result.report_metric} {_fmt(result.best_report, digits)}, "
            f"{result.report_metric} of the best {result.search_metric} "
            f"{_fmt(result.best_search_report, digits)}"
        )
        lines.append(
            f"search on {result.search_metric} ({result.search_direction}), "
            f"report {result.report_metric} of the pick; {seeds}"
        )
    reference = result.strategies.get(REFERENCE)
    header = ["strategy", "seeds", f"{result.report_metric} mean ± std", "SE",
              "regret", f"vs {REFERENCE}", "> SE", "repeats", "seconds", "cpu s"]
    if several:
        header.remove("regret")
    rows = []
    for strategy in result.ranked():
        diff = beyond = "-"
        if reference is not None and strategy is not reference:
            delta = strategy.mean - reference.mean
            diff = f"{delta:+.{digits}f}"
            beyond = "yes" if abs(delta) > reference.sem else "no"
        rows.append([
            strategy.name,
            str(len(strategy.runs)),
            f"{_fmt(strategy.mean, digits)} ± {_fmt(strategy.std, digits)}",
            _fmt(strategy.sem, digits),
            *([] if several else [_fmt(strategy.final_regret, digits)]),
            diff,
            beyond,
            f"{strategy.repeated:.1f}",
            f"{strategy.seconds:.1f}",
            f"{strategy.cpu_seconds:.1f}",
        ])
    widths = [max(len(row[i]) for row in [header] + rows)
              for i in range(len(header))]
    def line(cells):
        first = cells[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:])]
        return "  ".join([first] + rest).rstrip()

    lines.append(line(header))
    lines.append(line(["-" * width for width in widths]))
    lines.extend(line(row) for row in rows)
    if several:
        measure = (
            f"{result.report_metric}: 100 x (1 - hypervolume of the queried "
            "architectures / hypervolume of the table's Pareto front) after "
            f"{result.budget} queries, each objective normalised to [0, 1] "
            "over the table and minimised, reference point "
            f"{result.pareto['reference']}"
        )
    else:
        measure = (
            f"regret: best {result.report_metric} in the table minus the "
            f"pick's, mean after {result.budget} queries"
        )
    lines.append(
        f"{measure}; > SE: |mean - {REFERENCE}'s mean| exceeds {REFERENCE}'s "
        "standard error; repeats: queries of an architecture already queried, "
        "per run; seconds, cpu s: wall and processor time of all seeds."
    )
    return "\n".join(lines) + "\n"


def to_dict(result):
    """A JSON-safe dict of a benchmark's settings, summaries and curves."""

    def number(value):
        return None if math.isnan(value) else float(value)

    def floats(array):
        return [number(v) for v in np.asarray(array, dtype=np.float64)]

    return {
        "command": result.command,
        "table": result.table,
        "rows": result.rows,
        "search_metric": result.search_metric,
        "report_metric": result.report_metric,
        "search_direction": result.search_direction,
        "report_direction": result.report_direction,
        "budget": result.budget,
        "repeats": result.repeats,
        "seed": result.seed,
        "best_report": number(result.best_report),
        "best_search_report": number(result.best_search_report),
        "seconds": result.seconds,
        "pareto": result.pareto,
        "strategies": {
            name: {
                "seeds": strategy.seeds,
                "picks": floats(strategy.picks),
                "mean": number(strategy.mean),
                "std": number(strategy.std),
                "sem": number(strategy.sem),
                "final_regret": number(strategy.final_regret),
                "mean_curve": floats(strategy.mean_curve),
                "regret_curve": floats(strategy.regret_curve),
                "regret_sem_curve": floats(strategy.regret_sem_curve),
                "queries": strategy.queries,
                "repeated": strategy.repeated,
                "seconds": strategy.seconds,
                "cpu_seconds": strategy.cpu_seconds,
                "runs": [run_to_dict(run) for run in strategy.runs],
            }
            for name, strategy in result.strategies.items()
        },
    }


def from_dict(data):
    """Rebuilds a `BenchmarkResult` from `to_dict`'s output (or its JSON)."""

    strategies = {}
    pareto = data.get("pareto")
    scale = HypervolumeScale(**pareto) if pareto else None
    for name, entry in data["strategies"].items():
        runs = [
            run_from_dict(name, run, data["search_direction"], data["budget"],
                          scale)
            for run in entry["runs"]
        ]
        strategies[name] = StrategyResult(
            name, runs, data["best_report"], data["report_direction"]
        )
    fields = {key: data[key] for key in (
        "table", "rows", "search_metric", "report_metric", "search_direction",
        "report_direction", "budget", "repeats", "seed", "best_report",
        "best_search_report", "seconds", "command")}
    return BenchmarkResult(strategies=strategies, pareto=pareto, **fields)


def read_json(path):
    """Reads a `BenchmarkResult` saved by `to_json`."""
    with open(path) as f:
        return from_dict(json.load(f))


def to_json(result, path=None):
    """Writes (or returns) a benchmark result as JSON.

    Args:
        result: A `BenchmarkResult`.
        path: Optional file to write.

    Returns:
        The JSON text.
    """
    text = json.dumps(to_dict(result), indent=2, allow_nan=False)
    if path is not None:
        with open(path, "w") as f:
            f.write(text + "\n")
    return text


def save_regret_plot(result, path, title=None):
    """Plots the mean regret against the number of queries, one line each.

    The y axis is logarithmic (symmetric-log when a regret reaches 0); the
    shaded band is one standard error of the mean over seeds. A dashed line
    marks the regret of a perfect search, which picks the table's best
    architecture by the search metric. With several search metrics the
    curves are the hypervolume regret, whose perfect search has none.

    Args:
        result: A `BenchmarkResult`.
        path: The image file to write (`.png`, or any format Matplotlib
            knows from the suffix).
        title: Optional title; defaults to the table and metrics.

    Returns:
        The path written.

    Raises:
        ImportError: If Matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(
            "Saving the regret plot needs Matplotlib. Install it with: "
            'pip install "keras-nas[bench]"'
        ) from None
    path = os.fspath(path)
    queries = np.arange(1, result.budget + 1)
    figure, axes = plt.subplots(figsize=(7, 4.5))
    curves = {s.name: s.regret_curve for s in result.ranked()}
    values = np.concatenate([c[~np.isnan(c)] for c in curves.values()])
    positive = values[values > 0]
    log = positive.size > 0 and not (values <= 0).any()
    if log:
        axes.set_yscale("log")
    elif positive.size:
        axes.set_yscale("symlog", linthresh=float(positive.min()))
    for strategy in result.ranked():
        mean = curves[strategy.name]
        sem = strategy.regret_sem_curve
        lower = mean - sem
        if log:  # A band reaching 0 would stretch a log axis to nowhere.
            lower = np.maximum(lower, mean / 10)
        (line,) = axes.plot(queries, mean, label=strategy.name, linewidth=1.5,
                            drawstyle="steps-post")
        axes.fill_between(queries, lower, mean + sem, step="post",
                          color=line.get_color(), alpha=0.2, linewidth=0)
    floor = result.best_report - result.best_search_report
    if result.report_direction == "min":
        floor = -floor
    if result.pareto is None and (floor > 0 or not log):
        # A perfect search picks the best search metric: its regret remains.
        axes.axhline(floor, color="gray", linestyle="--", linewidth=1,
                     label=f"perfect search (best {result.search_metric})")
    axes.set_xlabel("queries")
    axes.set_ylabel("hypervolume regret (%)" if result.pareto is not None
                    else f"regret of the pick's {result.report_metric}")
    axes.set_title(title or (
        f"{os.path.basename(result.table)}: search {result.search_metric}, "
        f"report {result.report_metric} ({result.repeats} seeds, ± SE)"
    ))
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
