"""Per-trial overhead of `NASTuner` against a bare `build` + `fit` loop.

Trains the same N architectures of the ConvNet space (drawn once, with a
fixed seed, through the architecture encoding) on the bundled digits three
ways, in the same process:

- bare: a plain loop of `keras.utils.set_random_seed`, `space.build(hp)` and
  `model.fit(...)`, no tuner at all;
- NASTuner: `keras_nas.NASTuner(...).search(...)` driven by a fixed-list
  oracle that hands out the same architectures in the same order;
- KerasTuner: KerasTuner's own `keras_tuner.Tuner` with the same oracle and
  `hypermodel=space`, for reference (its `run_trial` writes an HDF5
  checkpoint at every improving epoch).

Each variant is timed with `time.perf_counter` as a whole (the loop, or the
`search` call; the tuners also with their construction) after one warm-up
fit; before each run, untimed, `keras.backend.clear_session()` and
`gc.collect()` free what the previous run left behind. The variants take turns (bare, NASTuner, KerasTuner, bare, ...) for
`--repeats` rounds; the table reports the median of each, the seconds per
trial, the overhead per trial against the bare loop, and the ratio to it.
The last line compares NASTuner's `search` with the bare loop.

Run it from the repository root:

    python benchmarks/trial_overhead.py

Options: `--trials N` (architectures, default 8), `--epochs E` (default 5),
`--batch-size B` (default 32), `--repeats R` (default 2). The defaults take
about four minutes on 2 CPU cores. Other processes on the machine add
noise of several hundred milliseconds per trial to the wall times; the
table also gives the ratio of the fastest repeats and of process CPU time.
"""

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import keras_tuner as kt
import numpy as np

from bench_utils import check_positive
from bench_utils import load_average
from bench_utils import settle
from bench_utils import warm_up
from keras_nas import NASTuner
from keras_nas.data import load_dataset
from keras_nas.encoding import ArchitectureEncoding
from keras_nas.spaces import ConvNet

SEED = 0
TARGET_RATIO = 1.10


class FixedListOracle(kt.Oracle):
    """Hands out a fixed list of architectures in order, then stops.

    Args:
        architectures: A list of hyperparameter value dicts.
        **kwargs: Further arguments of `keras_tuner.Oracle`.
    """

    def __init__(self, architectures, **kwargs):
        super().__init__(
            objective="val_accuracy", max_trials=len(architectures), **kwargs
        )
        self.architectures = [dict(values) for values in architectures]
        self._position = 0

    def populate_space(self, trial_id):
        if self._position >= len(self.architectures):
            return {"status": kt.engine.trial.TrialStatus.STOPPED, "values": None}
        values = self.architectures[self._position]
        self._position += 1
        return {"status": kt.engine.trial.TrialStatus.RUNNING, "values": dict(values)}

    def get_state(self):
        state = super().get_state()
        state["position"] = self._position
        return state

    def set_state(self, state):
        super().set_state(state)
        self._position = state["position"]


def draw_architectures(space, count, seed):
    """Draws `count` architectures of `space` uniformly, reproducibly.

    Args:
        space: A `keras_nas.spaces.SearchSpace`.
        count: How many architectures to draw.
        seed: Seed of the draw.

    Returns:
        A list of hyperparameter value dicts (active decisions only).
    """
    hp = kt.HyperParameters()
    space.declare_hyperparameters(hp)
    encoding = ArchitectureEncoding(hp, space.structure())
    rng = np.random.default_rng(seed)
    return [encoding.decode(encoding.random_vector(rng)) for _ in range(count)]


def run_bare(space, architectures, data, args):
    """Builds and fits each architecture in a plain loop.

    Returns:
        A dict with the loop's wall seconds (`search`, and `total`, the
        same), its process CPU seconds (`cpu`) and the mean best
        `val_accuracy` of the architectures (`score`).
    """
    scores = []
    start, cpu = time.perf_counter(), time.process_time()
    for values in architectures:
        keras.utils.set_random_seed(SEED)
        model = space.build_architecture(values)
        history = model.fit(**fit_arguments(data, args))
        scores.append(max(history.history["val_accuracy"]))
    seconds = time.perf_counter() - start
    return {
        "search": seconds,
        "total": seconds,
        "cpu": time.process_time() - cpu,
        "score": statistics.mean(scores),
    }


def fit_arguments(data, args):
    """The `fit` arguments shared by the bare loop and the tuners."""
    return {
        "x": data.x_train,
        "y": data.y_train,
        "validation_data": (data.x_val, data.y_val),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "verbose": 0,
    }


