"""Argument checks that raise Keras-style errors naming the argument."""

import math
import numbers


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
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < 1
    ):
        raise ValueError(
            f"Received an invalid value for `{name}`, expected a positive "
            f"integer. Received: {name}={value!r}"
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
