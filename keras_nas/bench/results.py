"""What a benchmark measured: one oracle run, one strategy, a comparison."""

import dataclasses
import math

import numpy as np


def infer_direction(metric):
    """`"min"` for metrics named like a loss, error, cost or size, else `"max"`.

    Args:
        metric: A metric name.
    """
    lowered = metric.lower()
    smaller_is_better = ("loss", "err", "latency", "time", "param", "flop",
                         "regret", "size", "memory", "cost")
    return "min" if any(word in lowered for word in smaller_is_better) else "max"


def check_direction(name, direction):
    """Checks `direction` is `"max"` or `"min"`; raises naming `name`."""
    if direction not in ("max", "min"):
        raise ValueError(
            f"Received an invalid value for `{name}`, expected 'max' or "
            f"'min'. Received: {name}={direction!r}"
        )
    return direction


def pick_curve(search, report, direction, budget=None):
    """The report metric of the pick after each query.

    The pick after `k` queries is the queried architecture with the best
    search metric among the first `k` (the first of equals); queries whose
    search metric is `nan` (failed) are never picked.

    Args:
        search: The search metric of each query, in order.
        report: The report metric of each query.
        direction: `"max"` or `"min"`: which search values are better.
        budget: Length of the curve; a run that stopped early keeps its last
            pick. Defaults to the number of queries.

    Returns:
        A float array of length `budget`, `nan` before the first pick.
    """
    search = np.asarray(search, dtype=np.float64)
    report = np.asarray(report, dtype=np.float64)
    budget = len(search) if budget is None else budget
    curve = np.full(budget, np.nan)
    best = None
    picked = np.nan
    for k in range(budget):
        if k < len(search) and not np.isnan(search[k]):
            better = (
                best is None
                or (search[k] > best if direction == "max" else search[k] < best)
            )
            if better:
                best, picked = search[k], report[k]
        curve[k] = picked
    return curve


@dataclasses.dataclass
class RunResult:
    """One oracle's run on a table.

    Attributes:
        strategy: The strategy's name.
        seed: The seed of the run.
        search: The search metric of each query (`nan` where it failed); a
            row of values per query for several search metrics.
        report: The report metric of each query (empty for several search
            metrics).
        curve: The report metric of the pick after each query, padded to
            the budget with the last pick when the oracle stopped early;
            for several search metrics, the hypervolume regret (see
            `keras_nas.bench.pareto`).
        queries: Number of queries made (below the budget if the oracle
            stopped).
        repeated: Queries of an architecture already queried in the run.
        seconds: Wall time of the run.
        cpu_seconds: Processor time of the run (its process only), which
            other work on a shared machine does not inflate.
    """

    strategy: str
    seed: int
    search: np.ndarray
    report: np.ndarray
    curve: np.ndarray
    queries: int
    repeated: int
    seconds: float
    cpu_seconds: float = 0.0

    @property
    def pick(self):
        """The report metric of the final pick (or the final regret)."""
        return float(self.curve[-1]) if len(self.curve) else math.nan


