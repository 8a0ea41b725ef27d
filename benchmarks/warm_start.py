"""Warm-start benchmark: a search continued from an earlier one vs a cold one.

For each seed, on the bundled digits (the split of that seed):

- cold: `--strategy` with `--budget` trials from scratch;
- warm: an earlier `--earlier-strategy` search of `--earlier-trials` trials
  (another seed), then `--strategy` started from it
  (`NASTuner(warm_start=...)`). With `--earlier-data same` the earlier
  search ran on the same data, so its trials are taken over and not trained
  again, and the warm search has the rest of the budget (the two searches
  together train `--budget` trials, as the cold one does). With
  `--earlier-data other` it ran on another split of digits (seed + 100:
  other training and validation images, so other data to keras-nas), whose
  scores are not used: its best architectures are proposed first and
  trained on this data, and the warm search has the whole budget of new
  trials on this data, as the cold one does.

Prints, per seed and on average, the cold search's best validation accuracy
and the trial that first reached it, and how many new trials the warm search
needed to reach that score (its taken-over trials included in its best so
far), or that it did not within its budget.

Usage:
    python benchmarks/warm_start.py [--budget 20] [--earlier-trials 10]
        [--strategy evolution] [--earlier-strategy random] [--epochs 5]
        [--earlier-data same|other]
        [--seeds 0,1,2] [--directory /tmp/warm_start_bench]
"""

import argparse
import contextlib
import io
import time

import numpy as np
from bench_utils import machine_line

import keras_nas as kn


def search(args, data, name, strategy, max_trials, seed, warm_start=None):
    """One search of the mlp space; returns its tuner."""
    space = kn.spaces.get_space("mlp", data.input_shape, task=data.task)
    with contextlib.redirect_stdout(io.StringIO()):
        tuner = kn.NASTuner(
            space, strategy=strategy, max_trials=max_trials, seed=seed,
            directory=args.directory, project_name=name, overwrite=True,
            latency=False, verbose=0, warm_start=warm_start,
        )
        tuner.search(data.x_train, data.y_train,
                     validation_data=(data.x_val, data.y_val), epochs=args.epochs)
    return tuner


def best_so_far(trials):
    """The running best validation accuracy of trials in creation order."""
    scores = [t.score if t.score is not None else -np.inf for t in trials]
    return np.maximum.accumulate(scores)


def first_reaching(curve, target):
    """1-based index of the first value at least `target`, or `None`."""
    hits = np.flatnonzero(curve >= target - 1e-9)
    return int(hits[0]) + 1 if len(hits) else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=20)
    parser.add_argument("--earlier-trials", type=int, default=10)
    parser.add_argument("--strategy", default="evolution")
    parser.add_argument("--earlier-strategy", default="random")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--earlier-data", default="same", choices=("same", "other"))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--directory", default="/tmp/warm_start_bench")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    other = args.earlier_data == "other"
    new_budget = args.budget if other else args.budget - args.earlier_trials
    print(machine_line())
    print(f"mlp on digits, {args.epochs} epochs per trial; cold: {args.strategy} "
          f"x {args.budget}; warm: {args.earlier_strategy} x {args.earlier_trials} "
          f"(seed + 100, {args.earlier_data} data), then {args.strategy} x "
          f"{new_budget} warm-started")
    cold_steps, warm_steps, rows = [], [], []
    for seed in seeds:
        data = kn.datasets.load_dataset("digits", seed=seed)
        start = time.perf_counter()
        cold = search(args, data, f"cold-{seed}", args.strategy, args.budget, seed)
        cold_curve = best_so_far(cold.oracle.trials.values())
        target = cold_curve[-1]
        earlier_data = (kn.datasets.load_dataset("digits", seed=seed + 100)
                        if other else data)
        earlier = search(args, earlier_data, f"earlier-{seed}", args.earlier_strategy,
                         args.earlier_trials, seed + 100)
        warm = search(args, data, f"warm-{seed}", args.strategy, new_budget, seed,
                      warm_start=earlier.project_dir)
        trials = list(warm.oracle.trials.values())
        taken = len(trials) - new_budget
        warm_curve = best_so_far(trials)
        reached = first_reaching(warm_curve, target)
        new_trials = None if reached is None else max(reached - taken, 0)
        cold_steps.append(first_reaching(cold_curve, target))
        warm_steps.append(new_trials)
        rows.append((seed, target, cold_steps[-1], taken, warm_curve[-1], new_trials))
        taken_best = f"{warm_curve[taken - 1]:.4f}" if taken else "-"
        print(f"seed {seed}: cold best {target:.4f} at trial {cold_steps[-1]}; "
              f"warm took over {taken} trials (best {taken_best}), "
              f"best {warm_curve[-1]:.4f}, reached the cold best after "
              f"{'-' if new_trials is None else new_trials} new trials "
              f"({time.perf_counter() - start:.0f} s)")
    print(f"\n{'seed':<6}{'cold best':>10}{'cold trials':>13}{'taken over':>12}"
          f"{'warm best':>11}{'warm new trials':>17}")
    for seed, target, cold_k, taken, warm_best, new_k in rows:
        print(f"{seed:<6}{target:>10.4f}{cold_k:>13}{taken:>12}{warm_best:>11.4f}"
              f"{'not reached' if new_k is None else new_k:>17}")
    reached = [k for k in warm_steps if k is not None]
    print(f"mean new trials to the cold best: cold {np.mean(cold_steps):.1f}, "
          f"warm {np.mean(reached) if reached else float('nan'):.1f} "
          f"(reached in {len(reached)} of {len(seeds)} seeds)")


if __name__ == "__main__":
    main()
