"""Fine-tuning benchmark: searched on digits 0-4, adapted to digits 5-9.

The source is an export folder (`--source`, e.g. from `keras-nas run
--dataset digits04.npz`) or, without it, the best of a random search of
`--space` on the bundled digits 0 to 4. For each size N of `--sizes` and
each seed, N images of each of the digits 5 to 9 are drawn (text labels,
so the head is 5-class) and split as `keras-nas finetune` splits a file
(`load_dataset`'s default 60/20/20, seeded); the other images of digits 5
to 9 are held out. Each mode adapts the export (`keras_nas.runs.finetune`
defaults unless overridden) and its served SavedModel is scored on the
held-out images. Printed: trainable parameters, training seconds, steps
trained and held-out accuracy, mean ± std over the seeds.

`--rates full=1e-4,1e-3 --rates top=...` runs each listed learning rate of
a phase (`full`, `features`, `top`, `lora`) instead of the default.
`--curve` trains every run for the whole `--steps` budget without early
stopping, records the validation loss every epoch and the held-out
accuracy at every new best validation loss and at each budget of
`--budgets`, and prints what each stopping rule would have served: the
last weights after each budget, and early stopping by `(min steps,
patience steps)` of `--rules` within `--steps` (exact: the same training,
replayed through `StepEarlyStopping`). `--scratch` adds the architecture
trained from fresh weights (`full` at learning rate 1e-3, same steps and
stopping).

Usage:
    python benchmarks/finetune.py [--source EXPORT | --space mlp|convnet
        --max-trials 8 --epochs 15] [--sizes 20,100,140] [--seeds 0,1,2]
        [--modes full,features,features+top,lora] [--steps N]
        [--rates PHASE=R1,R2 ...] [--curve --budgets 100,200,500,1000
        --rules 0:50,100:100,200:200] [--scratch] [--directory DIR]
"""

import argparse
import contextlib
import io
import math
import os
import shutil
import time

import keras
import numpy as np
import tensorflow as tf
from bench_utils import machine_line

import keras_nas as kn
import keras_nas.runs.finetune as ft
from keras_nas.data.splits import split_dataset
from keras_nas.runs.export import load_exported

SOURCE, TARGET = [0, 1, 2, 3, 4], [5, 6, 7, 8, 9]
NAMES = np.array(["zero", "one", "two", "three", "four",
                  "five", "six", "seven", "eight", "nine"])
MODES = {
    "full": ("full", {"mode": "full"}),
    "features": ("features", {"mode": "features"}),
    "features+top": ("top", {"mode": "features", "unfreeze_top": True}),
    "lora": ("lora", {"mode": "lora"}),
    "scratch": ("full", {"mode": "full"}),
}
"""Each benchmark mode: the `LEARNING_RATES` key it sweeps, its options.
`scratch` is `full` from fresh weights of the source's architecture."""


def all_digits():
    """Every bundled digit image and its digit."""
    data = kn.data.load_dataset("digits")
    x = np.concatenate([data.x_train, data.x_val, data.x_test])
    y = np.concatenate([data.y_train, data.y_val, data.y_test])
    return x, np.asarray(data.task.class_names)[y]


def search_source(args, x, y):
    """Searches digits 0-4 and exports the best model; returns its folder."""
    keep = np.isin(y, SOURCE)
    data = split_dataset("digits 0-4", x[keep], y[keep], seed=0)
    space = kn.spaces.get_space(args.space, data.input_shape, task=data.task)
    with contextlib.redirect_stdout(io.StringIO()):
        tuner = kn.NASTuner(
            space, strategy="random", max_trials=args.max_trials, seed=0,
            directory=args.directory, project_name="source", overwrite=True,
            latency=False, verbose=0,
        )
        tuner.search(data.x_train, data.y_train,
                     validation_data=(data.x_val, data.y_val), epochs=args.epochs)
        path = tuner.export(os.path.join(args.directory, "source_export"),
                            x_test=data.x_test, y_test=data.y_test, overwrite=True)
    return path


