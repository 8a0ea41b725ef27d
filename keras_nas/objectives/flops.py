"""Multiply-adds of one inference of a Keras functional model, per layer.

Counted from each layer's input and output shapes, for a batch of one:

- `Dense`: inputs x units at every position of the leading axes;
- `Conv1D`, `Conv2D`, `Conv3D`: kernel size x input channels / groups for
  every output element;
- `DepthwiseConv1D`, `DepthwiseConv2D`: kernel size for every output
  element;
- `SeparableConv1D`, `SeparableConv2D`: their depthwise part plus a 1x1
  convolution;
- `SimpleRNN`, `GRU`, `LSTM`: at every time step (the input's axis 1,
  which must be known), 1, 3 or 4 gates of (inputs + units) x units: each
  gate multiplies the step's input by its kernel and the previous state
  by its recurrent kernel (so does a `GRU` with `reset_after=False`,
  which only moves the reset gate before the recurrent product);
- `Bidirectional`: its forward and its backward layer, each over the
  whole input;
- `MultiHeadAttention`: the query, key and value projections (positions x
  input channels x heads x key or value size), the attention scores
  (query positions x key positions x heads x key size), their weighted
  sum of the values (the same with the value size), the gate of
  `use_gate=True` (a projection like the value's, of the query) and the
  output projection (query positions x heads x value size x output size);
- any layer with a `multiply_adds()` method: what that method returns,
  an int or `None` when it cannot tell. Custom layers (a positional
  encoding, an attention pooling) implement it from their built shapes;
  it takes precedence over the rules above.

Layers that do no multiply-adds count as zero: shape changes (`Flatten`,
`Reshape`, ...), `Dropout`, activations, merges such as `Add`, pooling
(additions and comparisons only), `Embedding` (a lookup) and the
normalisations (`Normalization`, `BatchNormalization`,
`LayerNormalization`), which are one scale and shift per element and are
folded into the neighbouring layer when a model is deployed. Elementwise
operations are left out everywhere, those inside a layer included: biases,
the products and sums that mix a recurrent layer's gates, the softmax and
the scaling of attention. TensorFlow's profiler counts a multiply-add as
two operations and also counts those elementwise operations, so its count
is a little over twice ours (`tests/test_costs.py` compares the two). A
layer of any other kind (a custom layer without `multiply_adds`, a
`Lambda`, a recurrent layer with a custom cell) makes the count unknown,
and so does a layer called with tensors it does not expect (a recurrent
layer given an initial state or returning its states): `count_flops`
returns `None`, and the trial reports no `flops` rather than a wrong one.
"""

import inspect
import math

import keras

from keras_nas import compat

_CONVOLUTIONS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
_DEPTHWISE = (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)
_SEPARABLE = (keras.layers.SeparableConv1D, keras.layers.SeparableConv2D)
_RECURRENT_GATES = (
    (keras.layers.SimpleRNN, 1),
    (keras.layers.GRU, 3),
    (keras.layers.LSTM, 4),
)
"""Recurrent layers and their gates, each a kernel and a recurrent kernel."""
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
    keras.layers.Embedding,
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
    if callable(getattr(layer, "multiply_adds", None)):
        return layer.multiply_adds()
    if isinstance(layer, keras.Model):
        return count_flops(layer)
    if isinstance(layer, _FREE):
        return 0
    if isinstance(layer, keras.layers.MultiHeadAttention):
        return _attention_flops(layer)
    if isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional)):
        return _sequence_layer_flops(layer)
    try:
        inputs, outputs = layer.input.shape, layer.output.shape
    except (AttributeError, ValueError):
        return None
    if any(d is None for d in (*inputs[1:], *outputs[1:])):
        return None
    if isinstance(layer, keras.layers.Dense):
        return _positions(outputs) * inputs[-1] * layer.units
    if isinstance(layer, _SEPARABLE):
        channels = inputs[-1] * layer.depth_multiplier
        depthwise = channels * math.prod(layer.kernel_size)
        return _positions(outputs) * (depthwise + channels * layer.filters)
    if isinstance(layer, _DEPTHWISE):
        return _elements(outputs) * math.prod(layer.kernel_size)
    if isinstance(layer, _CONVOLUTIONS):
        per_output = math.prod(layer.kernel_size) * inputs[-1] // layer.groups
        return _elements(outputs) * per_output
    return None


def _sequence_layer_flops(layer):
    """Multiply-adds of a recurrent or `Bidirectional` layer's first call.

    Its sequences are read by argument name: a call with a `mask` lists
    the mask among `layer.input` too.
    """
    shapes = _call_shapes(layer)
    inputs = None if shapes is None else shapes.get("sequences")
    if inputs is None or any(d is None for d in inputs[1:]):
        return None
    if isinstance(layer, keras.layers.Bidirectional):
        counts = [
            _recurrent_flops(direction, inputs)
            for direction in (layer.forward_layer, layer.backward_layer)
        ]
        return None if None in counts else sum(counts)
    return _recurrent_flops(layer, inputs)


def _recurrent_flops(layer, inputs):
    """Multiply-adds of a recurrent layer over a `(batch, time, features)`
    input, or `None` when it is not one whose gates are known."""
    for kind, gates in _RECURRENT_GATES:
        if isinstance(layer, kind):
            per_step = gates * (inputs[-1] + layer.units) * layer.units
            return inputs[1] * per_step
    return None


def _attention_flops(layer):
    """Multiply-adds of a `MultiHeadAttention` layer's first call."""
    shapes = _call_shapes(layer)
    if shapes is None:
        return None
    query, value = shapes["query"], shapes["value"]
    key = shapes.get("key", value)
    if any(d is None for shape in (query, value, key) for d in shape[1:]):
        return None
    config = layer.get_config()
    heads, key_dim = config["num_heads"], config["key_dim"]
    value_dim = config["value_dim"] or key_dim
    outputs = math.prod(config["output_shape"] or query[-1:])
    queries, values = _positions(query), _positions(value)
    attended = queries * math.prod(value[a] for a in config["attention_axes"])
    gate = queries * query[-1] * heads * value_dim if config.get("use_gate") else 0
    return (
        queries * query[-1] * heads * key_dim
        + values * key[-1] * heads * key_dim
        + values * value[-1] * heads * value_dim
        + attended * heads * (key_dim + value_dim)
        + gate
        + queries * heads * value_dim * outputs
    )


def _call_shapes(layer):
    """Shapes of the tensors of a layer's first call, by argument name.

    A layer called with several tensors lists them in `layer.input` in an
    order that depends on how they were passed (keyword arguments sorted
    by name), so its call's arguments are matched to `call`'s parameters.

    Returns:
        A dict of argument name to shape, or `None` when the layer was
        never called.
    """
    called = compat.first_call_arguments(layer)
    if called is None:
        return None
    bound = inspect.signature(layer.call).bind(*called[0], **called[1])
    return {
        name: tuple(value.shape)
        for name, value in bound.arguments.items()
        if isinstance(value, keras.KerasTensor)
    }


def _elements(shape):
    """Elements of one sample of a `(batch, ...)` shape."""
    return math.prod(shape[1:])


def _positions(shape):
    """Positions of one sample: every axis but the batch and the channels."""
    return math.prod(shape[1:-1])
