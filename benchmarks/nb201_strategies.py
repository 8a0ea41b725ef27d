"""Every keras-nas strategy against the baselines on a NAS-Bench-201 table.

Runs the NAS-Bench-201 protocol (search on val_acc, report the test_acc of the
pick) with `keras_nas.bench.run_benchmark`. KerasTuner's
BayesianOptimizationOracle is left out unless `--with-kt-bayesian` is given: it
takes minutes per seed on a 2-core machine (a GP refit with 20 optimizer
restarts and 50 L-BFGS restarts of the acquisition per query), which is also
why `keras-nas bench` adds it only with `--baselines all` (or by name).

Usage:
    python benchmarks/nb201_strategies.py [--table PATH] [--repeats 50]
        [--budget 100] [--jobs 1] [--with-kt-bayesian] [--json PATH]
        [--results-dir DIR] [--strategies random,reinforce,...]

With `--results-dir`, every finished run (strategy and seed) is kept in DIR
as it ends, and the same command started again loads them and runs only the
rest, so a run longer than one sitting continues where it stopped.
`--strategies` runs only the named rows (all of them by default), for
example to measure again a strategy whose defaults changed.
"""

import argparse
import sys

from keras_nas import bench

STRATEGIES = [
    "random", "kt_random", "optuna_tpe", "evolution", "genetic", "neat",
    "bayesian", "dls", "reinforce", "q_learning",
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default="../shared/data/nb201_cifar10_12ep.csv")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--with-kt-bayesian", action="store_true")
    parser.add_argument("--json", default=None)
    parser.add_argument("--results-dir", default=None)
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    args = parser.parse_args()
    names = args.strategies.split(",") + (
        ["kt_bayesian"] if args.with_kt_bayesian else [])
    result = bench.run_benchmark(
        args.table,
        names,
        budget=args.budget,
        repeats=args.repeats,
        baselines=False,
        jobs=args.jobs,
        progress=lambda s, elapsed: print(
            f"{s.name}: {s.seconds:.1f} s ({elapsed:.1f} s elapsed)",
            file=sys.stderr,
            flush=True,
        ),
        command="python " + " ".join(sys.argv),
        results_dir=args.results_dir,
    )
    print(bench.format_comparison(result), end="")
    if args.json:
        bench.to_json(result, args.json)


if __name__ == "__main__":
    main()
