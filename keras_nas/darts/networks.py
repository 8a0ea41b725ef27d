"""The one-shot network of a space: each searched decision a `MixedOp`.

A space with a supernet describes it in `space.supernet(fixed)` (a
`keras_nas.spaces.SupernetSpec`): the decisions it mixes and their
candidate values, the values it holds fixed, and a `build(mixed, affine)`
that builds the network with the space's own skeleton, calling `mixed`
wherever a decision is searched. Here `mixed` wraps each candidate's
building code as a layer and mixes them in a `MixedOp`, weighted by the
decision's operation-weight input; a decision mixed at several places (the
same edge in every cell) shares one input, so one set of logits.

As in DARTS, the batch norms inside the candidate operations have no
learned scale or offset by default (`affine=False`): an affine batch norm
could rescale its operation's output and so blur the meaning of the mixing
weights. It also leaves the optimizer fewer variables. The rest of the
network keeps the space's own layers, and the derived architecture is
rebuilt by `space.build(hp)` with its usual batch norms.
"""

import keras

from keras_nas.darts.mixed import MixedOp
from keras_nas.darts.mixed import candidate_layer
from keras_nas.spaces import SearchSpace


def supernet_spec(space, fixed=None):
    """The searched and fixed decisions of `space`'s supernet.

    Args:
        space: A `SearchSpace` with a supernet (`space.has_supernet()`).
        fixed: Optional dict overriding values the space holds fixed during
            the search (see the space's `supernet`).

    Returns:
        The space's `keras_nas.spaces.SupernetSpec`.

    Raises:
        TypeError: If `space` has no supernet.
        ValueError: If `fixed` is not a dict or None, or the space refuses it.
    """
    if not isinstance(space, SearchSpace) or not space.has_supernet():
        raise TypeError(
            "Received an invalid value for `space`, expected a search space "
            "with a supernet (one that implements `SearchSpace.supernet`, such "
            f"as NB201Cell or ConvNet). Received: space={type(space).__name__}"
        )
    if fixed is not None and not isinstance(fixed, dict):
        raise ValueError(
            "Received an invalid value for `fixed`, expected a dict or None. "
            f"Received: fixed={fixed!r}"
        )
    return space.supernet(fixed)


def build_network(space, spec, affine=False):
    """Builds the supernet's functional network.

    Args:
        space: The search space the spec was made from.
        spec: Its `SupernetSpec`.
        affine: Whether the candidate operations' batch norms learn a scale
            and an offset (DARTS: False).

    Returns:
        An uncompiled functional `keras.Model` whose inputs are the space's
        input followed by one operation-weight input per decision, shape
        `(batch, len(candidates))`, in the order of `spec.decisions`.

    Raises:
        ValueError: If the space mixes a decision its spec does not declare,
            or declares one it never mixes.
    """
    weights = {
        name: keras.Input(shape=(len(ops),), name=f"weights_{name}")
        for name, ops in spec.decisions.items()
    }
    used = set()

    def mixed(decision, x, build_candidate, name=None):
        if decision not in weights:
            raise ValueError(
                f"Received an invalid value for `decision`, expected one of the "
                f"decisions {list(spec.decisions)} of {type(space).__name__}'s "
                f"supernet. Received: decision={decision!r}"
            )
        used.add(decision)
        operations = spec.decisions[decision]
        candidates = [
            candidate_layer(
                x.shape[1:], lambda inputs, op=op: build_candidate(inputs, op)
            )
            for op in operations
        ]
        return MixedOp(operations, candidates, name=name)(x, weights[decision])

    inputs, outputs = spec.build(mixed, affine)
    unmixed = [name for name in spec.decisions if name not in used]
    if unmixed:
        raise ValueError(
            f"Received an invalid value for `spec`, expected every decision to "
            f"be mixed in the network of {type(space).__name__}'s supernet. "
            f"Received: spec.decisions with {unmixed} never mixed"
        )
    return keras.Model(
        [inputs, *weights.values()], outputs, name=f"{space.space_name}_supernet"
    )
