"""DARTS's derived NB201 cell against regularized evolution's best, on digits.

Both sides search `NB201Cell` with its default constructor values for the
digits images (8x8x1, 10 classes) on the same splits (`load_dataset("digits",
seed=0)`), and every network is trained for the same `--epochs` at the same
`--batch-size`:

(a) DARTS: `NASTuner(space, strategy=DartsOracle(searches=--searches,
    order=--order, seed=--seed))` with the defaults a user gets (collapse
    guard on): each one-shot search (seeds `--seed`, `--seed + 1`, ...)
    fits for `--epochs` (weights on the train split, logits on the
    validation split) and derives a cell, and every distinct derived cell
    is trained from scratch as a trial. The score is the best trial's
    `val_accuracy` (its best epoch), its test accuracy that of
    `tuner.load_model(best)`. `--searches 1` (the default) is one plain
    DARTS search; `--searches 4` is the DARTS paper's protocol (four
    searches, the best cell after training from scratch).
(b) Regularized evolution: `NASTuner(space, strategy="evolution",
    max_trials=--trials, seed=--seed)`; its score is the best trial's
    `val_accuracy`, its test accuracy that of `tuner.load_model(best)`.

Issue 6 asks that (a) score within 1 point of (b) and that the derived cell
be non-degenerate: no more than half (3 of 6) of its edges `none` or
`skip_connect`. The best of 30 trials is the maximum of 30 noisy
validation scores, so it is biased upwards against the single retraining of
one DARTS search (and, less, of `--searches` of them); for an even-handed
view, both cells are also retrained `--retrains` times with the same fresh
seeds (`--seed`, `--seed + 1`, ...) and their mean best-epoch
`val_accuracy` and test accuracy are printed.

Run it from the repository root:

    python benchmarks/darts_vs_evolution.py [--epochs 10] [--batch-size 32]
        [--order 1|2] [--searches 1] [--trials 30] [--seed 0]
        [--directory DIR] [--retrains 1] [--no-guard]

Without `--directory`, the tuner's files go to a temporary folder removed at
the end. With it, both searches are kept under projects named by their
settings, and a later run with the same settings resumes them (a finished one
is reloaded without training).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import keras_tuner as kt

from bench_utils import check_positive
from bench_utils import load_average
from bench_utils import machine_line
from keras_nas import NASTuner
from keras_nas.training.checkpoint import BestWeights
from keras_nas.darts import DartsOracle
from keras_nas.data import load_dataset
from keras_nas.spaces import NB201Cell

DEGENERATE_OPS = ("none", "skip_connect")
MAX_DEGENERATE_EDGES = 3
TARGET_POINTS = 1.0


def degenerate_edges(values):
    """The number of the cell's edges that are `none` or `skip_connect`."""
    return sum(op in DEGENERATE_OPS for op in values.values())


def train_once(space, values, data, args, seed, directory, name):
    """Trains an architecture from scratch, as `NASTuner` trains a trial.

    Returns:
        A dict with the best-epoch `val_accuracy`, the test accuracy of the
        best epoch's weights, the last epoch's `val_accuracy` and the wall
        seconds of `fit`.
    """
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(seed)
    model = space.build_architecture(values)
    best = BestWeights(
        kt.Objective("val_accuracy", "max"),
        os.path.join(directory, f"{name}.weights.h5"),
    )
    start = time.perf_counter()
    history = model.fit(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=args.epochs,
        batch_size=args.batch_size,
        callbacks=[best],
        verbose=0,
    )
    seconds = time.perf_counter() - start
    test = model.evaluate(data.x_test, data.y_test, verbose=0, return_dict=True)
    return {
        "val_accuracy": best.best_value,
        "last_val_accuracy": history.history["val_accuracy"][-1],
        "test_accuracy": float(test["accuracy"]),
        "seconds": seconds,
    }


