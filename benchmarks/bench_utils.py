"""What the benchmark scripts share: machine facts, warm-up, argument checks."""

import gc
import os
import platform

import keras
import keras_tuner as kt
import numpy as np
import tensorflow as tf


def load_average():
    """The 1, 5 and 15 minute load averages as text ("unknown" if unavailable)."""
    try:
        return " ".join(f"{load:.2f}" for load in os.getloadavg())
    except OSError:
        return "unknown"


def machine_line():
    """Versions, CPUs, devices and load, for the head of a benchmark's output."""
    devices = [d.device_type for d in tf.config.list_logical_devices()]
    return (
        f"python {platform.python_version()}, TensorFlow {tf.__version__}, "
        f"Keras {keras.__version__}, KerasTuner {kt.__version__}; "
        f"{os.cpu_count()} CPUs, devices {devices}; load average {load_average()}"
    )


def warm_up(data, seed=0):
    """One build and fit of a tiny model, so TensorFlow's start-up is not timed."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input(shape=data.x_train.shape[1:]),
            keras.layers.Conv2D(4, 3, padding="same"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(data.num_classes, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=1,
        batch_size=32,
        verbose=0,
    )


def mean_se(values):
    """The mean of `values` and its standard error (`nan` for fewer than two)."""
    values = np.asarray(values, dtype="float64")
    if len(values) < 2:
        return float(values.mean()), float("nan")
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values)))


def settle():
    """Frees what earlier runs left behind, untimed, so no run pays for another."""
    keras.backend.clear_session()
    gc.collect()


def check_positive(parser, args, names):
    """Stops with `parser.error` unless each named argument is positive."""
    for name in names:
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be a positive integer")
