"""`NB201Cell`: the NAS-Bench-201 cell space inside its network skeleton."""

import re

import keras

from keras_nas import validation
from keras_nas.encoding import RepeatedStructure
from keras_nas.layers import Zeros
from keras_nas.spaces.base import SearchSpace
from keras_nas.spaces.base import batch_norm_layer
from keras_nas.spaces.supernet import SupernetSpec

OPERATIONS = (
    "none",
    "skip_connect",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "avg_pool_3x3",
)
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
"""The cell's edges as (target node, source node), in `arch_str` order."""
PARAMETER_FREE = ("none", "skip_connect", "avg_pool_3x3")
"""The operations without weights."""

_NODE_PATTERN = re.compile(r"^\|(?:[a-z0-9_]+~\d\|)+$")


def edge_name(target, source):
    """The hyperparameter name of the edge `source -> target`."""
    return f"edge_{target}_{source}"


def to_arch_str(values):
    """Writes a cell's edge operations as a NAS-Bench-201 `arch_str`.

    Args:
        values: Dict with the six `edge_T_S` operations.

    Returns:
        A string like `|nor_conv_3x3~0|+|none~0|skip_connect~1|+|...|`.
    """
    nodes = []
    for target in (1, 2, 3):
        ops = [
            f"{values[edge_name(target, source)]}~{source}"
            for source in range(target)
        ]
        nodes.append("|" + "|".join(ops) + "|")
    return "+".join(nodes)


def from_arch_str(arch_str):
    """Parses a NAS-Bench-201 `arch_str` into the six edge decisions.

    Args:
        arch_str: A string like `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`.

    Returns:
        Dict from `edge_T_S` to the operation name, in `EDGES` order.

    Raises:
        ValueError: If the string is not a 3-node NAS-Bench-201 cell of known
            operations.
    """
    def invalid(reason):
        return ValueError(
            "Received an invalid value for `arch_str`, expected "
            f"'|op~0|+|op~0|op~1|+|op~0|op~1|op~2|' ({reason}). "
            f"Received: arch_str={arch_str!r}"
        )

    if not isinstance(arch_str, str):
        raise invalid("not a string")
    nodes = arch_str.split("+")
    if len(nodes) != 3:
        raise invalid("three nodes joined by '+'")
    values = {}
    for target, node in enumerate(nodes, start=1):
        if not _NODE_PATTERN.match(node):
            raise invalid(f"node {target} is malformed")
        entries = node.strip("|").split("|")
        if len(entries) != target:
            raise invalid(f"node {target} needs {target} inputs")
        for expected_source, entry in enumerate(entries):
            op, source = entry.split("~")
            if int(source) != expected_source:
                raise invalid(f"node {target} input {expected_source} names ~{source}")
            if op not in OPERATIONS:
                raise invalid(f"unknown operation {op!r}")
            values[edge_name(target, expected_source)] = op
    return {edge_name(t, s): values[edge_name(t, s)] for t, s in EDGES}


def _edge_op(x, operation, channels, affine=True):
    if operation == "none":
        return None
    if operation == "skip_connect":
        return x
    if operation == "avg_pool_3x3":
        return keras.layers.AveragePooling2D(3, strides=1, padding="same")(x)
    kernel = 1 if operation == "nor_conv_1x1" else 3
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.Conv2D(channels, kernel, padding="same", use_bias=False)(x)
    return batch_norm_layer(affine)(x)


def _cell(x, edge):
    """One cell: node `T` sums `edge(nodes[S], edge_T_S)` over `S < T`.

    `edge` returns `None` for an edge that adds nothing (`none`).
    """
    nodes = [x]
    for target in (1, 2, 3):
        inputs = []
        for source in range(target):
            out = edge(nodes[source], edge_name(target, source))
            if out is not None:
                inputs.append(out)
        if not inputs:
            nodes.append(Zeros()(x))
        elif len(inputs) == 1:
            nodes.append(inputs[0])
        else:
            nodes.append(keras.layers.Add()(inputs))
    return nodes[3]


def _reduction_block(x, channels):
    """The NAS-Bench-201 residual block: stride-2 3x3 convs, pooled shortcut."""
    h = keras.layers.Activation("relu")(x)
    h = keras.layers.Conv2D(channels, 3, strides=2, padding="same", use_bias=False)(h)
    h = batch_norm_layer()(h)
    h = keras.layers.Activation("relu")(h)
    h = keras.layers.Conv2D(channels, 3, padding="same", use_bias=False)(h)
    h = batch_norm_layer()(h)
    shortcut = keras.layers.AveragePooling2D(2, strides=2, padding="same")(x)
    shortcut = keras.layers.Conv2D(channels, 1, use_bias=False)(shortcut)
    return keras.layers.Add()([h, shortcut])


