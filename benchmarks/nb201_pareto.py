"""Multi-objective strategies on NAS-Bench-201 and on a synthetic landscape.

Two objectives, searched together, each run scored by its hypervolume
regret (`keras_nas.bench.pareto`: 100 x (1 - HV of the queried points / HV
of the table's Pareto front), objectives normalised to [0, 1] over the
table, reference point 1.1), mean ± standard error over seeds, every
strategy with its default settings:

- `nb201`: the NB201 CIFAR-10 table, validation accuracy (max) against the
  network's parameters (min), computed analytically by `nb201_costs.py`
  (`--cost flops` for the FLOPs, `--cost latency` for the batch-1
  latency that `nb201_latency.py` estimated, read from `--latency-csv`).
- `synthetic`: the same 15,625 cells with an additive score (a random
  weight per edge and operation) against an additive cost that conflicts
  with it (each weight plus noise: the better an operation, the dearer),
  drawn once from `--landscape-seed`.

Usage:
    python benchmarks/nb201_pareto.py [--landscape nb201|synthetic|both]
        [--repeats 20] [--seed 0] [--budget 100] [--strategies nsga2,...]
        [--cost params|flops|latency] [--latency-csv nb201_latency.csv]
        [--jobs 1] [--results-dir DIR] [--json PREFIX]

The comparison always holds our `random` search and Optuna's
`optuna_nsga2` and `optuna_motpe`. With `--results-dir`, each finished run
is kept (one folder per landscape) and the same command resumes.
"""

import argparse
import csv
import os
import sys

import numpy as np

from keras_nas import bench
from keras_nas.spaces import NB201Cell
from keras_nas.spaces.nb201 import OPERATIONS
from nb201_costs import network_costs

STRATEGIES = ["nsga2", "evolution", "genetic", "neat", "bayesian", "dls",
              "reinforce", "q_learning"]


def nb201_table(path, cost, latency_csv=None):
    """The NB201 table with the analytic `params` and `flops` of each cell.

    With `latency_csv` (written by `nb201_latency.py`), its `latency_ms`
    of each cell too, as the metric `latency`.
    """
    table = bench.Table.from_csv(path)
    space = NB201Cell((32, 32, 3), 10)
    architectures = [table.architecture(row) for row in range(len(table))]
    arch_strs = [space.to_arch_str(values) for values in architectures]
    costs = np.array([network_costs(a) for a in arch_strs], dtype=np.float64)
    metrics = {"val_acc": table.column("val_acc"),
               "params": costs[:, 0], "flops": costs[:, 1]}
    if latency_csv is not None:
        with open(latency_csv, newline="") as f:
            latency = {row["arch_str"]: float(row["latency_ms"])
                       for row in csv.DictReader(f)}
        metrics["latency"] = np.array([latency[a] for a in arch_strs])
    return bench.Table(table.hyperparameters, architectures, metrics,
                       structure=table.structure,
                       name=f"{os.path.basename(path)} + {cost}")


def synthetic_table(path, seed):
    """An additive score against a conflicting additive cost, on the NB201 cells."""
    table = bench.Table.from_csv(path)
    rng = np.random.default_rng(seed)
    architectures = [table.architecture(row) for row in range(len(table))]
    edges = sorted(architectures[0])
    weights = rng.normal(size=(len(edges), len(OPERATIONS)))
    prices = weights + 0.5 * rng.normal(size=weights.shape)
    index = {op: i for i, op in enumerate(OPERATIONS)}
    chosen = np.array([[index[values[e]] for e in edges] for values in architectures])
    rows = np.arange(len(edges))
    score = weights[rows, chosen].sum(axis=1)
    cost = prices[rows, chosen].sum(axis=1)
    return bench.Table(table.hyperparameters, architectures,
                       {"score": score, "cost": cost}, structure=table.structure,
                       name=f"synthetic (landscape seed {seed})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default="../shared/data/nb201_cifar10_12ep.csv")
    parser.add_argument("--landscape", default="both",
                        choices=("nb201", "synthetic", "both"))
    parser.add_argument("--cost", default="params",
                        choices=("params", "flops", "latency"))
    parser.add_argument("--latency-csv", default="nb201_latency.csv",
                        help="nb201_latency.py's output, for --cost latency")
    parser.add_argument("--landscape-seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0, help="the first seed")
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--results-dir", default=None)
    parser.add_argument("--json", default=None, metavar="PREFIX")
    args = parser.parse_args()
    landscapes = ["nb201", "synthetic"] if args.landscape == "both" else [args.landscape]
    for landscape in landscapes:
        if landscape == "nb201":
            table = nb201_table(args.table, args.cost, args.latency_csv
                                if args.cost == "latency" else None)
            searched = ["val_acc", args.cost]
        else:
            table = synthetic_table(args.table, args.landscape_seed)
            searched = ["score", "cost"]
        folder = (os.path.join(args.results_dir, landscape)
                  if args.results_dir else None)
        result = bench.run_benchmark(
            table,
            args.strategies.split(","),
            budget=args.budget,
            repeats=args.repeats,
            seed=args.seed,
            search_metric=searched,
            search_direction=["max", "min"],
            jobs=args.jobs,
            progress=lambda s, elapsed: print(
                f"{s.name}: {s.seconds:.1f} s ({elapsed:.1f} s elapsed)",
                file=sys.stderr, flush=True,
            ),
            command="python " + " ".join(sys.argv),
            results_dir=folder,
        )
        print(bench.format_comparison(result))
        if args.json:
            bench.to_json(result, f"{args.json}-{landscape}.json")


if __name__ == "__main__":
    main()