def run_darts(space, data, args, directory):
    """The DARTS side: `--searches` one-shot searches, each derived cell retrained.

    Runs as a user's `NASTuner(strategy=DartsOracle(searches=...))` search:
    each derived cell is one trial, trained from scratch; the best trial by
    `val_accuracy` is the result.
    """
    print(
        f"(a) DARTS: {args.searches} search(es), order {args.order}, guard "
        f"{'on' if args.guard else 'off'}, {args.epochs} epochs, batch size "
        f"{args.batch_size}, seeds from {args.seed}",
        flush=True,
    )
    oracle = DartsOracle(
        searches=args.searches, seed=args.seed, order=args.order, guard=args.guard
    )
    tuner = NASTuner(
        space,
        strategy=oracle,
        directory=directory,
        project_name=(
            f"darts_e{args.epochs}_b{args.batch_size}_o{args.order}_"
            f"g{int(args.guard)}_n{args.searches}_s{args.seed}"
        ),
        overwrite=False,
        verbose=1,
    )
    result = search_and_score(tuner, data, args)
    scores = {
        space.to_arch_str(t.hyperparameters.values): t.score
        for t in tuner.oracle.trials.values()
    }
    for k, values in enumerate(oracle.architectures):
        arch_str = space.to_arch_str(values)
        print(
            f"    search {k + 1} (seed {args.seed + k}): {arch_str} retrained "
            f"val_accuracy {scores[arch_str]:.4f}",
            flush=True,
        )
    return result


def run_evolution(space, data, args, directory):
    """The evolution side: a NASTuner search; the best trial's scores."""
    print(
        f"(b) regularized evolution: {args.trials} trials, {args.epochs} "
        f"epochs, batch size {args.batch_size}, seed {args.seed}",
        flush=True,
    )
    tuner = NASTuner(
        space,
        strategy="evolution",
        max_trials=args.trials,
        seed=args.seed,
        directory=directory,
        project_name=(
            f"evolution_e{args.epochs}_b{args.batch_size}_t{args.trials}_s{args.seed}"
        ),
        overwrite=False,
        verbose=1,
    )
    return search_and_score(tuner, data, args)


def search_and_score(tuner, data, args):
    """Runs (or resumes) a tuner's search; its best trial's scores.

    Returns:
        A dict: the best trial's `val_accuracy`, the test accuracy of
        `tuner.load_model(best)`, its `values` and `arch_str`, the number of
        `completed` trials and the search's wall `seconds`.
    """
    start = time.perf_counter()
    tuner.search(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=args.epochs,
        batch_size=args.batch_size,
    )
    seconds = time.perf_counter() - start
    trial = tuner.oracle.get_best_trials(1)[0]
    best = tuner.get_best_architectures(1)[0]
    model = tuner.load_model(trial)
    test = model.evaluate(data.x_test, data.y_test, verbose=0, return_dict=True)
    completed = sum(t.status == "COMPLETED" for t in tuner.oracle.trials.values())
    return {
        "val_accuracy": float(trial.score),
        "test_accuracy": float(test["accuracy"]),
        "values": dict(best["decisions"]),
        "arch_str": best["arch_str"],
        "completed": completed,
        "seconds": seconds,
    }


def retrain_both(space, darts, evolution, data, args, directory):
    """Retrains both cells with the same fresh seeds; returns their scores."""
    scores = {"DARTS": [], "evolution": []}
    for k in range(args.retrains):
        seed = args.seed + k
        for name, side in (("DARTS", darts), ("evolution", evolution)):
            result = train_once(
                space, side["values"], data, args, seed, directory, f"{name}_{k}"
            )
            scores[name].append(result)
            print(
                f"    retrain seed {seed} {name:<9}: best val_accuracy "
                f"{result['val_accuracy']:.4f}, test {result['test_accuracy']:.4f}",
                flush=True,
            )
    return scores


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--order", type=int, choices=(1, 2), default=1)
    parser.add_argument(
        "--searches",
        type=int,
        default=1,
        help="DARTS searches, seeds --seed, --seed + 1, ... (the paper: 4)",
    )
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--directory", default=None)
    parser.add_argument(
        "--retrains",
        type=int,
        default=1,
        help="fresh-seed retrainings of both cells for the even-handed view",
    )
    parser.add_argument(
        "--no-guard",
        dest="guard",
        action="store_false",
        help="turn DARTS's collapse guard off (on by default, as for users)",
    )
    args = parser.parse_args(argv)
    check_positive(
        parser, args, ("epochs", "batch_size", "searches", "trials", "retrains")
    )
    return args


