"""The one-shot networks of the built-in spaces: each decision a `MixedOp`.

A supernet is built by its space's own skeleton (`_network_outputs`: stem,
stages or blocks, head) and building functions for every candidate
operation, with each searched decision replaced by a `MixedOp`:

- `NB201Cell`: every edge `edge_T_S` of the cell is searched. As in DARTS
  and NAS-Bench-201's DARTS baseline, all cells share one set of edge
  weights (there is one cell type); the reduction blocks are fixed.
- `ConvNet`: the per-block operations `op_i` are searched. The other
  decisions are fixed during the search (`fixed` overrides the defaults):
  `num_blocks = max_blocks`; `pool_i = "none"` when the space offers it,
  else its first pooling option; `skip_i = False`; and
  `filters_i = min(filters)`, the stem's width, so that `identity` and the
  convolutions of a block have the same shape and can be mixed (this one
  is not overridable). `derive` maps these values back onto the space.

As in DARTS, the batch norms inside the candidate operations have no
learned scale or offset by default (`affine=False`): an affine batch norm
could rescale its operation's output and so blur the meaning of the mixing
weights. It also leaves the optimizer fewer variables. The stem, the
reduction blocks and the head keep the space's own layers, and the derived
architecture is rebuilt by `space.build(hp)` with its usual batch norms.
"""

import dataclasses

import keras

from keras_nas import validation
from keras_nas.darts.mixed import MixedOp
from keras_nas.darts.mixed import candidate_layer
from keras_nas.spaces.conv import ConvNet
from keras_nas.spaces.conv import _conv_block
from keras_nas.spaces.nb201 import EDGES
from keras_nas.spaces.nb201 import NB201Cell
from keras_nas.spaces.nb201 import _edge_op
from keras_nas.spaces.nb201 import edge_name

PARAMETER_FREE = {
    "nb201": ("none", "skip_connect", "avg_pool_3x3"),
    "convnet": ("identity",),
}
"""The parameter-free operations of each space, watched by the collapse guard."""

_CONVNET_FIXED = ("num_blocks", "pool", "skip")


@dataclasses.dataclass(frozen=True)
class SupernetSpec:
    """What a supernet searches and what it holds fixed.

    Attributes:
        decisions: Dict from each searched hyperparameter name to its
            candidate values (the operations), in declaration order.
        fixed: Dict from hyperparameter name to the value it is fixed to
            during the search (`ConvNet`'s depth, pooling and skips).
        block_filters: `ConvNet` only: the `filters_i` value of a block whose
            derived operation is a convolution.
        parameter_free: The operations the collapse guard counts.
    """

    decisions: dict
    fixed: dict
    block_filters: int = None
    parameter_free: tuple = ()


def supernet_spec(space, fixed=None):
    """The searched and fixed decisions of `space`'s supernet.

    Args:
        space: A `NB201Cell` or `ConvNet`.
        fixed: `ConvNet` only: optional dict overriding the values fixed
            during the search, with keys among `"num_blocks"`, `"pool"`
            (one of the space's `pooling`, used after every block) and
            `"skip"` (a bool, used for every block).

    Returns:
        A `SupernetSpec`.

    Raises:
        TypeError: If `space` is not a `NB201Cell` or `ConvNet`.
        ValueError: If `fixed` has an unknown key or an invalid value.
    """
    fixed = {} if fixed is None else fixed
    if not isinstance(fixed, dict):
        raise ValueError(
            "Received an invalid value for `fixed`, expected a dict or None. "
            f"Received: fixed={fixed!r}"
        )
    if isinstance(space, NB201Cell):
        if fixed:
            raise ValueError(
                "Received an invalid value for `fixed`, expected None for "
                f"NB201Cell (it searches every decision). Received: fixed={fixed!r}"
            )
        return SupernetSpec(
            decisions={edge_name(t, s): tuple(space.operations) for t, s in EDGES},
            fixed={},
            parameter_free=PARAMETER_FREE["nb201"],
        )
    if isinstance(space, ConvNet):
        settings = _convnet_settings(space, fixed)
        num_blocks = settings["num_blocks"]
        values = {"num_blocks": num_blocks}
        for i in range(num_blocks):
            values[f"pool_{i}"] = settings["pool"]
            if space.skip_connections:
                values[f"skip_{i}"] = settings["skip"]
        return SupernetSpec(
            decisions={f"op_{i}": tuple(space.operations) for i in range(num_blocks)},
            fixed=values,
            block_filters=min(space.filters),
            parameter_free=PARAMETER_FREE["convnet"],
        )
    raise TypeError(
        "Received an invalid value for `space`, expected a NB201Cell or "
        f"ConvNet. Received: space={type(space).__name__}"
    )