def run_tuner(make_tuner, architectures, data, args, directory, name):
    """Constructs a tuner on a fixed-list oracle and runs its search.

    Args:
        make_tuner: A function `(oracle, directory, project_name)` returning
            the tuner.
        architectures: The architectures the oracle hands out.
        data: The `DatasetSplits`.
        args: The parsed command line.
        directory: The tuners' folder.
        name: The project name.

    Returns:
        A dict with the wall seconds of `search` alone (`search`) and of
        construction plus search (`total`), the process CPU seconds of
        `search` (`cpu`) and the mean best `val_accuracy` of the trials
        (`score`).

    Raises:
        RuntimeError: If a trial did not complete.
    """
    oracle = FixedListOracle(architectures, seed=SEED)
    start = time.perf_counter()
    tuner = make_tuner(oracle, directory, name)
    searched, cpu = time.perf_counter(), time.process_time()
    tuner.search(**fit_arguments(data, args))
    end, cpu = time.perf_counter(), time.process_time() - cpu
    trials = list(tuner.oracle.trials.values())
    completed = [t.score for t in trials if t.status == "COMPLETED"]
    if len(completed) != len(architectures):
        messages = [t.message for t in trials if t.status != "COMPLETED"]
        raise RuntimeError(
            f"{name}: {len(completed)} of {len(architectures)} trials "
            f"completed. First failure: {messages[0] if messages else None}"
        )
    return {
        "search": end - searched,
        "total": end - start,
        "cpu": cpu,
        "score": statistics.mean(completed),
    }


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8, help="architectures")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    check_positive(parser, args, ("trials", "epochs", "batch_size", "repeats"))
    return args


def main(argv=None):
    args = parse_args(argv)
    data = load_dataset("digits", seed=SEED)
    space = ConvNet(data.x_train.shape[1:], data.num_classes, max_blocks=3)
    architectures = draw_architectures(space, args.trials, SEED)
    print(
        f"{data.summary()}\n"
        f"{args.trials} ConvNet architectures (max_blocks=3), "
        f"{args.epochs} epochs, batch size {args.batch_size}, "
        f"{args.repeats} repeats; load average {load_average()}"
    )
    warm_up(data)

    def nas_tuner(oracle, directory, name):
        return NASTuner(
            space,
            strategy=oracle,
            seed=SEED,
            directory=directory,
            project_name=name,
            overwrite=True,
            verbose=0,
        )

    def keras_tuner(oracle, directory, name):
        return kt.Tuner(
            oracle=oracle,
            hypermodel=space,
            directory=directory,
            project_name=name,
            overwrite=True,
        )

    variants = {
        "bare": lambda directory, r: run_bare(space, architectures, data, args),
        "NASTuner": lambda directory, r: run_tuner(
            nas_tuner, architectures, data, args, directory, f"nas_{r}"
        ),
        "KerasTuner": lambda directory, r: run_tuner(
            keras_tuner, architectures, data, args, directory, f"kt_{r}"
        ),
    }
    runs = {name: [] for name in variants}
    with tempfile.TemporaryDirectory(prefix="trial_overhead_") as directory:
        for r in range(args.repeats):
            for name, run in variants.items():
                settle()
                result = run(directory, r)
                runs[name].append(result)
                print(
                    f"  repeat {r + 1}/{args.repeats} {name:<10} "
                    f"search {result['search']:6.2f} s "
                    f"(cpu {result['cpu']:6.2f} s), "
                    f"with construction {result['total']:6.2f} s",
                    flush=True,
                )

    print_table(runs, args.trials)
    print(f"load average at the end {load_average()}")
    bare = _median(runs["bare"], "search")
    nas = _median(runs["NASTuner"], "search")
    print(f"ratio NASTuner/bare: {nas / bare:.2f} (target <= {TARGET_RATIO:.2f})")


def print_table(runs, trials):
    """Prints medians, per-trial seconds, overhead and ratios per variant."""
    bare = _median(runs["bare"], "search")
    bare_min = min(run["search"] for run in runs["bare"])
    bare_cpu = _median(runs["bare"], "cpu")
    rows = [("bare loop", "bare", "search")]
    for name in ("NASTuner", "KerasTuner"):
        rows.append((f"{name} search", name, "search"))
        rows.append((f"{name} construct+search", name, "total"))
    print()
    print(
        f"{'variant':<28}{'median s':>9}{'s/trial':>9}{'overhead':>10}"
        f"{'ratio':>7}{'min ratio':>10}{'cpu ratio':>10}{'val_acc':>9}"
    )
    for label, name, key in rows:
        median = _median(runs[name], key)
        overhead = (median - bare) / trials * 1000
        least = min(run[key] for run in runs[name]) / bare_min
        cpu = (
            f"{_median(runs[name], 'cpu') / bare_cpu:>10.2f}"
            if key == "search"
            else f"{'':>10}"
        )
        score = statistics.mean(run["score"] for run in runs[name])
        print(
            f"{label:<28}{median:>9.2f}{median / trials:>9.3f}"
            f"{overhead:>7.0f} ms{median / bare:>7.2f}{least:>10.2f}{cpu}"
            f"{score:>9.3f}"
        )
    print(
        "(ratio: median wall time over the bare loop's; min ratio: fastest "
        "repeat over fastest;\n cpu ratio: process CPU time, less sensitive "
        "to other processes on the machine;\n overhead: extra wall time per "
        "trial; val_acc: mean best-epoch val_accuracy)"
    )
    print()


def _median(runs, key):
    return statistics.median(run[key] for run in runs)


if __name__ == "__main__":
    main()
