"""Cost of a one-shot DARTS search against training its derived model once.

On the bundled digits, in one process:

1. one-shot search: `DartsSearch(space, order=...).fit(...)` with the
   default settings a user gets (collapse guard on), network weights on the
   train split and architecture logits on the validation split, for
   `--epochs` epochs at `--batch-size`;
2. derive the architecture (`search.derive()`);
3. derived training: `keras.utils.set_random_seed(seed)`, `space.build(hp)`
   with the derived values and `model.fit` on the same train split, with
   `validation_data` on the validation split (as `NASTuner` trains a trial),
   for the same epochs and batch size.

Only the two `fit` calls are timed (`time.perf_counter`, and process CPU
time); imports, data loading and model construction are not. Both include
their first-call graph tracing, which is part of what a real search or
trial costs; the per-epoch split below shows how much of each it is. A
warm-up fit of a tiny model runs first, untimed, so TensorFlow's process
start-up is charged to neither side. With `--repeats R`, both steps run R
times (a fresh search and a fresh model each time, same seed) and the
medians are compared.

The figure of merit is `ratio = one-shot search time / derived training
time`; issue 6 asks for at most 3. Other processes on the machine add noise
to wall times; the CPU-time ratio is given too.

Run it from the repository root:

    python benchmarks/darts_cost.py [--space nb201|convnet] [--epochs 10]
        [--batch-size 32] [--order 1|2] [--seed 0] [--repeats 1] [--no-guard]
"""

import argparse
import math
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras

from bench_utils import check_positive
from bench_utils import load_average
from bench_utils import machine_line
from bench_utils import settle
from bench_utils import warm_up
from keras_nas.darts import DartsSearch
from keras_nas.data import load_dataset
from keras_nas.spaces import ConvNet
from keras_nas.spaces import NB201Cell

TARGET_RATIO = 3.0


class EpochTimer(keras.callbacks.Callback):
    """Records the wall seconds of every epoch (validation included)."""

    def __init__(self):
        super().__init__()
        self.seconds = []
        self._start = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def make_space(name, data):
    """The space searched, with its default constructor values."""
    shape, classes = data.x_train.shape[1:], data.num_classes
    if name == "nb201":
        return NB201Cell(shape, classes)
    return ConvNet(shape, classes)


def run_search(space, data, args):
    """Builds (untimed) and fits (timed) one DARTS search.

    Returns:
        A dict: `seconds`, `cpu`, per-epoch `epochs`, the `search`, its
        derived `values`, the guard's stop epoch and the last logs.
    """
    keras.utils.set_random_seed(args.seed)
    search = DartsSearch(space, order=args.order, guard=args.guard, seed=args.seed)
    timer = EpochTimer()
    start, cpu = time.perf_counter(), time.process_time()
    history = search.fit(
        data.x_train,
        data.y_train,
        data.x_val,
        data.y_val,
        epochs=args.epochs,
        batch_size=args.batch_size,
        callbacks=[timer],
        verbose=0,
    )
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    logs = {k: v[-1] for k, v in history.history.items()}
    return {
        "seconds": seconds,
        "cpu": cpu,
        "epochs": timer.seconds,
        "search": search,
        "values": search.derive(),
        "stopped_epoch": None if search.guard is None else search.guard.stopped_epoch,
        "restored_epoch": (
            None if search.guard is None else search.guard.restored_epoch
        ),
        "logs": logs,
        "supernet_params": search.supernet.count_params(),
    }


def run_derived(space, values, data, args):
    """Builds (untimed) the derived model from scratch and fits it (timed).

    As `NASTuner` trains a trial: seed, `space.build(hp)`, `model.fit` with
    validation on the validation split.
    """
    keras.utils.set_random_seed(args.seed)
    model = space.build_architecture(values)
    timer = EpochTimer()
    start, cpu = time.perf_counter(), time.process_time()
    history = model.fit(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=args.epochs,
        batch_size=args.batch_size,
        callbacks=[timer],
        verbose=0,
    )
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {
        "seconds": seconds,
        "cpu": cpu,
        "epochs": timer.seconds,
        "best_val_accuracy": max(history.history["val_accuracy"]),
        "last_val_accuracy": history.history["val_accuracy"][-1],
        "params": model.count_params(),
    }


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", choices=("nb201", "convnet"), default="nb201")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--order", type=int, choices=(1, 2), default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument(
        "--no-guard",
        dest="guard",
        action="store_false",
        help="turn the collapse guard off (it is on by default, as for users)",
    )
    args = parser.parse_args(argv)
    check_positive(parser, args, ("epochs", "batch_size", "repeats"))
    return args


