"""Inference latency and throughput of a Keras model, measured on this machine."""

import dataclasses
import time

import numpy as np
import tensorflow as tf

from keras_nas import validation


@dataclasses.dataclass(frozen=True)
class LatencySettings:
    """How `measure_latency` and `measure_throughput` time a model.

    Attributes:
        batch_size: Samples per call for `latency_ms` (1: one request).
        repeats: Timed calls; the latency is their median.
        warmup: Untimed calls first (tracing, allocation, caches).
        throughput_batch_size: Samples per call for `throughput`.
        throughput_repeats: Timed calls at that batch size; the throughput
            is the batch size over their median time.
    """

    batch_size: int = 1
    repeats: int = 20
    warmup: int = 3
    throughput_batch_size: int = 256
    throughput_repeats: int = 5

    def __post_init__(self):
        for field in dataclasses.fields(self):
            check = (
                validation.check_non_negative_int
                if field.name == "warmup"
                else validation.check_positive_int
            )
            check(f"latency.{field.name}", getattr(self, field.name))

    @classmethod
    def from_config(cls, config):
        """Settings from a dict of the fields' names (`None`: the defaults).

        Raises:
            ValueError: If a key is not a field's name or a value is not a
                positive integer.
        """
        config = dict(config or {})
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(config) - names)
        if unknown:
            raise ValueError(
                f"Received an invalid value for `latency`: the settings are "
                f"{', '.join(sorted(names))}. Received: {unknown[0]!r}"
            )
        return cls(**config)


def measure_latency(model, settings=LatencySettings()):
    """Median milliseconds of one inference call of `settings.batch_size`.

    The model runs as a traced `tf.function` with `training=False` on
    random inputs of its input shape and dtype (`_sample_inputs`);
    `settings.warmup` calls are not timed.

    Returns:
        A float, or `None` when the model's input shape is not fully known
        (or it has several inputs).
    """
    seconds = _median_call_seconds(
        model, settings.batch_size, settings.repeats, settings.warmup
    )
    return None if seconds is None else seconds * 1000.0


def measure_throughput(model, settings=LatencySettings()):
    """Samples per second at `settings.throughput_batch_size` per call.

    Returns:
        A float, or `None` when the input shape is not fully known.
    """
    seconds = _median_call_seconds(
        model, settings.throughput_batch_size, settings.throughput_repeats,
        min(settings.warmup, 1),
    )
    return None if seconds is None else settings.throughput_batch_size / seconds


def _median_call_seconds(model, batch_size, repeats, warmup):
    inputs = getattr(model, "inputs", None)
    if not inputs or len(inputs) != 1:
        return None
    shape = inputs[0].shape[1:]
    if any(d is None for d in shape):
        return None
    x = tf.constant(_sample_inputs((batch_size, *shape), inputs[0].dtype))
    call = tf.function(lambda batch: model(batch, training=False))
    for _ in range(max(warmup, 1)):  # The first call traces.
        call(x).numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call(x).numpy()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _sample_inputs(shape, dtype):
    """Random inputs of a model's dtype: standard normal numbers, 0..255 for
    uint8 images, word ids of 1 (a word every model's vocabulary has: 0
    is padding) or 0 at random for integer token inputs."""
    rng = np.random.default_rng(0)
    dtype = tf.as_dtype(dtype)
    if dtype == tf.uint8:
        return rng.integers(0, 256, shape).astype("uint8")
    if dtype.is_integer:
        return rng.integers(0, 2, shape).astype(dtype.as_numpy_dtype)
    return rng.standard_normal(shape).astype(dtype.as_numpy_dtype)
