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
far), or that it did not within its budget. Then the same over the seeds'
mean: the best so far averaged over seeds, after each trial of the cold
search and each new trial of the warm one (0 new trials: the taken-over
trials alone), and the first count at which each mean curve reaches the cold
searches' mean best. `--json PATH` writes every seed's curves.

Usage:
    python benchmarks/warm_start.py [--budget 20] [--earlier-trials 10]
        [--strategy evolution] [--earlier-strategy random] [--epochs 5]
        [--earlier-data same|other]
        [--seeds 0,1,2] [--directory /tmp/warm_start_bench] [--json PATH]
    python benchmarks/warm_start.py --combine A.json B.json
"""

import argparse
import contextlib
import io
import json
import time

import numpy as np
from bench_utils import machine_line
from bench_utils import mean_se

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
    parser.add_argument("--json", default=None)
    parser.add_argument("--combine", nargs="+", default=None, metavar="JSON",
                        help="print the mean curves of the seeds saved in these "
                        "--json files (runs of the same settings), run nothing")
    args = parser.parse_args()
    if args.combine:
        curves = []
        for path in args.combine:
            with open(path) as f:
                curves += json.load(f)["seeds"]
        print_mean_curves(curves)
        return
    seeds = [int(s) for s in args.seeds.split(",")]
    other = args.earlier_data == "other"
    new_budget = args.budget if other else args.budget - args.earlier_trials
    print(machine_line())
    print(f"mlp on digits, {args.epochs} epochs per trial; cold: {args.strategy} "
          f"x {args.budget}; warm: {args.earlier_strategy} x {args.earlier_trials} "
          f"(seed + 100, {args.earlier_data} data), then {args.strategy} x "
          f"{new_budget} warm-started")
    cold_steps, warm_steps, rows, curves = [], [], [], []
    for seed in seeds:
        data = kn.data.load_dataset("digits", seed=seed)
        start = time.perf_counter()
        cold = search(args, data, f"cold-{seed}", args.strategy, args.budget, seed)
        cold_curve = best_so_far(cold.oracle.trials.values())
        target = cold_curve[-1]
        earlier_data = (kn.data.load_dataset("digits", seed=seed + 100)
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
        start_score = warm_curve[taken - 1] if taken else -np.inf
        curves.append({"seed": seed, "taken_over": taken,
                       "cold": cold_curve.tolist(),
                       "warm": [start_score] + warm_curve[taken:].tolist()})
        taken_best = f"{start_score:.4f}" if taken else "-"
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
    print_mean_curves(curves)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "seeds": curves}, f, indent=1)


def print_mean_curves(curves):
    """The best so far averaged over seeds, and where each mean reaches the cold one.

    Beside the means, the warm minus the cold best after the same number of
    new trials, mean ± standard error over seeds (paired by seed).
    """
    cold_runs = np.array([c["cold"] for c in curves])
    warm_runs = np.array([c["warm"] for c in curves])
    cold, warm = cold_runs.mean(axis=0), warm_runs.mean(axis=0)
    target = cold[-1]
    cold_k = first_reaching(cold, target)
    warm_k = first_reaching(warm, target)
    print(f"\nbest so far, mean over {len(curves)} seeds (seeds "
          f"{','.join(str(c['seed']) for c in curves)}), after k trials "
          f"(warm: k new trials, 0 = the taken-over trials alone)")
    print(f"{'k':>3}{'cold':>9}{'warm':>9}{'warm - cold ± SE':>20}")
    for k in range(len(warm)):
        if not k:
            start = f"{warm[0]:.4f}" if np.isfinite(warm[0]) else "-"
            print(f"{k:>3}{'-':>9}{start:>9}")
            continue
        gap, se = mean_se(warm_runs[:, k] - cold_runs[:, k - 1])
        print(f"{k:>3}{cold[k - 1]:>9.4f}{warm[k]:>9.4f}"
              f"{f'{gap:+.4f} ± {se:.4f}':>20}")
    warm_text = "not reached" if warm_k is None else f"{warm_k - 1} new trials"
    print(f"the cold searches' mean best {target:.4f}: reached by the cold mean "
          f"after {cold_k} trials, by the warm mean after {warm_text}")


if __name__ == "__main__":
    main()
