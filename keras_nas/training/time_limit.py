"""Time budgets: durations such as `10m`, and stopping a trial at the limit."""

import re
import time

import keras

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


def parse_duration(name, value):
    """Reads a duration in seconds from a number or a text such as `1h30m`.

    Args:
        name: The argument's name, for the error message.
        value: Seconds as a positive number, or a text of numbers with the
            units `s`, `m`, `h`, `d` (`"90s"`, `"10m"`, `"1h30m"`, `"2.5h"`);
            a bare number in a text is seconds.

    Returns:
        The duration in seconds, a positive float.

    Raises:
        ValueError: If `value` is not a positive duration.
    """
    seconds = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text)
        elif text and _DURATION.sub("", text) == "":
            seconds = sum(
                float(number) * _UNITS[unit]
                for number, unit in _DURATION.findall(text)
            )
    if seconds is None or not seconds > 0 or seconds == float("inf"):
        raise ValueError(
            f"Received an invalid value for `{name}`, expected a positive "
            "number of seconds or a duration such as '90s', '10m' or "
            f"'1h30m'. Received: {name}={value!r}"
        )
    return seconds


class TimeLimitReached(Exception):
    """The search's time limit passed while a trial was training."""


class StopAtDeadline(keras.callbacks.Callback):
    """Stops `model.fit` after the batch during which the deadline passes.

    Args:
        deadline: A `time.monotonic()` value.
    """

    def __init__(self, deadline):
        super().__init__()
        self.deadline = deadline
        self.reached = False

    def on_train_batch_end(self, batch, logs=None):
        if time.monotonic() >= self.deadline:
            self.reached = True
            self.model.stop_training = True
