"""Batch-1 inference latency of every NAS-Bench-201 cell, from a lookup table.

Timing 15,625 Keras models one by one would take many hours on a small
CPU, so this script measures parts and adds them up, then checks the sum
against whole networks:

1. On this machine, the batch-1 latency (median of `--repeats` calls of a
   `tf.function` after `--warm-up` calls) of each operation at each of the
   three stages of the NAS-Bench-201 network (16, 32 and 64 channels on
   32x32, 16x16 and 8x8 maps), and of the fixed skeleton (stem, reduction
   blocks, final batch norm, pooling and classifier). Everything is built
   with `keras_nas.spaces.NB201Cell`'s own code: the skeleton is its
   network with every cell the identity, and an operation's latency is
   that of a chain of `--chain` blocks `x + op(x)` (the addition stands
   for the node sums of a cell) less that of the bare input, divided by
   the chain's length.
2. Every cell's latency is the skeleton's plus, per stage, the cells per
   stage (5) times the sum of the latencies of the cell's live edges: an
   edge fed by the cell's input whose target node reaches the cell's
   output, through edges other than `none` (TensorFlow prunes the others).
   A cell with no such path from input to output leaves only the head to
   compute: those cells take the measured latency of the all-`none` cell.
3. The lookup is validated against the end-to-end latency, measured the
   same way, of the full `NB201Cell` network (16 channels, 5 cells per
   stage, 32x32x3 input, 10 classes) for `--sample` random cells (seed
   fixed): the Spearman correlation and the median relative error are
   printed.

The latencies are lookup-table estimates, validated on a measured sample,
on whatever machine runs this script (the load of other processes moves
them). Writes `arch_str,latency_ms` (with `--join`, the table's columns
too) for `keras-nas bench --table` and `nb201_pareto.py --cost latency`.

Usage:
    python benchmarks/nb201_latency.py [--table ../shared/data/nb201_cifar10_12ep.csv]
        [--out nb201_latency.csv] [--join] [--sample 40] [--repeats 50]
"""

import argparse
import time

import keras
import keras_tuner as kt
import numpy as np

from bench_utils import machine_line
from keras_nas.objectives.latency import LatencySettings
from keras_nas.objectives.latency import measure_latency
from keras_nas.spaces import NB201Cell
from keras_nas.spaces import nb201
from nb201_costs import CELLS_PER_STAGE
from nb201_costs import CHANNELS
from nb201_costs import CLASSES
from nb201_costs import IMAGE
from nb201_costs import INPUT_CHANNELS
from nb201_costs import add_table_arguments
from nb201_costs import table_rows

