"""Reads an architecture out of a supernet's logits, in the space's own values."""

import keras_tuner as kt
import numpy as np

from keras_nas.darts.networks import supernet_spec


def alpha_weights(source, space=None, fixed=None):
    """The softmax weight of every operation of every decision, JSON-safe.

    Args:
        source: A `DartsSupernet`, or a dict from each decision to its logits
            (a list, in the order of the space's operations, as from
            `DartsSupernet.get_alphas()`).
        space: The search space; needed when `source` is a dict.
        fixed: The `fixed` overrides the supernet was built with (they may
            set the decisions, as `ConvNet`'s number of blocks).

    Returns:
        `{decision: {operation: weight}}`, weights summing to 1 per decision.
    """
    spec, logits = _read(source, space, fixed)
    weights = {}
    for name, operations in spec.decisions.items():
        values = np.asarray(logits[name], dtype="float64")
        values = np.exp(values - values.max())
        values /= values.sum()
        weights[name] = {op: float(w) for op, w in zip(operations, values)}
    return weights


def strongest_operation(scores):
    """The operation of highest score, `none` excluded as in DARTS.

    Args:
        scores: Dict from operation to its weight or logit, in the space's
            order (ties go to the first).

    Returns:
        The operation name (`none` only if it is the sole candidate).
    """
    candidates = [op for op in scores if op != "none"] or list(scores)
    return max(candidates, key=lambda op: scores[op])


def derive(source, space, fixed=None):
    """The discrete architecture of a supernet, as the space's values.

    Per searched decision, the strongest operation other than `none`; the
    decisions fixed during the search take their values from the space's
    `SupernetSpec` (`fixed`, and `fixed_when_active` for those the derived
    operations make active, as `ConvNet`'s `filters_i` of a convolution
    block). Only active decisions are returned, in the order the space
    declares them, so `hp.values = derive(...)` and `space.build(hp)` build
    the architecture.

    Args:
        source: A `DartsSupernet`, or a dict from each decision to its
            logits (as from `DartsSupernet.get_alphas()`) or to an
            `{operation: weight}` dict (as from `alpha_weights`).
        space: The space searched.
        fixed: When `source` is a dict: the `fixed` overrides of the search.

    Returns:
        Dict from hyperparameter name to value.

    Raises:
        ValueError: If `source` does not match the space's decisions.

    Example:

    ```python
    values = derive(search.supernet, space)
    model = space.build_architecture(values)
    ```
    """
    spec, logits = _read(source, space, fixed)
    values = {**spec.fixed, **spec.fixed_when_active}
    for name, operations in spec.decisions.items():
        values[name] = strongest_operation(dict(zip(operations, logits[name])))
    return active_values(space, values)


def active_values(space, values):
    """Keeps the active decisions of `values`, in the space's order.

    Raises:
        ValueError: If an active decision of the space has no value.
    """
    hp = kt.HyperParameters()
    space.declare_hyperparameters(hp)
    hp.values = dict(values)
    active = {}
    for parameter in hp.space:
        if not hp.is_active(parameter):
            continue
        if parameter.name not in values:
            raise ValueError(
                f"Received an invalid value for `values`, expected a value for "
                f"the active decision {parameter.name!r}. Received: "
                f"values={values!r}"
            )
        active[parameter.name] = values[parameter.name]
    return active


def _read(source, space, fixed):
    if hasattr(source, "get_alphas") and hasattr(source, "spec"):
        return source.spec, source.get_alphas()
    if space is None:
        raise ValueError(
            "Received an invalid value for `space`, expected the search space "
            "when `source` is a dict of logits. Received: space=None"
        )
    spec = supernet_spec(space, fixed)
    if not isinstance(source, dict) or set(source) != set(spec.decisions):
        raise ValueError(
            "Received an invalid value for `source`, expected a DartsSupernet "
            f"or a dict with the decisions {list(spec.decisions)}. "
            f"Received: source={source!r}"
        )
    logits = {}
    for name, operations in spec.decisions.items():
        value = source[name]
        if isinstance(value, dict):
            if set(value) != set(operations):
                raise ValueError(
                    f"Received an invalid value for `source[{name!r}]`, expected "
                    f"the operations {list(operations)}. Received: "
                    f"source[{name!r}]={value!r}"
                )
            # Weights of a softmax: their logs rank operations like logits.
            value = [np.log(max(float(value[op]), 1e-300)) for op in operations]
        value = [float(v) for v in value]
        if len(value) != len(operations):
            raise ValueError(
                f"Received an invalid value for `source[{name!r}]`, expected "
                f"{len(operations)} logits, one per operation of "
                f"{list(operations)}. Received: source[{name!r}]={source[name]!r}"
            )
        logits[name] = value
    return spec, logits
