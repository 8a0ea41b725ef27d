"""Argument checks that raise Keras-style errors naming the argument."""

import math
import numbers

import numpy as np

from keras_nas.disk_arrays import chunks
from keras_nas.disk_arrays import is_array

MAX_FEATURE_MAGNITUDE = float(np.sqrt(np.finfo(np.float32).max))
"""The largest feature magnitude accepted, about 1.8e19 (the square root of
the largest float32).

A feature's variance is at most the square of its largest magnitude, so
below this bound the variance that input normalisation divides by (and any
square of a feature) is a finite float32; beyond it the scaling overflows.
"""


def check_positive_int(name, value, allow_none=False):
    """Checks that `value` is a positive integer.

    Args:
        name: The argument's name, used in the message.
        value: The value received.
        allow_none: Whether `None` is accepted.

    Returns:
        The value, unchanged.

    Raises:
        ValueError: If the value is not a positive integer.
    """
    if value is None and allow_none:
        return value
    return _check_int_at_least(name, value, 1, "a positive integer")


def check_non_negative_int(name, value):
    """Checks that `value` is an integer of at least 0; returns it as an int.

    Raises:
        ValueError: If the value is not a non-negative integer.
    """
    return _check_int_at_least(name, value, 0, "a non-negative integer")


def _check_int_at_least(name, value, minimum, expected):
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < minimum
    ):
        raise ValueError(
            f"Received an invalid value for `{name}`, expected {expected}. "
            f"Received: {name}={value!r}"
        )
    return int(value)


def check_fraction(name, value):
    """Checks that `value` is a float in the open interval (0, 1)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(
            f"Received an invalid value for `{name}`, expected a float in "
            f"(0, 1). Received: {name}={value!r}"
        )
    if not 0.0 < value < 1.0:
        raise ValueError(
            f"Received an invalid value for `{name}`, expected a float in "
            f"(0, 1). Received: {name}={value!r}"
        )
    return float(value)


def check_probability(name, value):
    """Checks that `value` is a number in the closed interval [0, 1]."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not 0.0 <= value <= 1.0
    ):
        raise ValueError(
            f"Received an invalid value for `{name}`, expected a probability "
            f"in [0, 1]. Received: {name}={value!r}"
        )
    return float(value)


def check_one_of(name, value, allowed):
    """Checks that `value` is one of `allowed` and returns it."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(
            f"Received an invalid value for `{name}`, expected one of "
            f"{sorted(allowed)}. Received: {name}={value!r}"
        )
    return value


def check_choices(name, values, allowed):
    """Checks a non-empty list of distinct options drawn from `allowed`.

    Args:
        name: The argument's name, used in the message.
        values: The sequence received.
        allowed: The options that may appear.

    Returns:
        The values as a tuple.

    Raises:
        ValueError: If `values` is empty, repeats an option, or holds one
            outside `allowed`.
    """
    if isinstance(values, str) or not hasattr(values, "__iter__"):
        raise ValueError(
            f"Received an invalid value for `{name}`, expected a list drawn "
            f"from {list(allowed)}. Received: {name}={values!r}"
        )
    values = tuple(values)
    unknown = [v for v in values if v not in allowed]
    if not values or unknown or len(set(values)) != len(values):
        raise ValueError(
            f"Received an invalid value for `{name}`, expected a non-empty "
            f"list of distinct options from {list(allowed)}. "
            f"Received: {name}={list(values)!r}"
        )
    return values


def check_positive_ints(name, values):
    """Checks a non-empty list of distinct positive integers (widths)."""
    if isinstance(values, (str, numbers.Number)) or not hasattr(
        values, "__iter__"
    ):
        raise ValueError(
            f"Received an invalid value for `{name}`, expected a non-empty "
            f"list of positive integers. Received: {name}={values!r}"
        )
    values = tuple(values)
    bad = [
        v
        for v in values
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1
    ]
    if not values or bad or len(set(values)) != len(values):
        raise ValueError(
            f"Received an invalid value for `{name}`, expected a non-empty "
            f"list of distinct positive integers. Received: {name}={list(values)!r}"
        )
    return tuple(int(v) for v in values)


def check_depth_limits(unit, fewest, most):
    """Checks `min_<unit>` and `max_<unit>`: positive, the first not above.

    Returns:
        `(fewest, most)` as ints.
    """
    fewest = check_positive_int(f"min_{unit}", fewest)
    most_checked = check_positive_int(f"max_{unit}", most)
    if most_checked < fewest:
        raise ValueError(
            f"Received an invalid value for `max_{unit}`, expected at least "
            f"min_{unit}={fewest}. Received: max_{unit}={most!r}"
        )
    return fewest, most_checked


def check_dropout_rates(name, values):
    """Checks that `values` is a non-empty list of distinct floats in [0, 1)."""
    rates = tuple(values) if hasattr(values, "__iter__") else ()
    if not rates or any(
        isinstance(r, bool) or not isinstance(r, (int, float)) or not 0 <= r < 1
        for r in rates
    ) or len(set(rates)) != len(rates):
        raise ValueError(
            f"Received an invalid value for `{name}`, expected a non-empty "
            f"list of distinct floats in [0, 1). Received: {name}={values!r}"
        )
    return tuple(float(r) for r in rates)


def check_positive_float(name, value):
    """Checks that `value` is a positive real number and returns it."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not value > 0
        or not math.isfinite(value)
    ):
        raise ValueError(
            f"Received an invalid value for `{name}`, expected a positive "
            f"number. Received: {name}={value!r}"
        )
    return float(value)


