"""Every tabular strategy against random search, on tables and synthetic landscapes.

Each strategy of `keras_nas.strategies.STRATEGIES` that runs on a table (all but
those that train before proposing, `needs_training_data`: `darts`) runs with
its defaults, beside our `random` search, on each landscape and budget, over
the same fixed seeds (`--seed`, `--seed + 1`, ...), through
`keras_nas.bench.run_benchmark`. Landscapes:

- `nb201`: the shared NB201 CIFAR-10 table, search on `val_acc`, report the
  `test_acc` of the pick (the NAS-Bench-201 protocol);
- `nb201-swapped`: the same table, search on `test_acc`, report `val_acc`;
- `additive`: the NB201 cells scored by one random weight per edge and
  operation, searched with noise (`keras_nas.bench.synthetic`, seed 0);
- `interacting`: the same plus pairwise weights of scale 0.5 (seed 1).

A strategy is ahead where its mean pick exceeds random search's by more than
the combined standard error, `sqrt(SE_strategy**2 + SE_random**2)`; the last
table says where each strategy is ahead, level or behind.

Usage:
    python benchmarks/strategies_vs_random.py [--table PATH] [--repeats 50]
        [--budgets 50,100] [--landscapes nb201,nb201-swapped,additive,interacting]
        [--strategies all|NAME,...] [--jobs 1] [--results-dir DIR]

With `--results-dir`, each finished run is kept (one folder per landscape
and budget) and the same command started again resumes.
"""

import argparse
import math
import os
import sys

from keras_nas import bench
from keras_nas.bench import synthetic
from keras_nas.strategies import STRATEGIES

LANDSCAPES = ("nb201", "nb201-swapped", "additive", "interacting")


def tabular_strategies():
    """The strategies that run on a table, `random` (the reference) left out."""
    return [name for name, cls in STRATEGIES.items()
            if not cls.needs_training_data and name != "random"]


def landscape(name, table):
    """`(table, search_metric, report_metric)` of a landscape."""
    if name == "nb201":
        return table, "val_acc", "test_acc"
    if name == "nb201-swapped":
        return table, "test_acc", "val_acc"
    interaction = {"additive": 0.0, "interacting": 0.5}[name]
    seed = {"additive": 0, "interacting": 1}[name]
    return (synthetic.landscape(table, seed=seed, interaction=interaction),
            synthetic.SEARCH_METRIC, synthetic.REPORT_METRIC)


def verdict(strategy, reference):
    """`(difference, combined SE, "ahead"|"level"|"behind")` against random."""
    delta = strategy.mean - reference.mean
    error = math.sqrt(strategy.sem ** 2 + reference.sem ** 2)
    if abs(delta) <= error:
        return delta, error, "level"
    return delta, error, "ahead" if delta > 0 else "behind"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default="../shared/data/nb201_cifar10_12ep.csv")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budgets", default="50,100")
    parser.add_argument("--landscapes", default=",".join(LANDSCAPES))
    parser.add_argument("--strategies", default="all")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--results-dir", default=None)
    args = parser.parse_args()
    names = (tabular_strategies() if args.strategies == "all"
             else args.strategies.split(","))
    landscapes = args.landscapes.split(",")
    for name in landscapes:
        if name not in LANDSCAPES:
            parser.error(f"--landscapes: {name!r} is not one of {LANDSCAPES}")
    table = bench.Table.from_csv(args.table)
    budgets = [int(b) for b in args.budgets.split(",")]
    command = "python " + " ".join(sys.argv)
    print(f"$ {command}")
    print(f"{args.repeats} seeds ({args.seed}..{args.seed + args.repeats - 1}); "
          "mean pick (report metric) ± SE; diff: mean - random's mean; "
          "z: diff / combined SE")
    summary = {}
    for name in landscapes:
        data, searched, reported = landscape(name, table)
        for budget in budgets:
            folder = (os.path.join(args.results_dir, f"{name}-{budget}")
                      if args.results_dir else None)
            result = bench.run_benchmark(
                data, names, budget=budget, repeats=args.repeats,
                seed=args.seed, search_metric=searched, report_metric=reported,
                baselines=["random"], jobs=args.jobs, results_dir=folder,
                command=command,
                progress=lambda s, elapsed: print(
                    f"{s.name}: {s.seconds:.1f} s ({elapsed:.1f} s elapsed)",
                    file=sys.stderr, flush=True),
            )
            reference = result["random"]
            print(f"\n{name}, {budget} queries: search {searched}, report "
                  f"{reported}; random {reference.mean:.3f} ± {reference.sem:.3f}")
            print(f"{'strategy':<12} {'mean ± SE':>17} {'diff':>8} {'z':>6}  verdict")
            for strategy in result.ranked():
                if strategy is reference:
                    continue
                delta, error, word = verdict(strategy, reference)
                summary.setdefault(strategy.name, {})[f"{name}@{budget}"] = word
                print(f"{strategy.name:<12} {strategy.mean:>9.3f} ± "
                      f"{strategy.sem:.3f} {delta:>+8.3f} "
                      f"{delta / error if error else math.inf:>+6.1f}  {word}",
                      flush=True)
    print("\nNot ahead everywhere:")
    for strategy, verdicts in sorted(summary.items()):
        missed = [where for where, word in verdicts.items() if word != "ahead"]
        if missed:
            print(f"  {strategy}: {', '.join(f'{w} ({verdicts[w]})' for w in missed)}")


if __name__ == "__main__":
    main()