def build_network(space, spec, affine=False):
    """Builds the supernet's functional network.

    Args:
        space: The `NB201Cell` or `ConvNet` the spec was made from.
        spec: Its `SupernetSpec`.
        affine: Whether the candidate operations' batch norms learn a scale
            and an offset (DARTS: False).

    Returns:
        An uncompiled functional `keras.Model` whose inputs are the images
        followed by one operation-weight input per decision, shape
        `(batch, len(operations))`, in the order of `spec.decisions`.
    """
    inputs = space._inputs()
    weights = {
        name: keras.Input(shape=(len(ops),), name=f"weights_{name}")
        for name, ops in spec.decisions.items()
    }
    if isinstance(space, NB201Cell):
        outputs = _nb201_outputs(space, spec, inputs, weights, affine)
    else:
        outputs = _convnet_outputs(space, spec, inputs, weights, affine)
    return keras.Model(
        [inputs, *weights.values()], outputs, name=f"{space.space_name}_supernet"
    )


def _convnet_settings(space, fixed):
    unknown = sorted(set(fixed) - set(_CONVNET_FIXED))
    if unknown:
        raise ValueError(
            f"Received an invalid value for `fixed`, expected keys among "
            f"{list(_CONVNET_FIXED)}. Received: fixed={fixed!r}"
        )
    pool = "none" if "none" in space.pooling else space.pooling[0]
    settings = {"num_blocks": space.max_blocks, "pool": pool, "skip": False}
    settings.update(fixed)
    num_blocks = settings["num_blocks"]
    validation.check_positive_int("fixed['num_blocks']", num_blocks)
    if not space.min_blocks <= num_blocks <= space.max_blocks:
        raise ValueError(
            "Received an invalid value for `fixed['num_blocks']`, expected "
            f"an integer in [{space.min_blocks}, {space.max_blocks}]. "
            f"Received: fixed['num_blocks']={num_blocks!r}"
        )
    validation.check_one_of("fixed['pool']", settings["pool"], space.pooling)
    skip = settings["skip"]
    if not isinstance(skip, bool) or (skip and not space.skip_connections):
        raise ValueError(
            "Received an invalid value for `fixed['skip']`, expected a bool "
            "(False when the space has no skip connections). "
            f"Received: fixed['skip']={skip!r}"
        )
    return settings


def _mixed(name, operations, x, weights, build_fn):
    candidates = [
        candidate_layer(x.shape[1:], lambda inputs, op=op: build_fn(inputs, op))
        for op in operations
    ]
    return MixedOp(operations, candidates, name=name)(x, weights)


def _nb201_outputs(space, spec, inputs, weights, affine):
    return space._network_outputs(
        inputs,
        lambda x, channels, name: _mixed_cell(
            x, spec, weights, channels, affine, prefix=name
        ),
    )


def _mixed_cell(x, spec, weights, channels, affine, prefix):
    nodes = [x]
    for target in (1, 2, 3):
        inputs = []
        for source in range(target):
            name = edge_name(target, source)
            inputs.append(
                _mixed(
                    f"{prefix}_{name}",
                    spec.decisions[name],
                    nodes[source],
                    weights[name],
                    lambda h, op: _edge_op(h, op, channels, affine),
                )
            )
        nodes.append(inputs[0] if len(inputs) == 1 else keras.layers.Add()(inputs))
    return nodes[3]


def _convnet_outputs(space, spec, inputs, weights, affine):
    blocks = [
        {"pool": spec.fixed[f"pool_{i}"], "skip": spec.fixed.get(f"skip_{i}", False)}
        for i in range(spec.fixed["num_blocks"])
    ]

    def operation(x, index, block):
        name = f"op_{index}"
        return _mixed(
            f"mixed_{name}",
            spec.decisions[name],
            x,
            weights[name],
            lambda inputs, op: _conv_block(inputs, op, spec.block_filters, affine),
        )

    return space._network_outputs(inputs, blocks, operation)
