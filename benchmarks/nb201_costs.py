"""Parameters and FLOPs of every NAS-Bench-201 cell, computed analytically.

The NAS-Bench-201 network (Dong and Yang, ICLR 2020) for CIFAR-10: a 3x3
stem convolution (3 to 16 channels) with batch norm; three stages of 5
cells at 16, 32 and 64 channels on 32x32, 16x16 and 8x8 maps, joined by a
residual reduction block (ReLU-conv 3x3 stride 2-BN, ReLU-conv 3x3-BN, and a
2x2 average pooling then a 1x1 convolution on the shortcut); a final batch
norm, global average pooling and a 10-way dense classifier. In a cell of C
channels on an HxW map, `nor_conv_KxK` is ReLU-conv KxK (no bias)-BN, and
`skip_connect`, `avg_pool_3x3` and `none` have no parameters.

- params: every weight, batch norm scale and offset included (batch norm
  moving statistics are not parameters). This reproduces the 0.073 M and
  1.532 M parameters NAS-Bench-201 lists for its smallest and largest
  cells, and `--check` compares it with the trainable parameters of the
  same network built by `keras_nas.spaces.NB201Cell`.
- flops: multiply-accumulates of the convolutions (`k*k*C_in*C_out` per
  output position) and of the classifier (weights and bias); pooling,
  batch norm, activations and additions are not counted.

Usage:
    python benchmarks/nb201_costs.py [--table ../shared/data/nb201_cifar10_12ep.csv]
        [--out nb201_costs.csv] [--join] [--check N]

Writes `arch_str,params,flops` per architecture of the table (with
`--join`, the table's own columns too, one CSV that `keras-nas bench` reads)
and prints a summary.
"""

import argparse
import csv
import itertools

import numpy as np

OPERATIONS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
CHANNELS = 16
CELLS_PER_STAGE = 5
IMAGE = 32
INPUT_CHANNELS = 3
CLASSES = 10


def conv(c_in, c_out, kernel, size, batch_norm=True):
    """(params, flops) of a bias-free convolution onto a `size` x `size` map."""
    weights = kernel * kernel * c_in * c_out
    return weights + (2 * c_out if batch_norm else 0), weights * size * size


def cell_costs(operations, channels, size):
    """(params, flops) of one cell's six edges."""
    kernels = {"nor_conv_1x1": 1, "nor_conv_3x3": 3}
    costs = [conv(channels, channels, kernels[op], size)
             for op in operations if op in kernels]
    return sum(p for p, _ in costs), sum(f for _, f in costs)


def skeleton_costs():
    """(params, flops) of everything but the cells: stem, reductions, head."""
    parts = [conv(INPUT_CHANNELS, CHANNELS, 3, IMAGE)]
    for stage in (1, 2):
        c_in, c_out = CHANNELS * 2 ** (stage - 1), CHANNELS * 2 ** stage
        size = IMAGE // 2 ** stage
        parts += [
            conv(c_in, c_out, 3, size),
            conv(c_out, c_out, 3, size),
            conv(c_in, c_out, 1, size, batch_norm=False),
        ]
    last = CHANNELS * 4
    parts.append((2 * last, 0))  # the final batch norm
    parts.append((last * CLASSES + CLASSES, last * CLASSES + CLASSES))
    return sum(p for p, _ in parts), sum(f for _, f in parts)


def network_costs(arch_str):
    """(params, flops) of the whole network of a NAS-Bench-201 `arch_str`."""
    operations = [edge.split("~")[0] for edge in arch_str.strip("|").replace(
        "|+|", "|").split("|")]
    if len(operations) != 6 or not set(operations) <= set(OPERATIONS):
        raise ValueError(
            "Received an invalid value for `arch_str`, expected the six edges "
            f"|op~0|+|op~0|op~1|+|op~0|op~1|op~2|. Received: arch_str={arch_str!r}"
        )
    params, flops = skeleton_costs()
    for stage in range(3):
        p, f = cell_costs(operations, CHANNELS * 2**stage, IMAGE // 2**stage)
        params += CELLS_PER_STAGE * p
        flops += CELLS_PER_STAGE * f
    return params, flops


def all_arch_strs():
    """The 15,625 cells, as NAS-Bench-201 `arch_str`s."""
    for ops in itertools.product(OPERATIONS, repeat=6):
        yield (f"|{ops[0]}~0|+|{ops[1]}~0|{ops[2]}~1|+"
               f"|{ops[3]}~0|{ops[4]}~1|{ops[5]}~2|")


def keras_parameters(arch_str):
    """Trainable parameters of the network `NB201Cell` builds for a cell."""
    import keras
    import keras_tuner as kt

    from keras_nas.spaces import NB201Cell

    space = NB201Cell((IMAGE, IMAGE, INPUT_CHANNELS), CLASSES,
                      channels=CHANNELS, cells_per_stage=CELLS_PER_STAGE)
    hp = kt.HyperParameters()
    for name, value in space.from_arch_str(arch_str).items():
        hp.Fixed(name, value)
    model = space.build(hp)
    count = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    keras.backend.clear_session()
    return count


def read_table(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or "arch_str" not in rows[0]:
        raise SystemExit(f"{path}: expected a CSV with an arch_str column")
    return rows


def add_table_arguments(parser, out):
    """`--table` (the cells to write), `--out` (default `out`) and `--join`."""
    parser.add_argument("--table", default="../shared/data/nb201_cifar10_12ep.csv",
                        help="CSV with an arch_str column; 'all' for the 15,625 cells")
    parser.add_argument("--out", default=out)
    parser.add_argument("--join", action="store_true",
                        help="write the table's columns too")


def table_rows(table):
    """The rows of `--table`: the CSV's, or the 15,625 cells for `all`."""
    if table == "all":
        return [{"arch_str": s} for s in all_arch_strs()]
    return read_table(table)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_table_arguments(parser, "nb201_costs.csv")
    parser.add_argument("--check", type=int, default=0, metavar="N",
                        help="compare N random cells with NB201Cell's Keras model")
    args = parser.parse_args()
    rows = table_rows(args.table)
    costs = [network_costs(row["arch_str"]) for row in rows]
    columns = (list(rows[0]) if args.join else ["arch_str"]) + ["params", "flops"]
    with open(args.out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row, (params, flops) in zip(rows, costs):
            writer.writerow({**row, "params": params, "flops": flops})
    params = np.array([p for p, _ in costs])
    flops = np.array([f for _, f in costs])
    print(f"{len(rows)} architectures written to {args.out} (columns {columns})")
    print(f"params: {params.min() / 1e6:.4f} M to {params.max() / 1e6:.4f} M, "
          f"median {np.median(params) / 1e6:.4f} M, {len(set(params))} distinct values")
    print(f"flops:  {flops.min() / 1e6:.2f} M to {flops.max() / 1e6:.2f} M, "
          f"median {np.median(flops) / 1e6:.2f} M, {len(set(flops))} distinct values")
    rng = np.random.default_rng(0)
    for index in rng.choice(len(rows), size=min(args.check, len(rows)), replace=False):
        arch_str = rows[index]["arch_str"]
        built = keras_parameters(arch_str)
        verdict = "same" if built == costs[index][0] else "DIFFERENT"
        print(f"check {arch_str}: analytic {costs[index][0]}, Keras {built}: {verdict}")


if __name__ == "__main__":
    main()
