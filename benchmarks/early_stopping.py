"""Early stopping's saving: the same searches with and without a scheduler.

Runs `keras-nas run`'s search on the bundled digits (its default split) for
each seed, once without early stopping and once with `--early-stopping`,
and prints per seed and on average the epochs trained (and their share of
`max_trials x epochs`) and the exported model's test accuracy.

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
from keras_nas.results import epochs_trained


def run_search(args, seed, scheduler):
    """One search; returns (epochs trained, test accuracy, seconds)."""
    data = kn.datasets.load_dataset("digits", seed=seed)
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
        path = tuner.export(os.path.join(args.directory, "export", name),
                            x_test=data.x_test, y_test=data.y_test, overwrite=True)
    seconds = time.perf_counter() - start
    epochs = sum(
        epochs_trained(t) for t in tuner.oracle.trials.values()
    )
    with open(path / "metrics.json") as f:
        accuracy = json.load(f)["test_accuracy"]
    return epochs, accuracy, seconds


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
          f"{'test acc':>8}  {'seconds':>7}")
    figures = {None: [], args.scheduler: []}
    for seed in seeds:
        for scheduler in (None, args.scheduler):
            epochs, accuracy, seconds = run_search(args, seed, scheduler)
            figures[scheduler].append((epochs, accuracy))
            print(f"{seed:>4}  {scheduler or 'none':>9}  {epochs:>6}  "
                  f"{100 * epochs / budget:>5.1f}%  {accuracy:>8.4f}  {seconds:>7.0f}",
                  flush=True)
    without, with_ = (np.array(figures[k]) for k in (None, args.scheduler))
    print(f"mean  none       {without[:, 0].mean():>6.0f}  "
          f"{100 * without[:, 0].mean() / budget:>5.1f}%  {without[:, 1].mean():>8.4f}")
    print(f"mean  {args.scheduler:>9}  {with_[:, 0].mean():>6.0f}  "
          f"{100 * with_[:, 0].mean() / budget:>5.1f}%  {with_[:, 1].mean():>8.4f}")
    print(f"{args.scheduler} trained {100 * with_[:, 0].mean() / without[:, 0].mean():.1f}% "
          "of the epochs without it; test accuracy "
          f"{100 * (with_[:, 1].mean() - without[:, 1].mean()):+.2f} points")


if __name__ == "__main__":
    main()