def main(argv=None):
    args = parse_args(argv)
    print("command: python " + " ".join(sys.argv))
    print(machine_line())
    data = load_dataset("digits", seed=0)
    space = NB201Cell(data.x_train.shape[1:], data.num_classes)
    print(f"{data.summary()}\nspace: NB201Cell{space.get_config()}", flush=True)
    if args.directory is None:
        with tempfile.TemporaryDirectory(prefix="darts_vs_evolution_") as directory:
            run(space, data, args, directory)
    else:
        os.makedirs(args.directory, exist_ok=True)
        run(space, data, args, args.directory)


def run(space, data, args, directory):
    darts = run_darts(space, data, args, directory)
    print(
        f"    best derived {darts['arch_str']}: val_accuracy "
        f"{darts['val_accuracy']:.4f}, test {darts['test_accuracy']:.4f} "
        f"({darts['completed']} distinct cells retrained, {darts['seconds']:.1f} s)",
        flush=True,
    )
    evolution = run_evolution(space, data, args, directory)
    print(
        f"    best {evolution['arch_str']}: val_accuracy "
        f"{evolution['val_accuracy']:.4f}, test {evolution['test_accuracy']:.4f} "
        f"({evolution['completed']} trials completed, {evolution['seconds']:.1f} s)",
        flush=True,
    )
    print("even-handed view: both cells retrained with the same seeds", flush=True)
    scores = retrain_both(space, darts, evolution, data, args, directory)

    degenerate = degenerate_edges(darts["values"])
    points = 100 * (darts["val_accuracy"] - evolution["val_accuracy"])
    test_points = 100 * (darts["test_accuracy"] - evolution["test_accuracy"])
    within = points >= -TARGET_POINTS
    print()
    print(f"load average at the end {load_average()}")
    print(f"{'':<11}{'val_acc':>9}{'test_acc':>10}{'wall s':>9}  arch_str")
    print(
        f"{'DARTS':<11}{darts['val_accuracy']:>9.4f}{darts['test_accuracy']:>10.4f}"
        f"{darts['seconds']:>9.1f}  "
        f"{darts['arch_str']}"
    )
    print(
        f"{'evolution':<11}{evolution['val_accuracy']:>9.4f}"
        f"{evolution['test_accuracy']:>10.4f}{evolution['seconds']:>9.1f}  "
        f"{evolution['arch_str']}"
    )
    print(
        f"(DARTS: best of {darts['completed']} retrained derived cell(s), wall "
        f"= searches + retraining. evolution: best of "
        f"{evolution['completed']} trials, wall = search)"
    )
    for name, runs in scores.items():
        val = [r["val_accuracy"] for r in runs]
        test = [r["test_accuracy"] for r in runs]
        print(
            f"retrained x{len(runs)} {name:<9}: mean best val_accuracy "
            f"{statistics.mean(val):.4f}{_spread(val)}, mean test "
            f"{statistics.mean(test):.4f}{_spread(test)}"
        )
    print(
        f"DARTS edges none/skip_connect: {degenerate} of 6 "
        f"({'degenerate' if degenerate > MAX_DEGENERATE_EDGES else 'not degenerate'}"
        f"); evolution best: {degenerate_edges(evolution['values'])} of 6"
    )
    print(
        f"difference DARTS - evolution: {points:+.2f} points val_accuracy, "
        f"{test_points:+.2f} points test accuracy"
    )
    print(
        f"DARTS within {TARGET_POINTS:.0f} point of evolution (val_accuracy): "
        f"{'yes' if within else 'NO'}; issue 6 criteria met: "
        f"{'yes' if within and degenerate <= MAX_DEGENERATE_EDGES else 'NO'}"
    )


def _spread(values):
    return f" (sd {statistics.stdev(values):.4f})" if len(values) > 1 else ""


if __name__ == "__main__":
    main()
