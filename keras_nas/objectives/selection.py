"""Choosing one architecture of a multi-objective search by a rule.

A rule names the objective to optimise first, then limits on other
metrics: `"val_accuracy, latency_ms<=5, params<20000"` takes, among the
completed trials whose `latency_ms` is at most 5 and whose `params` is
below 20,000, the one with the best `val_accuracy`. Without limits it is
the best trial by that objective; without a rule, by the first objective.

Example:

```python
rule = parse_rule("val_accuracy, latency_ms<=5", objectives)
trial, reason = select_trial(trials, objectives, "val_accuracy, latency_ms<=5")
```
"""

import dataclasses
import math
import operator
import re

_OPERATORS = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
}
_LIMIT = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(<=|>=|<|>)\s*([-+0-9.eE]+)\s*$")


@dataclasses.dataclass(frozen=True)
class Limit:
    """A bound on one metric, such as `latency_ms <= 5`."""

    name: str
    comparison: str
    value: float

    def holds(self, value):
        """Whether a measured value meets the bound (a missing one does not)."""
        return value is not None and _OPERATORS[self.comparison](value, self.value)

    def __str__(self):
        return f"{self.name}{self.comparison}{self.value:g}"


@dataclasses.dataclass(frozen=True)
class Rule:
    """The objective optimised first and the limits on the others."""

    objective: object
    limits: tuple = ()

    def __str__(self):
        return ", ".join([self.objective.name, *map(str, self.limits)])


def parse_rule(rule, objectives):
    """Reads a selection rule.

    Args:
        rule: `None` (the first objective), or a text of comma-separated
            parts: the name of one of `objectives`, then limits
            `NAME<=V`, `NAME<V`, `NAME>=V` or `NAME>V` on any metric.
        objectives: The search's `keras_tuner.Objective`s, in order.

    Returns:
        A `Rule`.

    Raises:
        ValueError: If the rule is malformed or its first part is not one
            of the objectives.
    """
    objectives = list(objectives)
    if rule is None:
        return Rule(objectives[0])
    if not isinstance(rule, str) or not rule.strip():
        raise ValueError(
            "Received an invalid value for `select`, expected a text such as "
            f"'{objectives[0].name}, latency_ms<=5'. Received: select={rule!r}"
        )
    first, *rest = [part.strip() for part in rule.split(",")]
    by_name = {objective.name: objective for objective in objectives}
    if first not in by_name:
        raise ValueError(
            "Received an invalid value for `select`: it must start with one "
            f"of the objectives {list(by_name)}. Received: select={rule!r}"
        )
    limits = []
    for part in rest:
        match = _LIMIT.match(part)
        if match is None:
            raise ValueError(
                "Received an invalid value for `select`: each part after the "
                "objective is a limit such as latency_ms<=5 (<=, <, >=, >). "
                f"Received: {part!r} in select={rule!r}"
            )
        name, comparison, value = match.groups()
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise ValueError(
                "Received an invalid value for `select`: the limit of "
                f"{name} must be a number. Received: {part!r}"
            )
        limits.append(Limit(name, comparison, number))
    return Rule(by_name[first], tuple(limits))


def _metric(trial, name):
    if not trial.metrics.exists(name):
        return None
    value = trial.metrics.get_best_value(name)
    return None if value is None else float(value)


def rank_trials(trials, objectives, rule=None):
    """The completed trials meeting a rule's limits, best first.

    Args:
        trials: `keras_tuner.engine.trial.Trial`s of the search.
        objectives: The search's `keras_tuner.Objective`s, in order.
        rule: A selection rule for `parse_rule`, or `None`.

    Returns:
        `(trials, rule)`: the trials that report the rule's objective and
        meet its limits, sorted by that objective (ties in their given
        order), and the parsed `Rule`.

    Raises:
        ValueError: If the rule is malformed, no trial has completed, or no
            completed trial meets the limits (the message names the limit
            and the best value measured for it).
    """
    parsed = parse_rule(rule, objectives)
    completed = [
        t for t in trials
        if t.status == "COMPLETED" and _metric(t, parsed.objective.name) is not None
    ]
    if not completed:
        raise ValueError(f"No completed trial reports {parsed.objective.name}.")
    feasible = [
        t for t in completed
        if all(limit.holds(_metric(t, limit.name)) for limit in parsed.limits)
    ]
    if not feasible:
        raise ValueError(_nothing_meets(parsed, completed))
    sign = 1 if parsed.objective.direction == "max" else -1
    ranked = sorted(
        feasible, key=lambda t: -sign * _metric(t, parsed.objective.name)
    )
    return ranked, parsed


def select_trial(trials, objectives, rule=None):
    """The completed trial a rule chooses, and a line saying why.

    Args:
        trials: `keras_tuner.engine.trial.Trial`s of the search.
        objectives: The search's `keras_tuner.Objective`s, in order.
        rule: A selection rule for `parse_rule`, or `None`.

    Returns:
        `(trial, reason)`, such as `(trial, "best val_accuracy with
        latency_ms<=5: trial 7 (val_accuracy 0.9861, latency_ms 3.1)")`.

    Raises:
        ValueError: As `rank_trials`.
    """
    ranked, parsed = rank_trials(trials, objectives, rule)
    best = ranked[0]
    shown = [parsed.objective.name, *(limit.name for limit in parsed.limits)]
    figures = ", ".join(
        f"{name} {_metric(best, name):.4g}" for name in dict.fromkeys(shown)
    )
    under = f" with {', '.join(map(str, parsed.limits))}" if parsed.limits else ""
    return best, (
        f"best {parsed.objective.name}{under}: trial {best.trial_id} ({figures})"
    )


def _nothing_meets(rule, completed):
    """Says which limit no trial meets, with the best value measured for it."""
    for limit in rule.limits:
        values = [v for v in (_metric(t, limit.name) for t in completed) if v is not None]
        if not any(limit.holds(v) for v in values):
            if not values:
                return (
                    f"No completed trial reports {limit.name}, so none meets "
                    f"{limit} (select={rule})."
                )
            best = min(values) if limit.comparison in ("<", "<=") else max(values)
            return (
                f"No completed trial meets {limit} (the best measured is "
                f"{best:.4g}); relax the limit of select={rule}."
            )
    return f"No completed trial meets every limit of select={rule} at once."
