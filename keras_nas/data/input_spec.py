"""What a model takes: the shape, dtype, feature axis and modality of its inputs.

Data and spaces meet through an `InputSpec`. A data set states the spec of
its model inputs (after the preprocessing that runs in the data pipeline);
a space states the spec it builds models for and checks data against it,
so that a mismatch is one line naming both, before any model is built.
"""

import dataclasses

MODALITIES = ("image", "tabular", "series", "text", "audio")
"""The kinds of data keras-nas reads.

`image`: `(height, width, channels)` pictures. `tabular`: one vector of
named features per sample. `series`: a sequence of `T` steps of `C`
channels, `(T,)` or `(T, C)`. `text`: one string per sample. `audio`: one
waveform per sample, at one sampling rate.
"""


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """The inputs of a model, one sample without the batch axis.

    Attributes:
        shape: The sample shape, `None` where lengths vary (raw text,
            waveforms and images before resizing).
        dtype: The NumPy dtype name of the values, e.g. `"float32"`,
            `"uint8"` (images of 0..255, scaled inside the model) or
            `"string"`.
        modality: One of `MODALITIES`.
        feature_axis: The axis whose entries have their own statistics
            (the channels of an image, `-1`), or `None` when every position
            of a sample is a feature of its own (tabular vectors).

    Example:

    ```python
    spec = InputSpec((32, 32, 3), "uint8", "image", feature_axis=-1)
    spec.check(InputSpec((28, 28, 1), "uint8", "image", -1), "the space")
    # ValueError: ... the space takes image inputs of shape (28, 28, 1) ...
    ```
    """

    shape: tuple
    dtype: str = "float32"
    modality: str = "tabular"
    feature_axis: object = None

    def __post_init__(self):
        if self.modality not in MODALITIES:
            raise ValueError(
                "Received an invalid value for `modality`, expected one of "
                f"{', '.join(MODALITIES)}. Received: modality={self.modality!r}"
            )
        shape = tuple(None if d is None else int(d) for d in self.shape)
        object.__setattr__(self, "shape", shape)

    @property
    def rank(self):
        """The number of axes of one sample."""
        return len(self.shape)

    def describe(self):
        """A few words, e.g. `"image inputs of shape (32, 32, 3), uint8"`."""
        return f"{self.modality} inputs of shape {self.shape}, {self.dtype}"

    def check(self, expected, owner):
        """Raises unless these inputs fit `expected`, the spec `owner` builds for.

        Shapes must be equal where `expected` fixes a length; dtypes may
        differ between numeric types (the model casts them), not between
        numbers and strings.

        Args:
            expected: The `InputSpec` that `owner` takes.
            owner: What takes it, for the message (e.g. `"the 'convnet'
                space"`).

        Raises:
            ValueError: Naming both specs.
        """
        fits = self.rank == expected.rank and all(
            want is None or have == want
            for have, want in zip(self.shape, expected.shape)
        ) and (self.dtype == "string") == (expected.dtype == "string")
        if not fits:
            raise ValueError(
                f"The data's {self.describe()} do not fit {owner}, which takes "
                f"{expected.describe()}."
            )