def draw(x, y, size, seed):
    """`size` images of each digit 5-9, split as `keras-nas finetune` splits
    a file; the other images of 5-9 as held-out `(x, text labels)`."""
    rng = np.random.default_rng(seed)
    picked = np.concatenate([
        rng.permutation(np.flatnonzero(y == digit))[:size] for digit in TARGET
    ])
    rest = np.setdiff1d(np.flatnonzero(np.isin(y, TARGET)), picked)
    data = split_dataset("digits 5-9", x[picked], NAMES[y[picked]], seed=seed)
    return data, (x[rest], NAMES[y[rest]])


def served_accuracy(path, held_out, task):
    """Accuracy of the exported SavedModel, loaded by TensorFlow alone."""
    x, names = held_out
    loaded = tf.saved_model.load(str(path))
    probs = loaded.serve(tf.constant(x)).numpy()
    return float(np.mean(probs.argmax(-1) == task.encode(names)))


class Recorder(keras.callbacks.Callback):
    """Per validation: the steps, the validation loss, and the held-out
    accuracy at each new best validation loss and where a budget ends."""

    def __init__(self, held_out, task, budgets):
        super().__init__()
        self.x, self.y = held_out[0], task.encode(held_out[1])
        self.budgets = budgets
        self.records = []

    def on_train_begin(self, logs=None):
        self.records, self.best, self.steps = [], math.inf, 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1

    def on_epoch_end(self, epoch, logs=None):
        loss = logs["val_loss"]
        done = self.records[-1][0] if self.records else 0
        accuracy = None
        if loss < self.best or any(done < b <= self.steps for b in self.budgets):
            probs = self.model.predict_on_batch(self.x)
            accuracy = float(np.mean(np.argmax(probs, -1) == self.y))
        self.best = min(self.best, loss)
        self.records.append((self.steps, loss, accuracy))


def replay(records, steps, min_steps, patience):
    """The held-out accuracy and steps of early stopping within `steps`."""
    period = records[0][0]
    stop = ft.StepEarlyStopping(period, patience, min_steps)
    accuracy = None
    for _, loss, held in records[:math.ceil(steps / period)]:
        if stop.update(loss):
            accuracy = held
        if stop.should_stop():
            break
    return accuracy, stop.steps


def at_budget(records, budget):
    """The held-out accuracy of the last weights once `budget` steps are done."""
    return next(held for steps, _, held in records if steps >= budget)


def fresh_source(source, directory, seed):
    """An export-like folder of the source's architecture with fresh weights."""
    keras.utils.set_random_seed(seed)
    loaded = keras.saving.load_model(os.path.join(source, "model.keras"),
                                     compile=False)
    folder = os.path.join(directory, f"fresh-{seed}")
    os.makedirs(folder, exist_ok=True)
    keras.models.clone_model(loaded).save(os.path.join(folder, "model.keras"))
    shutil.copy(os.path.join(source, "architecture.json"), folder)
    return folder


def parse_rates(values):
    """`["full=1e-4,1e-3", ...]` -> `{"full": [1e-4, 1e-3], ...}`."""
    rates = {}
    for value in values:
        phase, _, listed = value.partition("=")
        if phase not in ft.LEARNING_RATES:
            raise SystemExit(f"--rates: unknown phase {phase!r}, expected one "
                             f"of {sorted(ft.LEARNING_RATES)}")
        rates[phase] = [float(r) for r in listed.split(",")]
    return rates


def cell(column, values):
    """A table cell: mean steps, or accuracy mean ± std over the seeds."""
    values = np.asarray(values, dtype=float)
    if column.startswith("steps"):
        return f"{values.mean():>14.0f}"
    return f"{values.mean():>11.4f} ± {values.std():.4f}"


