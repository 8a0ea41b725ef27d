"""Early stopping's saving: the same searches with and without a scheduler.

Runs `keras-nas run`'s search on the bundled digits (its default split) for
each seed, once without early stopping and once with `--early-stopping`,
and prints per seed and on average the epochs trained (and their share of
`max_trials x epochs`; with a scheduler, the stopped trials trained on to
the full epochs at the end are counted with both their runs) and the test
accuracy of two exports of each search: the best trial's own weights, and
what `keras-nas run` exports by default (a final fit on train +
validation, an ensemble of up to 5).

Usage:
    python benchmarks/early_stopping.py [--space convnet] [--strategy evolution]
        [--max-trials 30] [--epochs 20] [--seeds 0,1,2] [--scheduler asha]
        [--directory /tmp/early_stopping]
"""

import argparse
import contextlib
import io
import json
import os
import time

import numpy as np

import keras_nas as kn
from keras_nas.oracles.early_stopping import epochs_trained


RUN_EXPORT = {"final_fit": True, "ensemble": 5}
"""`keras-nas run`'s default export."""


def run_search(args, seed, scheduler):
    """One search; returns (epochs, own and run test accuracies, search seconds)."""
    data = kn.data.load_dataset("digits", seed=seed)
    space = kn.spaces.get_space(args.space, data.input_shape, task=data.task)
    name = f"{args.space}-{args.strategy}-{scheduler or 'none'}-{seed}"
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        tuner = kn.NASTuner(
            space, strategy=args.strategy, max_trials=args.max_trials, seed=seed,
            directory=args.directory, project_name=name, overwrite=True,
            early_stopping=scheduler, latency=False,
        )
        tuner.search(data.x_train, data.y_train,
                     validation_data=(data.x_val, data.y_val), epochs=args.epochs)
        search_seconds = time.perf_counter() - start
        accuracies = []
        for export, options in (("own", {}), ("run", RUN_EXPORT)):
            path = tuner.export(
                os.path.join(args.directory, "export", f"{name}-{export}"),
                x_test=data.x_test, y_test=data.y_test, overwrite=True, **options,
            )
            with open(path / "metrics.json") as f:
                accuracies.append(json.load(f)["test_accuracy"])
    epochs = sum(
        epochs_trained(t) for t in tuner.oracle.trials.values()
    )
    return epochs, *accuracies, search_seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="convnet")
    parser.add_argument("--strategy", default="evolution")
    parser.add_argument("--max-trials", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--scheduler", default="asha")
    parser.add_argument("--directory", default="/tmp/keras_nas_early_stopping")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    budget = args.max_trials * args.epochs
    print(f"digits, {args.space}, {args.strategy}, {args.max_trials} trials x "
          f"{args.epochs} epochs = {budget} epochs at most; seeds {seeds}")
    print(f"{'seed':>4}  {'scheduler':>9}  {'epochs':>6}  {'share':>6}  "
          f"{'own acc':>8}  {'run acc':>8}  {'seconds':>7}")
    figures = {None: [], args.scheduler: []}
    for seed in seeds:
        for scheduler in (None, args.scheduler):
            epochs, own, run, seconds = run_search(args, seed, scheduler)
            figures[scheduler].append((epochs, own, run))
            print(f"{seed:>4}  {scheduler or 'none':>9}  {epochs:>6}  "
                  f"{100 * epochs / budget:>5.1f}%  {own:>8.4f}  {run:>8.4f}  "
                  f"{seconds:>7.0f}", flush=True)
    means = {k: np.array(v).mean(axis=0) for k, v in figures.items()}
    for scheduler, (epochs, own, run) in means.items():
        print(f"mean  {scheduler or 'none':>9}  {epochs:>6.0f}  "
              f"{100 * epochs / budget:>5.1f}%  {own:>8.4f}  {run:>8.4f}")
    without, with_ = means[None], means[args.scheduler]
    print(f"{args.scheduler} trained {100 * with_[0] / without[0]:.1f}% of the "
          f"epochs without it; test accuracy {100 * (with_[1] - without[1]):+.2f} "
          f"points (own weights), {100 * (with_[2] - without[2]):+.2f} points "
          "(keras-nas run's export)")

if __name__ == "__main__":
    main()
