"""What a trial's model costs, measured before training, and budgets on it.

Every trial records, beside its task's metrics:

| metric | what | direction |
| --- | --- | --- |
| `params` | parameters (weights) of the model | min |
| `flops` | multiply-adds of one inference (`keras_nas.objectives.flops`) | min |
| `latency_ms` | median time of one inference call (`keras_nas.objectives.latency`) | min |
| `throughput` | samples per second at a larger batch | max |
| `model_bytes` | size of the saved weights file (`.weights.h5`) | min |
| `train_seconds_per_epoch` | wall time of `fit` over the epochs it ran, validation included | min |

All but the last are properties of the architecture and are measured on
the untrained model, so that a budget (`Constraints`) rejects an
architecture before it is trained. A figure that cannot be measured (the
FLOPs of a layer `flops` does not know, the latency of a model with
several inputs) is left out, never reported as zero.
"""

import math

from keras_nas import compat
from keras_nas import validation
from keras_nas.objectives.flops import count_flops
from keras_nas.objectives.latency import measure_latency
from keras_nas.objectives.latency import measure_throughput

COSTS = {
    "params": "min",
    "flops": "min",
    "latency_ms": "min",
    "throughput": "max",
    "model_bytes": "min",
    "train_seconds_per_epoch": "min",
}
"""Each cost a trial reports, with the direction that is better."""

CONSTRAINTS = {
    "max_params": "params",
    "max_flops": "flops",
    "max_latency_ms": "latency_ms",
    "max_model_bytes": "model_bytes",
}
"""Each budget `Constraints` takes, with the cost it limits."""

VIOLATION = "constraint_violation"
"""The metric of an infeasible trial: its largest cost over its limit, a
ratio above 1 (`Constraints.violation`)."""


class Constraints:
    """Budgets an architecture must meet to be trained.

    Args:
        max_params: Most parameters.
        max_flops: Most multiply-adds of one inference.
        max_latency_ms: Longest median latency (ms) of one inference.
        max_model_bytes: Largest saved weights file, in bytes.

    Raises:
        ValueError: If a budget is not a positive number.
    """

    def __init__(self, max_params=None, max_flops=None, max_latency_ms=None,
                 max_model_bytes=None):
        given = {
            "max_params": max_params,
            "max_flops": max_flops,
            "max_latency_ms": max_latency_ms,
            "max_model_bytes": max_model_bytes,
        }
        self.limits = {}
        for name, limit in given.items():
            if limit is None:
                continue
            if name == "max_latency_ms":
                validation.check_positive_float(name, limit)
            else:
                validation.check_positive_int(name, limit)
            self.limits[name] = limit

    def __bool__(self):
        return bool(self.limits)

    def get_config(self):
        """The budgets given, by name."""
        return dict(self.limits)

    def cost_limits(self):
        """The budgets by the cost they limit: `{"params": 5000, ...}`."""
        return {CONSTRAINTS[name]: limit for name, limit in self.limits.items()}

    def violation(self, measured):
        """How far over budget an architecture is.

        Args:
            measured: Its costs, a dict of `COSTS` names (`measure_costs`).

        Returns:
            `(ratio, name, value, limit)` of the budget it exceeds most
            (ratio = value / limit > 1), or `None` when it meets them all.

        Raises:
            ValueError: If a limited cost could not be measured.
        """
        worst = None
        for name, limit in self.limits.items():
            cost = CONSTRAINTS[name]
            if cost not in measured:
                raise ValueError(
                    f"Received an invalid value for `{name}`: the {cost} of "
                    "this space's models cannot be measured (see "
                    "keras_nas.objectives.costs). Received: "
                    f"{name}={limit!r}"
                )
            ratio = measured[cost] / limit
            if ratio > 1 and (worst is None or ratio > worst[0]):
                worst = (ratio, name, measured[cost], limit)
        return worst


def measure_costs(model, latency=None):
    """The architecture's costs, measured on the (untrained) model.

    Args:
        model: A built Keras model.
        latency: A `keras_nas.objectives.latency.LatencySettings`, or
            `None` to measure neither `latency_ms` nor `throughput`.

    Returns:
        A dict of the `COSTS` that could be measured, less
        `train_seconds_per_epoch`.
    """
    measured = {"params": float(model.count_params())}
    flops = count_flops(model)
    if flops is not None:
        measured["flops"] = float(flops)
    measured["model_bytes"] = float(_weights_bytes(model))
    if latency is not None:
        for name, measure in (
            ("latency_ms", measure_latency), ("throughput", measure_throughput)
        ):
            value = measure(model, latency)
            if value is not None and math.isfinite(value):
                measured[name] = value
    return measured


def _weights_bytes(model):
    return len(compat.weights_file(model))


def describe_violation(violation):
    """One line for an infeasible trial, e.g. `params 12,345 > max_params 5,000`."""
    _, name, value, limit = violation
    return (
        f"infeasible: {CONSTRAINTS[name]} {_figure(value)} > {name} "
        f"{_figure(limit)}, not trained"
    )


def _figure(value):
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.3g}"


def is_infeasible(trial):
    """Whether a trial's architecture was over a budget (and never trained)."""
    return trial.status == "FAILED" and trial.metrics.exists(VIOLATION)
