"""`SupernetSpec`: what a space's one-shot supernet mixes, from `space.supernet`."""

import dataclasses
from typing import Callable


@dataclasses.dataclass(frozen=True)
class SupernetSpec:
    """What a supernet searches, what it holds fixed, and how it is built.

    A space returns one from `SearchSpace.supernet(fixed)`; a one-shot search
    (`keras_nas.darts`) builds the network with `build`, trains one logit
    vector per entry of `decisions`, and maps the strongest candidates back
    onto the space's values with `fixed` and `fixed_when_active`.

    Attributes:
        decisions: Dict from each searched hyperparameter name to its
            candidate values (operation names, strings), in declaration
            order.
        build: `build(mixed, affine)` builds the supernet's functional
            network and returns `(inputs, outputs)`: the space's own input
            and its outputs, with every searched decision built by
            `mixed(decision, x, build_candidate, name=None)`, which returns
            the mixture of `build_candidate(x, value)` over the decision's
            candidate values. `build_candidate` returns the candidate's
            output (of the shape of `x`), `x` itself for an identity, or
            `None` for the zero operation. A decision may be mixed at several
            places (one set of logits); `name` names the mixed layer.
            `affine` says whether the batch norms inside the candidates learn
            a scale and an offset (DARTS: False).
        fixed: Dict from hyperparameter name to the value it takes during
            the search and in the derived architecture.
        fixed_when_active: Dict from hyperparameter name to its value in the
            derived architecture when the derived values make it active
            (`ConvNet`'s `filters_i` of a convolution block).
        parameter_free: The candidate values without weights, which the
            collapse guard watches.
    """

    decisions: dict
    build: Callable = dataclasses.field(repr=False, compare=False)
    fixed: dict = dataclasses.field(default_factory=dict)
    fixed_when_active: dict = dataclasses.field(default_factory=dict)
    parameter_free: tuple = ()

    def __post_init__(self):
        if (
            not isinstance(self.decisions, dict)
            or not self.decisions
            or not all(self.decisions.values())
        ):
            raise ValueError(
                "Received an invalid value for `decisions`, expected a "
                "non-empty dict from each searched hyperparameter name to its "
                f"candidate values. Received: decisions={self.decisions!r}"
            )