STAGES = tuple((CHANNELS * 2**s, IMAGE // 2**s) for s in range(3))
"""(channels, map size) of the cells of each stage."""
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


def space():
    """The NAS-Bench-201 network as `NB201Cell` builds it."""
    return NB201Cell((IMAGE, IMAGE, INPUT_CHANNELS), CLASSES,
                     channels=CHANNELS, cells_per_stage=CELLS_PER_STAGE)


def latency_ms(model, warm_up, repeats):
    """Median batch-1 latency of `model` in milliseconds, after warm-up calls.

    `keras_nas.objectives.latency.measure_latency`, as trials measure it.
    """
    milliseconds = measure_latency(
        model, LatencySettings(repeats=repeats, warmup=warm_up)
    )
    keras.backend.clear_session()
    return milliseconds


def skeleton_ms(warm_up, repeats):
    """The network with every cell the identity: stem, reductions and head."""
    network = space()
    inputs = network._inputs()
    outputs = network._network_outputs(inputs, lambda x, channels, name: x)
    return latency_ms(keras.Model(inputs, outputs), warm_up, repeats)


def operation_table(chain, warm_up, repeats):
    """`{(stage, operation): ms}`, each operation with its node sum."""
    table = {}
    for stage, (channels, size) in enumerate(STAGES):
        shape = (size, size, channels)
        inputs = keras.Input(shape)
        bare = latency_ms(keras.Model(inputs, keras.layers.Identity()(inputs)),
                          warm_up, repeats)
        table[stage, "none"] = 0.0
        for operation in nb201.OPERATIONS[1:]:
            inputs = keras.Input(shape)
            x = inputs
            for _ in range(chain):
                x = keras.layers.Add()([x, nb201._edge_op(x, operation, channels)])
            timed = latency_ms(keras.Model(inputs, x), warm_up, repeats)
            table[stage, operation] = max(0.0, (timed - bare) / chain)
    return table


def live_edges(operations):
    """Whether each edge (in `EDGES` order) is computed in the network.

    An edge is computed when it is not `none`, its source depends on the
    cell's input and its target reaches the cell's output through edges
    other than `none`; TensorFlow prunes the others from the graph.
    """
    by_edge = dict(zip(nb201.EDGES, operations))
    fed = {0}
    for target in (1, 2, 3):
        if any(by_edge[target, s] != "none" and s in fed for s in range(target)):
            fed.add(target)
    useful = {3}
    for target in (2, 1):
        if any(by_edge[later, target] != "none" and later in useful
               for later in range(target + 1, 4)):
            useful.add(target)
    return [op != "none" and source in fed and target in useful
            for (target, source), op in zip(nb201.EDGES, operations)]


def estimate_ms(arch_str, skeleton, table, disconnected):
    """A cell's network latency from the lookup table.

    A cell whose output does not depend on its input (no path of edges
    other than `none`) makes the whole network before the last cell dead:
    all those networks take `disconnected`, the measured latency of the
    all-`none` cell's network.
    """
    values = nb201.from_arch_str(arch_str)
    operations = [values[nb201.edge_name(t, s)] for t, s in nb201.EDGES]
    live = live_edges(operations)
    if not any(used for (target, _), used in zip(nb201.EDGES, live) if target == 3):
        return disconnected
    cells = sum(table[stage, op]
                for stage in range(len(STAGES))
                for op, used in zip(operations, live) if used)
    return skeleton + CELLS_PER_STAGE * cells


def network_ms(arch_str, warm_up, repeats):
    """The measured latency of the whole network of a cell."""
    network = space()
    hp = kt.HyperParameters()
    for name, value in network.from_arch_str(arch_str).items():
        hp.Fixed(name, value)
    return latency_ms(network.build(hp), warm_up, repeats)


def spearman(a, b):
    """Spearman's rank correlation (ties broken by order)."""
    ranks = [np.argsort(np.argsort(v)) for v in (a, b)]
    return float(np.corrcoef(*ranks)[0, 1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_table_arguments(parser, "nb201_latency.csv")
    parser.add_argument("--sample", type=int, default=40,
                        help="random cells whose whole network is timed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chain", type=int, default=8)
    parser.add_argument("--warm-up", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    print(machine_line())
    start = time.perf_counter()
    skeleton = skeleton_ms(args.warm_up, args.repeats)
    table = operation_table(args.chain, args.warm_up, args.repeats)
    disconnected = network_ms(ALL_NONE, args.warm_up, args.repeats)
    print(f"skeleton: {skeleton:.3f} ms; a cell disconnecting its input "
          f"(all none): {disconnected:.3f} ms")
    for stage, (channels, size) in enumerate(STAGES):
        ops = ", ".join(f"{op} {table[stage, op]:.3f}" for op in nb201.OPERATIONS)
        print(f"stage {stage} ({channels} channels, {size}x{size}), ms per edge: {ops}")
    rows = table_rows(args.table)
    estimates = [estimate_ms(row["arch_str"], skeleton, table, disconnected)
                 for row in rows]
    columns = (list(rows[0]) if args.join else ["arch_str"]) + ["latency_ms"]
    with open(args.out, "w", newline="") as f:
        f.write(",".join(columns) + "\n")
        for row, ms in zip(rows, estimates):
            cells = [str(row[c]) for c in columns[:-1]] + [f"{ms:.4f}"]
            f.write(",".join(cells) + "\n")
    print(f"{len(rows)} architectures written to {args.out}: latency_ms "
          f"{min(estimates):.2f} to {max(estimates):.2f} ms, "
          f"median {np.median(estimates):.2f} ms")
    rng = np.random.default_rng(args.seed)
    picked = rng.choice(len(rows), size=min(args.sample, len(rows)), replace=False)
    measured, estimated = [], []
    for index in picked:
        arch_str = rows[index]["arch_str"]
        measured.append(network_ms(arch_str, args.warm_up, args.repeats))
        estimated.append(estimates[index])
        print(f"check {arch_str}: estimate {estimated[-1]:.2f} ms, "
              f"measured {measured[-1]:.2f} ms", flush=True)
    if picked.size > 1:
        measured, estimated = np.array(measured), np.array(estimated)
        error = np.abs(estimated - measured) / measured
        print(f"lookup vs measured on {picked.size} random cells (seed {args.seed}): "
              f"Spearman {spearman(estimated, measured):.3f}, median relative "
              f"error {100 * np.median(error):.1f}%, largest {100 * error.max():.1f}%")
    print(f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