def main(argv=None):
    args = parse_args(argv)
    print("command: python " + " ".join(sys.argv))
    print(machine_line())
    data = load_dataset("digits", seed=0)
    space = make_space(args.space, data)
    print(
        f"{data.summary()}\n"
        f"space {args.space} (default settings), order {args.order}, "
        f"guard {'on' if args.guard else 'off'}, {args.epochs} epochs, "
        f"batch size {args.batch_size}, seed {args.seed}, "
        f"{args.repeats} repeat(s)"
    )
    warm_up(data)

    searches, derived = [], []
    for r in range(args.repeats):
        settle()
        s = run_search(space, data, args)
        searches.append(s)
        print(
            f"  repeat {r + 1}/{args.repeats} one-shot search: "
            f"{s['seconds']:7.2f} s (cpu {s['cpu']:7.2f} s), "
            f"{len(s['epochs'])} epochs run",
            flush=True,
        )
        settle()
        d = run_derived(space, s["values"], data, args)
        derived.append(d)
        print(
            f"  repeat {r + 1}/{args.repeats} derived training: "
            f"{d['seconds']:7.2f} s (cpu {d['cpu']:7.2f} s), "
            f"best val_accuracy {d['best_val_accuracy']:.4f}",
            flush=True,
        )

    last = searches[-1]
    description = last["search"].describe()
    print()
    if "arch_str" in description:
        print(f"derived arch_str: {description['arch_str']}")
    print(f"derived decisions: {description['decisions']}")
    if args.guard:
        if last["stopped_epoch"] is None:
            print(f"collapse guard: did not stop ({args.epochs} epochs run)")
        else:
            print(
                f"collapse guard: stopped at epoch {last['stopped_epoch'] + 1}, "
                f"logits of epoch {last['restored_epoch'] + 1} kept"
            )
    logs = last["logs"]
    print(
        f"supernet ({last['supernet_params']:,} parameters), last epoch: "
        f"train accuracy {logs.get('accuracy', float('nan')):.4f}, "
        f"architecture-step (val split) accuracy "
        f"{logs.get('val_accuracy', float('nan')):.4f}"
    )
    last_d = derived[-1]
    print(
        f"derived model ({last_d['params']:,} parameters) val_accuracy: "
        f"best epoch {last_d['best_val_accuracy']:.4f}, "
        f"last epoch {last_d['last_val_accuracy']:.4f}"
    )
    print()
    print_timing("one-shot search (DartsSearch.fit)", searches)
    print_timing("derived training (model.fit)", derived)
    search_s = statistics.median(s["seconds"] for s in searches)
    derived_s = statistics.median(d["seconds"] for d in derived)
    search_cpu = statistics.median(s["cpu"] for s in searches)
    derived_cpu = statistics.median(d["cpu"] for d in derived)
    steady = _steady(searches) / _steady(derived)
    print(
        "(times are of the fit calls alone, graph tracing included on both "
        "sides;\n first epoch = tracing + one epoch; later = mean of the "
        "other epochs)"
    )
    print()
    print(f"load average at the end {load_average()}")
    print(
        f"one-shot search {search_s:.2f} s, derived training {derived_s:.2f} s "
        f"({args.epochs} epochs each, batch size {args.batch_size})"
    )
    print(
        f"cpu-time ratio {search_cpu / derived_cpu:.2f}; "
        f"steady-state epoch ratio (tracing excluded) {steady:.2f}"
    )
    ratio = search_s / derived_s
    verdict = "yes" if ratio <= TARGET_RATIO else "NO"
    print(
        f"ratio one-shot / derived training: {ratio:.2f} "
        f"(target <= {TARGET_RATIO:.0f}: {verdict})"
    )


def print_timing(label, runs):
    """Prints the median wall and CPU time, first and later epochs of `runs`."""
    seconds = statistics.median(r["seconds"] for r in runs)
    cpu = statistics.median(r["cpu"] for r in runs)
    first = statistics.median(r["epochs"][0] for r in runs)
    later = _steady(runs)
    if math.isnan(later):
        split = f"first epoch {first:.2f} s (only one epoch run)"
    else:
        split = (
            f"first epoch {first:.2f} s, later epochs {later:.2f} s each; "
            f"tracing ~{first - later:.2f} s"
        )
    print(f"{label:<36} {seconds:7.2f} s wall, {cpu:7.2f} s cpu; {split}")


def _steady(runs):
    """Median over runs of the mean epoch time after the first (nan if none)."""
    means = [statistics.mean(r["epochs"][1:]) for r in runs if len(r["epochs"]) > 1]
    return statistics.median(means) if means else float("nan")


if __name__ == "__main__":
    main()
