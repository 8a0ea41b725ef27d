"""Built-in spaces by name, for the CLI and saved runs."""

import inspect

from keras_nas import validation
from keras_nas.data.input_spec import InputSpec
from keras_nas.spaces.base import SearchSpace
from keras_nas.spaces.conv import ConvNet
from keras_nas.spaces.mlp import MLP
from keras_nas.spaces.nb201 import NB201Cell
from keras_nas.spaces.sequence import SequenceNet

SPACES = {cls.space_name: cls for cls in (MLP, ConvNet, NB201Cell, SequenceNet)}


def get_space(name, input_shape, num_classes=None, **kwargs):
    """Creates a built-in space by name.

    Args:
        name: One of `SPACES` (`"mlp"`, `"convnet"`, `"nb201"`, `"sequence"`).
        input_shape: Shape of one input sample.
        num_classes: Number of classes of a multiclass task.
        **kwargs: Further constructor arguments of the space (`task`,
            `normalize`, the space's limits).

    Returns:
        A `SearchSpace`.

    Raises:
        ValueError: If `name` is not a built-in space, or an argument is
            unknown or invalid.
    """
    if name not in SPACES:
        raise ValueError(
            f"Received an invalid value for `space`, expected one of "
            f"{sorted(SPACES)}. Received: space={name!r}"
        )
    cls = SPACES[name]
    _check_arguments(cls, name, kwargs, ("input_shape", "num_classes"))
    return cls(input_shape=input_shape, num_classes=num_classes, **kwargs)


DEFAULT_SPACES = {
    "image": "convnet",
    "audio": "convnet",
    "text": "mlp",
    "series": "sequence",
    "tabular": "mlp",
}
"""The space `--space auto` searches for each modality, measured on the
development data (see the README's "Sequences" benchmark)."""


def default_space(spec):
    """The built-in space to search for data of this modality.

    Args:
        spec: The data's `keras_nas.data.InputSpec`, or its modality (one of
            `keras_nas.data.MODALITIES`), or the shape of one sample of
            numbers (`(height, width, channels)` images, else tabular).

    Returns:
        The name in `DEFAULT_SPACES`: `"convnet"` for images and audio
        spectrograms, `"sequence"` for series, `"mlp"` for text (TF-IDF
        vectors) and feature columns.
    """
    if isinstance(spec, InputSpec):
        spec = spec.modality
    if not isinstance(spec, str):
        spec = "image" if len(tuple(spec)) == 3 else "tabular"
    return DEFAULT_SPACES[spec]


def data_options(name, spec):
    """Constructor arguments a built-in space takes from the data's spec.

    The modality, when the space takes it; normalisation for audio
    spectrograms (decibels, far from the [0, 1] of images), and none for
    text: standardising each TF-IDF column blows rare words up (measured
    on the sentiment sentences, one MLP of 64 units, 10 epochs: test
    accuracy 0.69 with it, 0.79 without).

    Args:
        name: One of `SPACES`.
        spec: The data's `keras_nas.data.InputSpec`.

    Returns:
        A dict of arguments for `get_space`.
    """
    cls = SPACES.get(name)
    if cls is None or spec.modality not in cls.modalities:
        return {}  # `check_data` names the mismatch.
    options = {"modality": spec.modality}
    if spec.modality in ("audio", "text"):
        options["normalize"] = spec.modality == "audio"
    return options


def _check_arguments(cls, name, kwargs, reserved):
    parameters = [
        p.name for p in inspect.signature(cls).parameters.values()
        if p.kind is not p.VAR_KEYWORD
    ]
    parameters += [
        p.name for p in inspect.signature(SearchSpace).parameters.values()
        if p.kind is p.KEYWORD_ONLY
    ]
    known = [p for p in parameters if p not in reserved and p != "name"]
    validation.check_known_arguments(f"the {name!r} space", kwargs, known)