def run_mode(args, source, data, held_out, name, rate, seed):
    """One fine-tuning run: a row of figures, plus the recorder in `--curve`."""
    phase, options = MODES[name]
    steps = args.steps or ft.STEPS
    recorder = Recorder(held_out, data.task, args.budgets)
    saved = dict(ft.LEARNING_RATES), ft.PATIENCE_STEPS, ft.MIN_STEPS
    if rate is not None:
        ft.LEARNING_RATES[phase] = rate
    if args.curve:
        ft.PATIENCE_STEPS, ft.MIN_STEPS = steps + 1, steps
    try:
        result = ft.finetune(
            source, data, os.path.join(args.directory, f"{name}-{seed}"),
            rank=args.rank, steps=args.steps, seed=seed, overwrite=True,
            callbacks=[recorder] if args.curve else None, **options,
        )
    finally:
        ft.LEARNING_RATES.clear()
        ft.LEARNING_RATES.update(saved[0])
        ft.PATIENCE_STEPS, ft.MIN_STEPS = saved[1], saved[2]
    row = {
        "trainable": result.trainable_params, "seconds": result.seconds,
        "steps": sum(result.metrics["steps_trained"]),
        "held-out": served_accuracy(result.path, held_out, data.task),
    }
    if args.curve:
        records = recorder.records
        for budget in args.budgets:
            row[f"last@{budget}"] = at_budget(records, budget)
        for min_steps, patience in args.rules:
            rule = f"{min_steps}:{patience}"
            row[f"stop {rule}"], row[f"steps {rule}"] = replay(
                records, steps, min_steps, patience)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=None,
                        help="An export folder searched on digits 0-4.")
    parser.add_argument("--space", default="mlp")
    parser.add_argument("--max-trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--sizes", default="20,100,140")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--modes", default="full,features,features+top,lora")
    parser.add_argument("--steps", type=int, default=None,
                        help="Step budget of each phase [default: ft.STEPS].")
    parser.add_argument("--rates", action="append", default=[])
    parser.add_argument("--curve", action="store_true")
    parser.add_argument("--budgets", default="100,200,500,1000")
    parser.add_argument("--rules", default="0:50,100:100,200:200")
    parser.add_argument("--scratch", action="store_true")
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--directory", default="/tmp/finetune_bench")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    sizes = [int(s) for s in args.sizes.split(",")]
    modes = args.modes.split(",")
    rates = parse_rates(args.rates)
    args.budgets = [int(b) for b in args.budgets.split(",")]
    args.rules = [tuple(map(int, r.split(":"))) for r in args.rules.split(",")]
    if args.curve:
        args.steps = args.steps or max(args.budgets)
    print(machine_line())
    print(f"Defaults: learning rates {ft.LEARNING_RATES}, steps "
          f"{args.steps or ft.STEPS}, min steps {ft.MIN_STEPS}, patience steps "
          f"{ft.PATIENCE_STEPS}, LoRA rank {args.rank}, batch 32")
    x, y = all_digits()
    start = time.perf_counter()
    source = args.source or search_source(args, x, y)
    metrics = load_exported(source).metrics
    architecture = load_exported(source).architecture
    print(f"Source {source}: {architecture.get('space')}, test accuracy "
          f"{metrics.get('test_accuracy', float('nan')):.4f}, "
          f"{int(metrics['params']):,} parameters"
          + ("" if args.source else
             f", searched in {time.perf_counter() - start:.0f} s"))
    runs = [(name, rate) for name in modes
            for rate in rates.get(MODES[name][0], [None])]
    for size in sizes:
        rows = {run: [] for run in runs + [("scratch", 1e-3)] * args.scratch}
        for seed in seeds:
            data, held_out = draw(x, y, size, seed)
            for name, rate in runs:
                rows[(name, rate)].append(
                    run_mode(args, source, data, held_out, name, rate, seed))
            if args.scratch:
                rows[("scratch", 1e-3)].append(run_mode(
                    args, fresh_source(source, args.directory, seed), data,
                    held_out, "scratch", 1e-3, seed))
        print(f"\n{size} images a class: {data.summary()}; "
              f"{len(held_out[0])} held out; seeds {seeds}")
        columns = list(next(iter(rows.values()))[0])
        print(f"{'mode':<14}{'rate':>8}{'trainable':>10}{'seconds':>8}{'steps':>7}"
              + "".join(f"{c:>{14 if c.startswith('steps') else 18}}"
                        for c in columns[3:]))
        for (name, rate), values in rows.items():
            rate = rate or ft.LEARNING_RATES[MODES[name][0]]
            mean = {c: np.mean([v[c] for v in values]) for c in columns[:3]}
            print(f"{name:<14}{rate:>8.0e}{int(mean['trainable']):>10,}"
                  f"{mean['seconds']:>8.1f}{mean['steps']:>7.0f}"
                  + "".join(cell(c, [v.get(c, np.nan) for v in values])
                            for c in columns[3:]))
    print(f"\nTotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
