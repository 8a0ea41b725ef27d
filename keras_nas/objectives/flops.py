"""Multiply-adds of one inference of a Keras functional model, per layer.

Counted from each layer's input and output shapes, for a batch of one:

- `Dense`: inputs x units at every position of the leading axes;
- `Conv1D`, `Conv2D`, `Conv3D`: kernel size x input channels / groups for
  every output element;
- `DepthwiseConv2D`: kernel size for every output element;
- `SeparableConv2D`: its depthwise part plus a 1x1 convolution.

Layers that do no multiply-adds count as zero: shape changes (`Flatten`,
`Reshape`, ...), `Dropout`, activations, merges such as `Add`, pooling
(additions and comparisons only) and the normalisations (`Normalization`,
`BatchNormalization`, `LayerNormalization`), which are one scale and shift
per element and are folded into the neighbouring layer when a model is
deployed. TensorFlow's profiler counts a multiply-add as two operations
and also counts those elementwise operations, so its count is a little
over twice ours (`tests/test_flops.py` compares the two on the spaces'
models). A layer of any other kind (a custom layer, a `Lambda`, a
recurrent layer) makes the count unknown: `count_flops` returns `None`,
and the trial reports no `flops` rather than a wrong one.
"""

import math

import keras

_CONVOLUTIONS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
_FREE = (
    keras.layers.InputLayer,
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.Softmax,
    keras.layers.Dropout,
    keras.layers.SpatialDropout1D,
    keras.layers.SpatialDropout2D,
    keras.layers.GaussianNoise,
    keras.layers.Flatten,
    keras.layers.Reshape,
    keras.layers.Permute,
    keras.layers.Add,
    keras.layers.Subtract,
    keras.layers.Multiply,
    keras.layers.Average,
    keras.layers.Maximum,
    keras.layers.Concatenate,
    keras.layers.MaxPooling1D,
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling1D,
    keras.layers.AveragePooling2D,
    keras.layers.GlobalAveragePooling1D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling1D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.ZeroPadding2D,
    keras.layers.Cropping2D,
    keras.layers.Normalization,
    keras.layers.BatchNormalization,
    keras.layers.LayerNormalization,
    keras.layers.Rescaling,
    keras.layers.Identity,
)
"""Layers counted as zero multiply-adds."""


def count_flops(model):
    """Multiply-adds of one inference (batch 1) of a functional model.

    Args:
        model: A built Keras functional or `Sequential` model; nested
            models are counted layer by layer.

    Returns:
        An int, or `None` when a layer is of a kind this module does not
        count or its shapes are unknown (a subclassed model).
    """
    try:
        if not model.inputs:
            return None
    except (AttributeError, ValueError):  # A subclassed model has no graph.
        return None
    total = 0
    for layer in model.layers:
        count = _layer_flops(layer)
        if count is None:
            return None
        total += count
    return total


def _layer_flops(layer):
    if isinstance(layer, keras.Model):
        return count_flops(layer)
    if isinstance(layer, _FREE):
        return 0
    try:
        inputs, outputs = layer.input.shape, layer.output.shape
    except (AttributeError, ValueError):
        return None
    if any(d is None for d in (*inputs[1:], *outputs[1:])):
        return None
    if isinstance(layer, keras.layers.Dense):
        return _positions(outputs) * inputs[-1] * layer.units
    if isinstance(layer, keras.layers.SeparableConv2D):
        channels = inputs[-1] * layer.depth_multiplier
        depthwise = channels * math.prod(layer.kernel_size)
        return _positions(outputs) * (depthwise + channels * layer.filters)
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return _elements(outputs) * math.prod(layer.kernel_size)
    if isinstance(layer, _CONVOLUTIONS):
        per_output = math.prod(layer.kernel_size) * inputs[-1] // layer.groups
        return _elements(outputs) * per_output
    return None


def _elements(shape):
    """Elements of one sample of a `(batch, ...)` shape."""
    return math.prod(shape[1:])


def _positions(shape):
    """Positions of one sample: every axis but the batch and the channels."""
    return math.prod(shape[1:-1])