class NB201Cell(SearchSpace):
    """The NAS-Bench-201 space (Dong and Yang, ICLR 2020).

    One cell of 4 nodes and 6 edges, each edge one of `operations`, repeated
    in the NAS-Bench-201 skeleton: a 3x3 convolution stem, 3 stages of
    `cells_per_stage` cells (channels `C`, `2C`, `4C`) joined by residual
    reduction blocks, global average pooling and a classifier. NAS-Bench-201
    itself uses `channels=16, cells_per_stage=5`; the defaults here are
    smaller, for quick searches on small images.

    Decisions: `edge_T_S` for the edge from node `S` to node `T`, in the
    order of `EDGES`. `to_arch_str` and `from_arch_str` map them exactly to
    and from NAS-Bench-201's `arch_str`.

    Args:
        input_shape: `(height, width, channels)` of one image.
        num_classes: Number of classes of a multiclass task.
        operations: Operations an edge may take, from `OPERATIONS`.
        channels: Channels of the first stage.
        cells_per_stage: Cells per stage (`N` in the paper).
        learning_rate: Adam learning rate.
        **options: `task`, `normalize` (default: off) and
            `normalization`, as in `SearchSpace`.

    Example:

    ```python
    space = NB201Cell(input_shape=(8, 8, 1), num_classes=10)
    space.from_arch_str("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+"
                        "|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")
    ```
    """

    space_name = "nb201"
    image_like = True
    modalities = ("image", "audio")

    def __init__(
        self,
        input_shape,
        num_classes=None,
        operations=OPERATIONS,
        channels=16,
        cells_per_stage=1,
        learning_rate=1e-3,
        **options,
    ):
        super().__init__(input_shape, num_classes, learning_rate, **options)
        self.operations = validation.check_choices(
            "operations", operations, OPERATIONS
        )
        self.channels = validation.check_positive_int("channels", channels)
        self.cells_per_stage = validation.check_positive_int(
            "cells_per_stage", cells_per_stage
        )

    def _decide(self, hp):
        return {
            edge_name(t, s): hp.Choice(edge_name(t, s), list(self.operations))
            for t, s in EDGES
        }

    def _build_network(self, decisions):
        inputs = self._inputs()
        outputs = self._network_outputs(
            inputs,
            lambda x, channels, name: _cell(
                x, lambda h, edge: _edge_op(h, decisions[edge], channels)
            ),
        )
        return keras.Model(inputs, outputs, name="nb201")

    def supernet(self, fixed=None):
        """The one-shot supernet: every edge `edge_T_S` of the cell is mixed.

        As in DARTS and NAS-Bench-201's DARTS baseline, all cells share one
        set of edge logits (there is one cell type); the stem, the reduction
        blocks and the head are the space's own.

        Args:
            fixed: None or an empty dict: every decision is searched.

        Returns:
            A `keras_nas.spaces.SupernetSpec`.

        Raises:
            ValueError: If `fixed` is not empty.
        """
        if fixed:
            raise ValueError(
                "Received an invalid value for `fixed`, expected None for "
                f"NB201Cell (it searches every decision). Received: fixed={fixed!r}"
            )

        def build(mixed, affine):
            def mixed_cell(x, channels, prefix):
                return _cell(
                    x,
                    lambda h, edge: mixed(
                        edge,
                        h,
                        lambda g, operation: _edge_op(g, operation, channels, affine),
                        name=f"{prefix}_{edge}",
                    ),
                )

            inputs = self._inputs()
            return inputs, self._network_outputs(inputs, mixed_cell)

        return SupernetSpec(
            decisions={edge_name(t, s): tuple(self.operations) for t, s in EDGES},
            build=build,
            parameter_free=tuple(
                op for op in self.operations if op in PARAMETER_FREE
            ),
        )

    def _network_outputs(self, inputs, cell):
        """The network around its cells, for this space and its supernet.

        A stem, three stages of `cells_per_stage` cells with a reduction
        block before stages 2 and 3, and the head.

        Args:
            inputs: The image input.
            cell: `cell(x, channels, name)` builds one cell; `name` is
                `stage{s}_cell{c}`.

        Returns:
            The class probabilities.
        """
        x = keras.layers.Conv2D(self.channels, 3, padding="same", use_bias=False)(
            self._features(inputs)
        )
        x = batch_norm_layer()(x)
        for stage in range(3):
            channels = self.channels * 2**stage
            if stage > 0:
                x = _reduction_block(x, channels)
            for index in range(self.cells_per_stage):
                x = cell(x, channels, f"stage{stage}_cell{index}")
        x = batch_norm_layer()(x)
        x = keras.layers.Activation("relu")(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
        return self._classifier(x)

    def structure(self):
        return RepeatedStructure(
            kind="cell",
            units=tuple({"operation": edge_name(t, s)} for t, s in EDGES),
        )

    def describe(self, values):
        description = super().describe(values)
        description["arch_str"] = to_arch_str(values)
        return description

    def to_arch_str(self, values):
        """The NAS-Bench-201 `arch_str` of a trial's values."""
        return to_arch_str(values)

    def from_arch_str(self, arch_str):
        """The trial values of a NAS-Bench-201 `arch_str`.

        Raises:
            ValueError: If the string is malformed or uses an operation this
                space does not offer.
        """
        values = from_arch_str(arch_str)
        unavailable = sorted(set(values.values()) - set(self.operations))
        if unavailable:
            raise ValueError(
                f"Received an invalid value for `arch_str`: operations "
                f"{unavailable} are not among this space's {list(self.operations)}. "
                f"Received: arch_str={arch_str!r}"
            )
        return values

    def get_config(self):
        return {
            **super().get_config(),
            "operations": list(self.operations),
            "channels": self.channels,
            "cells_per_stage": self.cells_per_stage,
        }