def check_non_negative_float(name, value):
    """Checks that `value` is a non-negative real number and returns it."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not value >= 0
        or not math.isfinite(value)
    ):
        raise ValueError(
            f"Received an invalid value for `{name}`, expected a non-negative "
            f"number. Received: {name}={value!r}"
        )
    return float(value)


def check_bool(name, value):
    """Checks that `value` is a bool and returns it."""
    if not isinstance(value, bool):
        raise ValueError(
            f"Received an invalid value for `{name}`, expected a bool. "
            f"Received: {name}={value!r}"
        )
    return value


def check_known_arguments(owner, arguments, known):
    """Checks that every key of `arguments` is one of `known`.

    Args:
        owner: What takes the arguments, for the message (e.g. "the 'mlp'
            space").
        arguments: A dict of argument names to values.
        known: The accepted names, in the order the message lists them.

    Raises:
        ValueError: Naming the first unknown argument and its value.
    """
    for key in arguments:
        if key not in known:
            raise ValueError(
                f"Received an invalid argument for {owner}: {key!r}; it takes "
                f"{', '.join(known)}. Received: {key}={arguments[key]!r}"
            )


def fit_data(fit_args, fit_kwargs):
    """The `(x, y)` of a `fit` call, given positionally or by keyword.

    Args:
        fit_args: Positional arguments of `fit`.
        fit_kwargs: Keyword arguments of `fit`.

    Returns:
        `(x, y)`; either is `None` when not given.
    """
    x = fit_args[0] if fit_args else fit_kwargs.get("x")
    y = fit_args[1] if len(fit_args) > 1 else fit_kwargs.get("y")
    return x, y


def check_fit_data(space, fit_args, fit_kwargs):
    """Checks NumPy inputs of `fit` against a space's input shape.

    Labels are checked by the space's task when it encodes them.

    Args:
        space: A `SearchSpace` (its `input_shape`).
        fit_args: Positional arguments of `fit`.
        fit_kwargs: Keyword arguments of `fit`.

    Raises:
        ValueError: If samples do not have the space's input shape, or hold
            NaN or infinite values or values of a magnitude above
            `MAX_FEATURE_MAGNITUDE`.
    """
    x, _ = fit_data(fit_args, fit_kwargs)
    inputs = [("x", x)]
    validation_data = fit_kwargs.get("validation_data")
    if isinstance(validation_data, (tuple, list)) and len(validation_data) >= 2:
        inputs.append(("validation_data[0]", validation_data[0]))
    for name, value in inputs:
        if not is_array(value):
            continue
        if value.shape[1:] != space.input_shape:
            raise ValueError(
                f"Received an invalid value for `{name}`: samples of shape "
                f"{value.shape[1:]} do not fit the space's input_shape "
                f"{space.input_shape}. Received: {name}.shape={value.shape}"
            )
        if value.dtype.kind == "f":
            start = 0
            for part in chunks(value):
                _check_finite(name, part, start)
                start += len(part)


def _check_finite(name, value, start):
    """Refuses NaN, infinite or too large values in rows from `start` on."""
    bad = ~np.isfinite(value)
    if bad.any():
        first = np.argwhere(bad)[0].tolist()
        first[0] += start
        raise ValueError(
            f"Received an invalid value for `{name}`: {int(bad.sum())} "
            f"NaN or infinite values, the first at index {first}."
        )
    large = np.abs(value) > MAX_FEATURE_MAGNITUDE
    if large.any():
        first = np.argwhere(large)[0].tolist()
        magnitude = value[tuple(first)]
        first[0] += start
        raise ValueError(
            f"Received an invalid value for `{name}`: {int(large.sum())} "
            f"values of magnitude above {MAX_FEATURE_MAGNITUDE:.3g}, the "
            f"first at index {first} (it is {magnitude:.3g}): "
            "their variance overflows float32 when inputs are scaled; "
            "rescale those features."
        )
