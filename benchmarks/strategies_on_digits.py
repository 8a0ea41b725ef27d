"""Strategies against random search where each query trains a network: digits.

For each seed, each strategy searches `--space` (mlp or convnet) on the
bundled digits (the split of that seed) for `--budget` trials of `--epochs`
epochs, with its defaults; `q_learning_metaqnn` is MetaQNN's formulation as
it was before the early schedule (`QLearningOracle(schedule="metaqnn",
initial_q=0.5, trace_decay=0.0, learning_rate=0.1)`). Prints per strategy,
mean ± standard error over the seeds, the best validation accuracy found
and the test accuracy of that best trial's weights, with the difference from
random search in combined standard errors.

Usage:
    python benchmarks/strategies_on_digits.py [--space mlp] [--budget 20]
        [--epochs 3] [--seeds 0,1,2,3,4]
        [--strategies q_learning,q_learning_metaqnn]
        [--directory /tmp/strategies_on_digits]
"""

import argparse
import contextlib
import io
import math
import time

import keras_tuner as kt
import numpy as np
from bench_utils import machine_line
from bench_utils import mean_se

import keras_nas as kn
from keras_nas.oracles.q_learning import QLearningOracle


def strategy_for(name, max_trials, seed):
    """A strategy name, or the MetaQNN oracle for `q_learning_metaqnn`."""
    if name != "q_learning_metaqnn":
        return name
    return QLearningOracle(
        objective=kt.Objective("val_accuracy", "max"), max_trials=max_trials,
        seed=seed, schedule="metaqnn", initial_q=0.5, trace_decay=0.0,
        learning_rate=0.1,
    )


def run_search(args, name, seed):
    """One search; returns (best validation accuracy, its test accuracy)."""
    data = kn.data.load_dataset("digits", seed=seed)
    space = kn.spaces.get_space(args.space, data.input_shape, task=data.task)
    with contextlib.redirect_stdout(io.StringIO()):
        tuner = kn.NASTuner(
            space, strategy=strategy_for(name, args.budget, seed),
            max_trials=args.budget, seed=seed, directory=args.directory,
            project_name=f"{args.space}-{name}-{seed}", overwrite=True,
            latency=False, verbose=0,
        )
        tuner.search(data.x_train, data.y_train,
                     validation_data=(data.x_val, data.y_val), epochs=args.epochs)
    best = tuner.oracle.get_best_trials(1)[0]
    model = tuner.load_model(best)
    test = model.evaluate(data.x_test, data.task.encode(data.y_test, "y_test"),
                          verbose=0, return_dict=True)["accuracy"]
    return float(best.score), float(test)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="mlp", choices=("mlp", "convnet"))
    parser.add_argument("--budget", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--strategies", default="q_learning,q_learning_metaqnn")
    parser.add_argument("--directory", default="/tmp/strategies_on_digits")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    names = ["random"] + [n for n in args.strategies.split(",") if n != "random"]
    print(machine_line())
    print(f"digits, {args.space}, {args.budget} trials x {args.epochs} epochs, "
          f"seeds {seeds}")
    figures = {}
    for name in names:
        start = time.perf_counter()
        figures[name] = [run_search(args, name, seed) for seed in seeds]
        print(f"{name}: {time.perf_counter() - start:.0f} s", flush=True)
    reference = np.array(figures["random"])
    print(f"{'strategy':<20} {'best val_accuracy':>18} {'z':>5}  "
          f"{'its test accuracy':>18} {'z':>5}")
    for name in names:
        rows = np.array(figures[name])
        cells = []
        for column in (0, 1):
            mean, se = mean_se(rows[:, column])
            ref_mean, ref_se = mean_se(reference[:, column])
            error = math.hypot(se, ref_se)
            z = "-" if name == "random" else (
                f"{(mean - ref_mean) / error:+.1f}" if error else "inf")
            cells.append(f"{mean:>9.4f} ± {se:.4f} {z:>5}")
        print(f"{name:<20} {cells[0]}  {cells[1]}")


if __name__ == "__main__":
    main()
