"""Fine-tuning benchmark: searched on digits 0-4, adapted to digits 5-9.

Searches the `mlp` space on the bundled digits 0 to 4 (random search) and
exports the best model. Then, for each seed, draws 20 training and 10
validation images of each of the digits 5 to 9 (the rest of them is the
test set) and adapts the export in each `keras_nas.finetune` mode, and
trains the same architecture from fresh weights ("scratch"), printing the
trainable parameters, training seconds and test accuracy of each, per seed
and on average.

Usage:
    python benchmarks/finetune.py [--max-trials 8] [--epochs 15]
        [--finetune-epochs 50] [--seeds 0,1,2] [--rank 4]
        [--directory /tmp/finetune_bench]
"""

import argparse
import contextlib
import io
import os
import time

import keras
import numpy as np
from bench_utils import machine_line

import keras_nas as kn
from keras_nas import tasks
from keras_nas.datasets.splits import DatasetSplits
from keras_nas.datasets.splits import split_dataset
from keras_nas.finetune import LEARNING_RATE
from keras_nas.finetune import PATIENCE
from keras_nas.finetune import finetune
from keras_nas.export import load_exported

SOURCE, TARGET = [0, 1, 2, 3, 4], [5, 6, 7, 8, 9]
MODES = (
    ("full", {"mode": "full"}),
    ("features", {"mode": "features"}),
    ("features+top", {"mode": "features", "unfreeze_top": True}),
    ("lora", {"mode": "lora"}),
)


def all_digits():
    """Every bundled digit image and its digit."""
    data = kn.datasets.load_dataset("digits")
    x = np.concatenate([data.x_train, data.x_val, data.x_test])
    y = np.concatenate([data.y_train, data.y_val, data.y_test])
    return x, np.asarray(data.task.class_names)[y]


def search_source(args, x, y):
    """Searches digits 0-4 and exports the best model; returns its folder."""
    keep = np.isin(y, SOURCE)
    data = split_dataset("digits 0-4", x[keep], y[keep], seed=0)
    space = kn.spaces.get_space("mlp", data.input_shape, task=data.task)
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


def few_shot(x, y, seed, train=20, val=10):
    """`train` and `val` images per digit 5-9; the rest of them to test."""
    rng = np.random.default_rng(seed)
    task = tasks.Multiclass(class_names=TARGET)
    parts = {"train": [], "val": [], "test": []}
    for digit in TARGET:
        index = rng.permutation(np.flatnonzero(y == digit))
        parts["train"].append(index[:train])
        parts["val"].append(index[train:train + val])
        parts["test"].append(index[train + val:])
    split = {k: np.concatenate(v) for k, v in parts.items()}
    return DatasetSplits(
        name="digits 5-9", num_classes=len(TARGET), input_shape=x.shape[1:],
        task=task, task_reason="digits 5-9",
        **{f"{axis}_{k}": (x[i] if axis == "x" else task.encode(y[i]))
           for k, i in split.items() for axis in ("x", "y")},
    )


def from_scratch(source, data, epochs, seed):
    """The export's architecture with fresh weights, trained on `data`."""
    keras.utils.set_random_seed(seed)
    loaded = keras.saving.load_model(os.path.join(source, "model.keras"),
                                     compile=False)
    fresh = keras.models.clone_model(loaded)
    model = keras.Model(
        fresh.input, data.task.head(fresh.get_layer("classifier").input)
    )
    data.task.compile(model, keras.optimizers.Adam(LEARNING_RATE))
    params = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    start = time.perf_counter()
    model.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val),
              epochs=epochs, batch_size=32, verbose=0,
              callbacks=[keras.callbacks.EarlyStopping(
                  "val_loss", patience=PATIENCE, restore_best_weights=True)])
    seconds = time.perf_counter() - start
    accuracy = tasks.evaluate(model, data.x_test, data.y_test)["test_accuracy"]
    return params, seconds, accuracy


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--finetune-epochs", type=int, default=50)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--rank", type=int, default=4)
    parser.add_argument("--directory", default="/tmp/finetune_bench")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    print(machine_line())
    x, y = all_digits()
    start = time.perf_counter()
    source = search_source(args, x, y)
    metrics = load_exported(source).metrics
    print(f"Source: mlp, {args.max_trials} trials x {args.epochs} epochs on "
          f"digits 0-4 in {time.perf_counter() - start:.0f} s, test accuracy "
          f"{metrics['test_accuracy']:.4f}, {int(metrics['params']):,} parameters")
    rows = {name: [] for name, _ in MODES + (("scratch", None),)}
    for seed in seeds:
        data = few_shot(x, y, seed)
        for name, options in MODES:
            out = os.path.join(args.directory, f"{name}-{seed}")
            result = finetune(source, data, out, rank=args.rank,
                              epochs=args.finetune_epochs, seed=seed,
                              overwrite=True, **options)
            rows[name].append((result.trainable_params, result.seconds,
                               result.metrics["test_accuracy"]))
        rows["scratch"].append(from_scratch(source, data, args.finetune_epochs, seed))
        print(f"seed {seed}: " + ", ".join(
            f"{name} {values[-1][2]:.4f}" for name, values in rows.items()))
    print(f"\nDigits 5-9, 20 training and 10 validation images per class, "
          f"{len(data.x_test)} test images; LoRA rank {args.rank}; "
          f"mean over seeds {seeds}")
    print(f"{'mode':<14}{'trainable':>10}{'seconds':>9}{'test accuracy':>18}")
    for name, values in rows.items():
        params, seconds, accuracy = map(np.array, zip(*values))
        print(f"{name:<14}{int(params.mean()):>10,}{seconds.mean():>9.1f}"
              f"{accuracy.mean():>11.4f} ± {accuracy.std():.4f}")


if __name__ == "__main__":
    main()
