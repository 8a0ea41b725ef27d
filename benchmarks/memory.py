"""Resident memory of a long `NASTuner` search (issue 5, point 3).

Runs a random search of `--trials` architectures (200 by default) of a small
space on the bundled digits through `keras_nas.NASTuner`, and reads the
process's resident memory (`VmRSS` of `/proc/self/status`) at the end of
trial 10, every `--every` trials, and at the last trial. It prints the
growth from trial 10 to the last trial and whether it stays under the
target of 300 MB.

Run it from the repository root:

    python benchmarks/memory.py

Options: `--trials N` (default 200), `--epochs E` (default 2), `--space`
(`mlp`, the default, or `conv`), `--batch-size B` (default 32), `--every K`
(default 10), `--seed S` (default 0), `--directory DIR` (default a temporary
folder, deleted afterwards) and `--subprocess`. The defaults take about 15
minutes on 2 CPU cores.

`NASTuner` runs every trial inside
`keras_nas.training.gradient_registry.release_custom_gradients()`, which drops the
gradient functions that TensorFlow registers globally for every traced train
step (each keeps its trial's whole training graph alive, about 10 MB per
small MLP trial); the report prints how many such registrations are alive.

With `--subprocess`, each trial is built and trained in a fresh child
process (`NASTuner(..., trial_process="subprocess")`, see
`keras_nas.engine.trial_process`), and the figures are the parent's memory; the
children's peak is printed as well.
"""

import argparse
import os
import resource
import shlex
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import tensorflow as tf
from tensorflow.python.framework import ops as tf_ops

from bench_utils import load_average
from keras_nas import NASTuner
from keras_nas.data import load_dataset
from keras_nas.spaces import MLP
from keras_nas.spaces import ConvNet

TARGET_MB = 300
FIRST_READING = 10
SPACES = ("mlp", "conv")


def rss_mb(field="VmRSS"):
    """Reads a memory figure of this process from `/proc/self/status`.

    Args:
        field: `VmRSS` (resident memory now) or `VmHWM` (its peak).

    Returns:
        The figure in MB (10**6 bytes), or `None` where `/proc` is missing.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        return None
    return None


def custom_gradient_count():
    """How many `tf.custom_gradient` functions TensorFlow keeps registered."""
    return sum(
        str(name).startswith("CustomGradient-")
        for name in tf_ops.gradient_registry._registry
    )


def children_peak_mb():
    """Peak resident memory of the largest finished child process, in MB."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / 1e6


class MemoryTuner(NASTuner):
    """A `NASTuner` that reads its resident memory at the end of trials.

    Args:
        *args: Arguments of `NASTuner`.
        every: Read the memory every this many finished trials (and at
            trial 10 and at the last trial).
        last: Number of the last trial.
        **kwargs: Keyword arguments of `NASTuner`.
    """

    def __init__(self, *args, every=10, last=None, **kwargs):
        self.every = every
        self.last = last
        self.ended = 0
        self.readings = {}
        self.started = time.perf_counter()
        super().__init__(*args, **kwargs)

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        self.ended += 1
        if (
            self.ended == FIRST_READING
            or self.ended % self.every == 0
            or self.ended == self.last
        ):
            rss = rss_mb()
            self.readings[self.ended] = rss
            print(
                f"  trial {self.ended:>4}: RSS {_mb(rss)}, "
                f"{time.perf_counter() - self.started:7.1f} s",
                flush=True,
            )


def make_space(name, data):
    """The search space of the benchmark, small so that trials are quick."""
    if name == "mlp":
        return MLP(data.input_shape, data.num_classes, max_layers=3)
    return ConvNet(data.input_shape, data.num_classes, max_blocks=3)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--space", choices=SPACES, default="mlp")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--directory", default=None)
    parser.add_argument(
        "--subprocess",
        action="store_true",
        help="train each trial in a child process (trial_process='subprocess')",
    )
    args = parser.parse_args(argv)
    for name in ("trials", "epochs", "batch_size", "every"):
        if getattr(args, name) < 1:
            parser.error(
                f"--{name.replace('_', '-')} must be a positive integer, "
                f"received {getattr(args, name)}"
            )
    return args


def run(args, directory):
    data = load_dataset("digits", seed=args.seed)
    space = make_space(args.space, data)
    before = rss_mb()
    tuner = MemoryTuner(
        space,
        strategy="random",
        objective="val_accuracy",
        max_trials=args.trials,
        seed=args.seed,
        directory=directory,
        project_name="memory",
        overwrite=True,
        # Failed trials are counted in the report, not a reason to stop.
        max_consecutive_failures=args.trials,
        verbose=0,
        every=args.every,
        last=args.trials,
        trial_process="subprocess" if args.subprocess else "in_process",
    )
    print(
        f"{data.summary()}\n"
        f"space {args.space}, strategy random, {args.trials} trials, "
        f"{args.epochs} epochs, batch size {args.batch_size}, "
        f"trials {'in child processes' if args.subprocess else 'in process'}; "
        f"RSS before the search {_mb(before)}",
        flush=True,
    )
    start = time.perf_counter()
    tuner.search(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=args.epochs,
        batch_size=args.batch_size,
    )
    seconds = time.perf_counter() - start
    statuses = [t.status for t in tuner.oracle.trials.values()]
    return tuner, seconds, statuses


def report(args, tuner, seconds, statuses):
    readings = tuner.readings
    last = max(readings) if readings else None
    print()
    print(
        f"command: {' '.join(shlex.quote(a) for a in [sys.executable] + sys.argv)}"
    )
    print(
        f"keras {keras.__version__}, tensorflow {tf.__version__}, "
        f"python {sys.version.split()[0]}, load average {load_average()}"
    )
    print(
        f"{len(statuses)} trials in {seconds:.0f} s "
        f"({seconds / max(len(statuses), 1):.2f} s/trial): "
        f"{statuses.count('COMPLETED')} completed, "
        f"{statuses.count('FAILED')} failed"
    )
    print(f"peak RSS (VmHWM) {_mb(rss_mb('VmHWM'))}")
    print(
        "TensorFlow custom-gradient registrations alive: "
        f"{custom_gradient_count()}"
    )
    if args.subprocess:
        print(f"largest child process peak RSS {children_peak_mb():.0f} MB")
    if FIRST_READING not in readings or last is None or last <= FIRST_READING:
        print(f"fewer than {FIRST_READING + 1} trials: no growth to report")
        return
    first, final = readings[FIRST_READING], readings[last]
    growth = final - first
    verdict = "under" if growth < TARGET_MB else "OVER"
    print(
        f"RSS at trial {FIRST_READING}: {first:.0f} MB, at trial {last}: "
        f"{final:.0f} MB; growth {growth:+.0f} MB "
        f"({growth / (last - FIRST_READING):+.2f} MB/trial), "
        f"{verdict} the {TARGET_MB} MB target"
    )


def main(argv=None):
    args = parse_args(argv)
    if args.directory:
        tuner, seconds, statuses = run(args, args.directory)
    else:
        with tempfile.TemporaryDirectory(prefix="memory_") as directory:
            tuner, seconds, statuses = run(args, directory)
    report(args, tuner, seconds, statuses)


def _mb(value):
    return "unknown" if value is None else f"{value:.0f} MB"


if __name__ == "__main__":
    main()