@dataclasses.dataclass
class StrategyResult:
    """The runs of one strategy over several seeds.

    Attributes:
        name: The strategy's name.
        runs: One `RunResult` per seed.
        best_report: The best report metric in the whole table.
        report_direction: `"max"` or `"min"`, for the regret's sign.
    """

    name: str
    runs: list
    best_report: float
    report_direction: str = "max"

    @property
    def seeds(self):
        return [run.seed for run in self.runs]

    @property
    def picks(self):
        """The report metric of each seed's final pick."""
        return np.array([run.pick for run in self.runs])

    @property
    def mean(self):
        return float(np.nanmean(self.picks))

    @property
    def std(self):
        """Sample standard deviation of the picks (0 for a single seed)."""
        picks = self.picks[~np.isnan(self.picks)]
        return float(np.std(picks, ddof=1)) if len(picks) > 1 else 0.0

    @property
    def sem(self):
        """Standard error of the mean pick."""
        count = int(np.sum(~np.isnan(self.picks)))
        return self.std / math.sqrt(count) if count else math.nan

    @property
    def curves(self):
        """Array `(seeds, budget)`: the pick's report metric per query."""
        return np.stack([run.curve for run in self.runs])

    @property
    def regrets(self):
        """Array `(seeds, budget)`: best report in the table minus the pick's."""
        gap = self.best_report - self.curves
        return gap if self.report_direction == "max" else -gap

    @property
    def mean_curve(self):
        return _nanmean(self.curves)

    @property
    def regret_curve(self):
        """Mean regret after each query."""
        return _nanmean(self.regrets)

    @property
    def regret_sem_curve(self):
        """Standard error of the mean regret after each query."""
        regrets = self.regrets
        count = np.sum(~np.isnan(regrets), axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            std = np.array([
                np.std(col[~np.isnan(col)], ddof=1) if n > 1 else 0.0
                for col, n in zip(regrets.T, count)
            ])
            return std / np.sqrt(np.maximum(count, 1))

    @property
    def final_regret(self):
        """Mean regret after the last query."""
        curve = self.regret_curve
        return float(curve[-1]) if len(curve) else math.nan

    @property
    def seconds(self):
        """Wall time of all runs, summed."""
        return float(sum(run.seconds for run in self.runs))

    @property
    def cpu_seconds(self):
        """Processor time of all runs, summed."""
        return float(sum(run.cpu_seconds for run in self.runs))

    @property
    def queries(self):
        """Mean number of queries per run."""
        return float(np.mean([run.queries for run in self.runs]))

    @property
    def repeated(self):
        """Mean number of repeated queries per run."""
        return float(np.mean([run.repeated for run in self.runs]))


def _nanmean(array):
    array = np.asarray(array, dtype=np.float64)
    count = np.sum(~np.isnan(array), axis=0)
    total = np.nansum(array, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


@dataclasses.dataclass
class BenchmarkResult:
    """A comparison of strategies on one table.

    Attributes:
        strategies: Dict from strategy name to `StrategyResult`, in run order.
        table: The table's name (its path).
        rows: Number of architectures in the table.
        search_metric: The metric strategies optimise.
        report_metric: The metric reported for their pick.
        search_direction: `"max"` or `"min"` for the search metric.
        report_direction: `"max"` or `"min"` for the report metric.
        budget: Queries per run.
        repeats: Seeds per strategy.
        seed: The first seed (seeds are `seed .. seed + repeats - 1`).
        best_report: Best report metric in the table.
        best_search_report: Report metric of the table's best architecture
            by the search metric (what a perfect search would report).
        seconds: Wall time of the whole benchmark.
        command: The command line that produced it, if any.
        pareto: For several search metrics, the fields of the table's
            `HypervolumeScale` (objectives, ranges, front size and
            hypervolume, reference); `None` for one. Then `search_metric`
            and `search_direction` join the metrics' names and directions
            with commas, `report_metric` is `"hv_regret"` (minimised, 0 at
            best), and the picks are each run's final regret.
    """

    strategies: dict
    table: str
    rows: int
    search_metric: str
    report_metric: str
    search_direction: str
    report_direction: str
    budget: int
    repeats: int
    seed: int
    best_report: float
    best_search_report: float
    seconds: float = 0.0
    command: str | None = None
    pareto: dict | None = None

    def __getitem__(self, name):
        return self.strategies[name]

    def ranked(self):
        """The strategies' results, best mean pick first."""
        sign = -1.0 if self.report_direction == "max" else 1.0
        return sorted(
            self.strategies.values(),
            key=lambda s: (math.isnan(s.mean), sign * s.mean if not
                           math.isnan(s.mean) else 0.0),
        )


def _number(value):
    return None if math.isnan(value) else float(value)


def _numbers(array):
    """Nested lists of floats, `None` for `nan`, of an array of any rank."""
    array = np.asarray(array, dtype=np.float64)
    if array.ndim > 1:
        return [_numbers(row) for row in array]
    return [_number(v) for v in array]


def run_to_dict(run):
    """A JSON-safe dict of one `RunResult` (its curve is recomputed on load)."""
    return {
        "seed": run.seed,
        "search": _numbers(run.search),
        "report": _numbers(run.report),
        "queries": run.queries,
        "repeated": run.repeated,
        "seconds": run.seconds,
        "cpu_seconds": run.cpu_seconds,
    }


def run_from_dict(strategy, data, search_direction, budget, scale=None):
    """Rebuilds a `RunResult` from `run_to_dict`'s output.

    Args:
        strategy: The strategy's name.
        data: The dict.
        search_direction: The search metric's direction (one metric).
        budget: The benchmark's budget.
        scale: The `HypervolumeScale` of several search metrics, else `None`.
    """

    def array(values):
        return np.array(values, dtype=np.float64)  # None becomes nan

    search, report = array(data["search"]), array(data["report"])
    if scale is None:
        curve = pick_curve(search, report, search_direction, budget)
    else:
        curve = scale.regret_curve(search, budget)
    return RunResult(
        strategy=strategy,
        seed=data["seed"],
        search=search,
        report=report,
        curve=curve,
        queries=data["queries"],
        repeated=data["repeated"],
        seconds=data["seconds"],
        cpu_seconds=data.get("cpu_seconds", 0.0),
    )
