"""The single best trial, its final fit, and ensembles of 3 and 5, per seed.

For each data set and seed, runs the search of `keras-nas run` (random
strategy, the given trials and epochs, a stratified test split that the
search never sees) and exports four models from it with `NASTuner.export`:
the best trial's own weights, the same architecture final-trained on train +
validation, and greedy ensembles of up to 3 and up to 5 final-trained
members. Each export is loaded with TensorFlow alone (`tf.saved_model.load`)
and scored on the test split. Prints a table of mean ± standard error over
the seeds, the figures per seed, and the wall and processor seconds of the
search and of each export.

The second data set is scikit-learn's bundled copy of the UCI breast-cancer
data (569 rows, 30 raw-scale features, binary), written to a temporary
`.npz` (no network).

Usage:
    python benchmarks/final_fit_ensembles.py [--datasets digits,breast_cancer]
        [--seeds 0,1,2] [--max-trials 10] [--epochs 10] [--test-fraction 0.25]
        [--directory /tmp/final_fit_ensembles]
"""

import argparse
import contextlib
import io
import os
import tempfile
import time

import numpy as np

import keras_nas as kn
from bench_utils import machine_line
from bench_utils import mean_se
from keras_nas.runs.export import load_exported

VARIANTS = (
    ("best trial", {}),
    ("final fit", {"final_fit": True}),
    ("ensemble 3", {"final_fit": True, "ensemble": 3}),
    ("ensemble 5", {"final_fit": True, "ensemble": 5}),
)
SPACES = {"digits": "convnet", "breast_cancer": "mlp"}


def dataset_spec(name, folder):
    """The `load_dataset` spec of a benchmark data set."""
    if name == "digits":
        return "digits"
    if name == "breast_cancer":
        from sklearn.datasets import load_breast_cancer

        bunch = load_breast_cancer()
        path = os.path.join(folder, "breast_cancer.npz")
        np.savez(path, x=bunch.data.astype("float32"), y=bunch.target)
        return path
    raise SystemExit(f"unknown data set {name!r}: digits or breast_cancer")


def test_figure(path, data):
    """Test accuracy of an export, served by TensorFlow alone."""
    outputs = load_exported(path).predict(data.x_test)
    if outputs.shape[-1] == 1:
        predicted = (outputs[:, 0] > 0.5).astype(int)
        labels = np.asarray(data.y_test).reshape(-1).astype(int)
    else:
        predicted = outputs.argmax(axis=1)
        labels = np.asarray(data.y_test)
    return float(np.mean(predicted == labels))


def timed(function):
    """Runs `function()`; returns its result, wall and processor seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def run_seed(args, name, spec, seed):
    """One search and its four exports; returns figures and timings."""
    data = kn.data.load_dataset(spec, seed=seed,
                                    test_fraction=args.test_fraction)
    space = kn.spaces.get_space(SPACES[name], data.input_shape, task=data.task)
    with contextlib.redirect_stdout(io.StringIO()):
        tuner = kn.NASTuner(
            space, max_trials=args.max_trials, seed=seed,
            directory=args.directory, project_name=f"{name}-{seed}",
            overwrite=True, verbose=0,
        )
        _, wall, cpu = timed(lambda: tuner.search(
            data.x_train, data.y_train, validation_data=(data.x_val, data.y_val),
            epochs=args.epochs, batch_size=32,
        ))
    row = {"search": (wall, cpu)}
    for label, options in VARIANTS:
        path = os.path.join(args.directory, "exports", f"{name}-{seed}-{label}")
        _, wall, cpu = timed(lambda: tuner.export(
            path, x_test=data.x_test, y_test=data.y_test, overwrite=True,
            **options,
        ))
        row[label] = (test_figure(path, data), wall, cpu)
    return row


def mean_and_se_text(values):
    """`mean ± SE` of `values` (an SE of 0 shown for one seed)."""
    mean, se = mean_se(values)
    return f"{mean:.4f} ± {0.0 if len(values) < 2 else se:.4f}"


def report(name, rows, seeds):
    print(f"\n{name}: test accuracy (TensorFlow alone), {len(seeds)} seeds")
    print(f"{'model':<11}  {'mean ± SE':<17}  per seed{'':<16}  seconds  cpu s")
    for label, _ in VARIANTS:
        figures = [rows[s][label][0] for s in seeds]
        wall = sum(rows[s][label][1] for s in seeds) / len(seeds)
        cpu = sum(rows[s][label][2] for s in seeds) / len(seeds)
        per_seed = " / ".join(f"{f:.4f}" for f in figures)
        print(f"{label:<11}  {mean_and_se_text(figures):<17}  {per_seed:<24}  "
              f"{wall:7.1f}  {cpu:5.1f}")
    wall = sum(rows[s]["search"][0] for s in seeds) / len(seeds)
    cpu = sum(rows[s]["search"][1] for s in seeds) / len(seeds)
    print(f"search: {wall:.1f} s, {cpu:.1f} cpu s per seed; an export's "
          "seconds include its final fits")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="digits,breast_cancer")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--max-trials", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--test-fraction", type=float, default=0.25)
    parser.add_argument("--directory", default=None)
    args = parser.parse_args()
    if args.max_trials < 1 or args.epochs < 1:
        parser.error("--max-trials and --epochs must be positive integers")
    seeds = [int(s) for s in args.seeds.split(",")]
    print(machine_line())
    print(f"random search, {args.max_trials} trials of {args.epochs} epochs, "
          f"test fraction {args.test_fraction}, seeds {args.seeds}")
    with tempfile.TemporaryDirectory() as folder:
        args.directory = args.directory or folder
        for name in args.datasets.split(","):
            spec = dataset_spec(name, folder)
            rows = {seed: run_seed(args, name, spec, seed) for seed in seeds}
            report(name, rows, seeds)


if __name__ == "__main__":
    main()
