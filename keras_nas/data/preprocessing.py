"""Fronts: the preprocessing from what a user holds to what a network takes.

A front is a small Keras model from raw inputs (decoded images of any size,
waveforms, strings, series) to the model inputs a space builds networks
for. During a search the front runs once over the training and validation
data, outside the searched networks (`model_inputs`), so the networks stay
XLA-compilable and each trial does not pay for it again; the export puts it
in front of the network (`with_front`), so the SavedModel's `serve` takes
raw inputs. A run folder keeps it as `preprocessing.keras`
(`keras_nas.runs.front_file`).

| modality | raw input | front | model input |
| --- | --- | --- | --- |
| image | uint8 `(H, W, C)`, any H, W | bilinear resize | uint8 values `(h, w, C)` |
| audio | float32 waveform `(T,)`, any T | pad/crop, log-mel spectrogram | float32 `(frames, 1, mels)` |
| text | a string | `TextVectorization` (TF-IDF of words and word pairs) | float32 `(tokens,)` |
| text, `text_output="int"` | a string | `TextVectorization` (word ids, padded with 0) | int64 `(length,)` |
| series | float32 `(T,)` or `(T, C)`, any T | pad with zeros or crop | float32 `(t,)` or `(t, C)` |
| tabular | float32 `(F,)` | none | float32 `(F,)` |
"""

import hashlib
import json
import math

import keras
import numpy as np
import tensorflow as tf

from keras_nas import disk_arrays
from keras_nas.data.input_spec import InputSpec

TEXT_MAX_TOKENS = 10_000
"""The most words and word pairs a text front counts (the most frequent)."""
TEXT_NGRAMS = 2
TEXT_OUTPUTS = ("tf_idf", "int")
"""What a text front gives: TF-IDF vectors (for `mlp`) or word ids (for
`sequence`)."""
SEQUENCE_MAX_TOKENS = 20_000
"""The most words a word-id front numbers (the most frequent)."""
SEQUENCE_LENGTH_QUANTILE = 0.95
"""The share of training texts a word-id front keeps whole."""
SEQUENCE_LENGTH_LIMITS = (8, 256)
"""The fewest and most word ids of a text."""
MEL_BINS = 64
FRAME_SECONDS = 0.032
"""The shortest spectrogram frame: 32 ms, rounded up to a power of two."""
_BATCH = 256


@keras.saving.register_keras_serializable(package="keras_nas")
class PadOrCrop(keras.layers.Layer):
    """Pads with zeros at the end, or crops, axis 1 to `length` steps.

    Args:
        length: The number of steps of the output.
    """

    def __init__(self, length, **kwargs):
        super().__init__(**kwargs)
        self.length = int(length)

    def call(self, inputs):
        inputs = inputs[:, :self.length]
        missing = self.length - tf.shape(inputs)[1]
        padding = [[0, 0], [0, missing]] + [[0, 0]] * (len(inputs.shape) - 2)
        return tf.pad(inputs, padding)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.length, *input_shape[2:])

    def get_config(self):
        return {**super().get_config(), "length": self.length}


def image_front(height, width, channels):
    """Decoded images of any size, uint8, resized to `(height, width)`."""
    inputs = keras.Input((None, None, channels), dtype="uint8", name="images")
    resized = keras.layers.Resizing(height, width, name="resize")(inputs)
    return keras.Model(inputs, resized, name="image_front")


def audio_front(sample_rate, length):
    """Waveforms of any length to `(frames, 1, mels)` log-mel spectrograms.

    The waveform is padded or cropped to `length` samples; frames are
    `FRAME_SECONDS` rounded up to a power of two of samples, with half a
    frame of hop, and `MEL_BINS` mel bands in decibels.
    """
    fft_length = 2 ** math.ceil(math.log2(FRAME_SECONDS * sample_rate))
    inputs = keras.Input((None,), dtype="float32", name="waveforms")
    fixed = PadOrCrop(length, name="pad_or_crop")(inputs)
    mel = keras.layers.MelSpectrogram(
        fft_length=fft_length, sequence_stride=fft_length // 2,
        sampling_rate=sample_rate, num_mel_bins=MEL_BINS, max_freq=sample_rate / 2,
        name="log_mel",
    )(fixed)
    frames = mel.shape[2]
    image = keras.layers.Permute((2, 1))(mel)
    # Time along the height, the mel bands as channels: a convolution then
    # knows which band it sees (a band as a row of a one-channel picture is
    # lost to global pooling), as in TC-ResNet (Choi et al., 2019).
    image = keras.layers.Reshape((frames, 1, MEL_BINS), name="spectrogram")(image)
    return keras.Model(inputs, image, name="audio_front")


def text_front(texts):
    """Strings to TF-IDF vectors of words and word pairs, fitted on `texts`."""
    vectorizer = keras.layers.TextVectorization(
        max_tokens=TEXT_MAX_TOKENS, output_mode="tf_idf", ngrams=TEXT_NGRAMS,
        name="tf_idf",
    )
    vectorizer.adapt(tf.data.Dataset.from_tensor_slices(texts).batch(_BATCH))
    inputs = keras.Input((), dtype="string", name="texts")
    return keras.Model(inputs, vectorizer(inputs), name="text_front")


