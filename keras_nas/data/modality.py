"""Which modality arrays hold: images, tabular rows, series, text or audio.

Detection looks only at the arrays (their dtype, shape and, for 2-D
numbers, how smooth the rows are) and says why in one line; `--modality`
(or `modality=` in Python) overrides it.
"""

import numpy as np

from keras_nas.split_indices import DatasetError
from keras_nas.data.input_spec import MODALITIES

SERIES_MIN_STEPS = 32
"""Rows shorter than this are tabular features, never a series."""
SERIES_MIN_AUTOCORRELATION = 0.5
"""The least mean lag-1 autocorrelation of rows that makes them a series."""
SERIES_MAX_CHANNELS = 16
_SAMPLE_ROWS = 256


def check_modality(modality):
    """Checks a `modality` argument: `None` (detect) or one of `MODALITIES`."""
    if modality is not None and modality not in MODALITIES:
        raise ValueError(
            "Received an invalid value for `modality`, expected one of "
            f"{', '.join(MODALITIES)} (or None to detect it). Received: "
            f"modality={modality!r}"
        )
    return modality


def detect_modality(x, modality=None, sample_rate=None):
    """The modality of features `x` and why, in a few words.

    - strings, one per sample: text;
    - `(N, H, W, C)`, or `(N, H, W)` unless it looks like a series of few
      channels (`W <= 16` and `H >= 4 W`): image;
    - `(N, T, C)` of few channels: series;
    - `(N, T)` with a `sample_rate`: audio; with at least 32 steps whose
      neighbours are correlated (mean lag-1 autocorrelation of the rows
      of at least 0.5): series; otherwise tabular.

    Args:
        x: The features, one row per sample.
        modality: A modality to take as given, or `None` to detect it.
        sample_rate: The sampling rate stored with the data, if any.

    Returns:
        `(modality, reason)`.

    Raises:
        DatasetError: If `x` cannot be of the modality given.
    """
    shape = "x".join(map(str, x.shape[1:])) or "scalar"
    if modality is not None:
        check_modality(modality)
        _check_fits(x, modality)
        return modality, f"modality={modality!r} as given"
    if x.dtype.kind in "USO":
        return "text", "strings: text"
    if x.ndim == 4:
        return "image", f"samples of {shape} values: images"
    if x.ndim == 3:
        steps, channels = x.shape[1:]
        if channels <= SERIES_MAX_CHANNELS and steps >= 4 * channels:
            return "series", (
                f"samples of {steps} steps x {channels} channels: a series "
                "(--modality image for greyscale pictures)"
            )
        return "image", f"samples of {shape} values: greyscale images"
    if x.ndim == 2 and sample_rate is not None:
        return "audio", f"{x.shape[1]} samples at {sample_rate} Hz: audio"
    if x.ndim == 2 and x.shape[1] >= SERIES_MIN_STEPS:
        smoothness = _autocorrelation(x)
        if smoothness >= SERIES_MIN_AUTOCORRELATION:
            return "series", (
                f"rows of {x.shape[1]} values whose neighbours correlate "
                f"({smoothness:.2f}): a series"
            )
    return "tabular", f"rows of {x.shape[1] if x.ndim == 2 else shape} features: tabular"


def _autocorrelation(x):
    """The mean lag-1 autocorrelation of up to 256 rows of `x`."""
    rows = np.asarray(x[:_SAMPLE_ROWS], dtype="float64")
    centred = rows - rows.mean(axis=1, keepdims=True)
    energy = (centred ** 2).sum(axis=1)
    lagged = (centred[:, 1:] * centred[:, :-1]).sum(axis=1)
    useful = energy > 0
    if not useful.any():
        return 0.0
    return float(np.mean(lagged[useful] / energy[useful]))


def _check_fits(x, modality):
    """Refuses features that cannot be of the `modality` given."""
    text = x.dtype.kind in "USO"
    fits = {
        "text": text and x.ndim == 1,
        "image": not text and x.ndim in (3, 4),
        "series": not text and x.ndim in (2, 3),
        "audio": not text and x.ndim == 2,
        "tabular": not text and x.ndim == 2,
    }[modality]
    if not fits:
        kind = "strings" if text else "numbers"
        raise DatasetError(
            f"modality={modality!r} does not fit features of shape "
            f"{x.shape} ({kind}): text is one string per sample, images "
            "(N, H, W[, C]), series (N, T[, C]), audio and tabular (N, F)."
        )