def text_ids_front(texts):
    """Strings to word ids, fitted on `texts` (Keras's `TextVectorization`).

    Lower-cased words without punctuation, numbered by frequency (1 is
    unknown words, 0 padding); each text is cut or padded at the end to
    the word count `SEQUENCE_LENGTH_QUANTILE` of the training texts fit in,
    within `SEQUENCE_LENGTH_LIMITS`.
    """
    words = [len(str(text).split()) for text in np.asarray(texts).ravel()]
    length = int(np.clip(np.ceil(np.quantile(words, SEQUENCE_LENGTH_QUANTILE)),
                         *SEQUENCE_LENGTH_LIMITS))
    vectorizer = keras.layers.TextVectorization(
        max_tokens=SEQUENCE_MAX_TOKENS, output_mode="int",
        output_sequence_length=length, name="word_ids",
    )
    vectorizer.adapt(tf.data.Dataset.from_tensor_slices(texts).batch(_BATCH))
    inputs = keras.Input((), dtype="string", name="texts")
    return keras.Model(inputs, vectorizer(inputs), name="text_ids_front")


def series_front(length, channels=None):
    """Series of any length padded with zeros or cropped to `length` steps."""
    shape = (None,) if channels is None else (None, channels)
    inputs = keras.Input(shape, dtype="float32", name="series")
    fixed = PadOrCrop(length, name="pad_or_crop")(inputs)
    return keras.Model(inputs, fixed, name="series_front")


def build_front(modality, x_train, sample_rate=None, text_output="tf_idf"):
    """The front of a modality, fitted on the raw training inputs.

    Args:
        modality: One of `keras_nas.data.MODALITIES`.
        x_train: Raw training inputs as loaded (uint8 images at one size,
            waveforms, strings, series).
        sample_rate: The waveforms' sampling rate, for audio.
        text_output: One of `TEXT_OUTPUTS`, for text.

    Returns:
        A `keras.Model`, or `None` for tabular data.
    """
    if modality == "image":
        return image_front(*x_train.shape[1:])
    if modality == "audio":
        return audio_front(sample_rate, x_train.shape[1])
    if modality == "text":
        return text_ids_front(x_train) if text_output == "int" else text_front(x_train)
    if modality == "series":
        return series_front(*x_train.shape[1:])
    return None


def changes_values(front):
    """Whether `front` turns loaded inputs into other values (audio, text).

    Images and series are loaded at the front's size already, so for them
    the front only matters to inputs of other sizes, at serving time.
    """
    return front is not None and front.name in (
        "audio_front", "text_front", "text_ids_front"
    )


def model_inputs(front, x):
    """The model inputs of loaded raw inputs `x`, computed in batches.

    Returns `x` itself when the front does not change loaded inputs. A
    file-backed `x` (`keras_nas.disk_arrays`) gives file-backed model
    inputs, written next to it a batch at a time.
    """
    if not changes_values(front):
        return x
    path = None
    if disk_arrays.on_disk(x):
        settings = json.dumps(describe_front(front), sort_keys=True, default=str)
        key = hashlib.sha256(settings.encode()).hexdigest()[:12]
        path = f"{x.filename[:-len('.npy')]}-{front.name}-{key}.npy"
        cached = disk_arrays.open_cached(path)
        if cached is not None and len(cached) == len(x):
            return cached
    out = None
    try:
        for start in range(0, len(x), _BATCH):
            rows = np.arange(start, min(len(x), start + _BATCH))
            batch = front(tf.constant(disk_arrays.read_rows(x, rows))).numpy()
            if out is None:
                out = disk_arrays.new_array(
                    (len(x), *batch.shape[1:]), batch.dtype,
                    None if path is None else 0, path,
                )
            out[rows] = batch
        return disk_arrays.finish_array(out, len(x), path)
    except BaseException:
        disk_arrays.discard(path)
        raise


def model_input_spec(modality, x):
    """The `InputSpec` of model inputs `x` of a modality."""
    image_like = modality in ("image", "audio")
    return InputSpec(
        tuple(x.shape[1:]), str(x.dtype), modality,
        feature_axis=-1 if image_like else None,
    )


def with_front(front, network):
    """One model from raw inputs: the front, then the network."""
    inputs = keras.Input(
        front.inputs[0].shape[1:], dtype=front.inputs[0].dtype, name="raw_inputs"
    )
    return keras.Model(inputs, network(front(inputs)), name=network.name)


def describe_front(front):
    """The front's layers and their settings, JSON-safe, for `architecture.json`."""
    if front is None:
        return None
    return {
        "name": front.name,
        "layers": [
            {"class": type(layer).__name__, **_plain(layer.get_config())}
            for layer in front.layers[1:]
        ],
    }


def _plain(config):
    keep = ("height", "width", "interpolation", "length", "fft_length",
            "sequence_stride", "sampling_rate", "num_mel_bins", "max_tokens",
            "output_mode", "ngrams", "standardize", "split",
            "output_sequence_length")
    return {key: value for key, value in config.items() if key in keep}
