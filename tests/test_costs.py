"""Per-trial costs: FLOPs against TensorFlow's profiler, latency, budgets."""

import math

import keras
import keras_tuner as kt
import numpy as np
import pytest
import tensorflow as tf

from keras_nas.objectives.costs import Constraints
from keras_nas.objectives.costs import describe_violation
from keras_nas.objectives.costs import measure_costs
from keras_nas.objectives.flops import count_flops
from keras_nas.objectives.latency import LatencySettings
from keras_nas.spaces import MLP
from keras_nas.spaces import ConvNet
from keras_nas.spaces import NB201Cell
from keras_nas.spaces import SequenceNet

def inference_graph(model):
    """The TensorFlow graph of one inference (batch 1) of a one-input model."""
    spec = tf.TensorSpec([1, *model.inputs[0].shape[1:]], model.inputs[0].dtype)
    return tf.function(lambda x: model(x, training=False)).get_concrete_function(
        spec
    ).graph


def profiler_float_ops(model):
    """TensorFlow's profiler count of one inference: total, and by op type."""
    graph = inference_graph(model)
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    report = tf.compat.v1.profiler.profile(graph=graph, cmd="graph", options=options)
    op_types = {node.name: node.op for node in graph.as_graph_def().node}
    by_op, pending = {}, list(report.children)
    while pending:
        node = pending.pop()
        pending.extend(node.children)
        kind = op_types.get(node.name)
        if kind is not None:
            by_op[kind] = by_op.get(kind, 0) + node.float_ops
    return report.total_float_ops, by_op


def multiply_adds(by_op):
    """The profiler's multiply-add operations, two float ops each."""
    return sum(by_op.get(op, 0) for op in _MULTIPLY_ADD_OPS) / 2


def einsum_multiply_adds(model):
    """Multiply-adds of the `Einsum` ops of one inference, which the
    profiler does not count (it has no statistic for them): one for every
    combination of the values of the equation's indices, their sizes read
    from the operands' shapes in the traced graph."""
    total = 0
    for op in inference_graph(model).get_operations():
        if op.type == "Einsum":
            operands = op.get_attr("equation").decode().split("->")[0]
            sizes = {}
            for indices, tensor in zip(operands.split(","), op.inputs):
                sizes.update(zip(indices, tensor.shape))
            total += math.prod(sizes.values())
    return total


def random_architecture(space, seed):
    hp = kt.HyperParameters()
    space.declare_hyperparameters(hp)
    rng = np.random.default_rng(seed)
    for parameter in hp.space:
        values = list(parameter.values)
        hp.values[parameter.name] = values[int(rng.integers(len(values)))]
    return space.build(hp)


_MULTIPLY_ADD_OPS = (
    "MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Conv2D",
    "DepthwiseConv2dNative",
)
"""The profiler's op types that are multiply-adds."""

SPACES = {
    "mlp": lambda: MLP(input_shape=(64,), num_classes=10),
    "convnet": lambda: ConvNet(input_shape=(8, 8, 1), num_classes=10),
    "nb201": lambda: NB201Cell(input_shape=(16, 16, 3), num_classes=10, channels=8),
    "separable": lambda: ConvNet(
        input_shape=(8, 8, 1), num_classes=10, operations=("sep_conv3x3", "conv5x5"),
        pooling=("avg",)
    ),
    # Recurrent layers are compared in their own test (the profiler counts a
    # loop body once), dilated convolutions are left out as below.
    "sequence": lambda: SequenceNet(
        input_shape=(24, 3), num_classes=10, modality="series",
        operations=("conv5", "sep_conv9", "attention", "identity"),
    ),
}


@pytest.mark.parametrize("space", sorted(SPACES))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_flops_agree_with_the_profiler_within_5_percent(space, seed):
    """Against the profiler's count of its multiply-add operations (matrix
    products and convolutions, two float ops each); it also counts the
    elementwise operations we leave out (normalisation, bias, pooling).
    Dilated convolutions are left out: TensorFlow runs them on a padded
    space-to-batch copy of the input, so its count grows with the padding
    (`test_dilation_does_not_change_the_count`)."""
    model = random_architecture(SPACES[space](), seed)
    total, by_op = profiler_float_ops(model)
    einsums = einsum_multiply_adds(model)
    assert count_flops(model) == pytest.approx(multiply_adds(by_op) + einsums,
                                               rel=0.05)
    assert count_flops(model) <= total / 2 + einsums


def test_flops_of_known_layers_by_hand():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)      # 64*4*27
    x = keras.layers.DepthwiseConv2D(3, strides=2, padding="same")(x)  # 16*4*9
    x = keras.layers.SeparableConv2D(5, 3, padding="same")(x)  # 16*(4*9 + 4*5)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(2)(x)                          # 5*2
    model = keras.Model(inputs, outputs)
    assert count_flops(model) == 64 * 4 * 27 + 16 * 4 * 9 + 16 * (36 + 20) + 10


def sequence_model():
    """Embedding, Conv1D, GRU, self-attention, pooling and Dense."""
    inputs = keras.Input((12,), dtype="int32")
    x = keras.layers.Embedding(50, 8)(inputs)
    x = keras.layers.Conv1D(16, 3, padding="same")(x)
    # Unrolled: the profiler counts the body of a while loop once, not
    # once per time step.
    x = keras.layers.GRU(16, return_sequences=True, unroll=True)(x)
    x = keras.layers.MultiHeadAttention(num_heads=2, key_dim=8)(x, x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, keras.layers.Dense(5)(x))


def cross_attention_model():
    """SeparableConv1D, Bidirectional LSTM, cross-attention with its own
    value size and output size, the key and value passed by keyword."""
    inputs = keras.Input((10,), dtype="int32")
    x = keras.layers.Embedding(50, 6)(inputs)
    x = keras.layers.SeparableConv1D(8, 3, padding="same", depth_multiplier=2)(x)
    x = keras.layers.Bidirectional(  # Unrolled, as in `sequence_model`.
        keras.layers.LSTM(4, return_sequences=True, unroll=True)
    )(x)
    memory = keras.layers.Conv1D(5, 3, strides=2)(x)
    x = keras.layers.MultiHeadAttention(
        num_heads=3, key_dim=4, value_dim=2, output_shape=7
    )(query=x, key=memory, value=keras.layers.Dense(3)(memory))
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, keras.layers.Dense(5)(x))


@pytest.mark.parametrize("build", [sequence_model, cross_attention_model])
def test_flops_of_sequence_layers_agree_with_the_profiler(build):
    """As `test_flops_agree_with_the_profiler_within_5_percent`, for
    sequence layers. The recurrent layers' and the attention projections'
    products are `MatMul` and `BatchMatMulV2` ops, which the profiler
    counts; the attention scores and their weighted sum of the values are
    two `Einsum` ops, for which the profiler has no statistic (it reports
    no float ops for them), so their multiply-adds are read from the
    traced graph's `Einsum` ops instead (`einsum_multiply_adds`)."""
    model = build()
    total, by_op = profiler_float_ops(model)
    einsums = einsum_multiply_adds(model)
    assert einsums > 0
    assert count_flops(model) == pytest.approx(
        multiply_adds(by_op) + einsums, rel=0.05
    )
    assert count_flops(model) <= total / 2 + einsums


def flops_of(layer, *input_shapes):
    """`count_flops` of a model of `layer` on inputs of these shapes."""
    inputs = [keras.Input(shape) for shape in input_shapes]
    return count_flops(keras.Model(inputs, layer(*inputs)))


@pytest.mark.parametrize("layer,expected", [
    (keras.layers.SimpleRNN(4), 10 * 1 * (6 * 4 + 4 * 4)),
    (keras.layers.GRU(4), 10 * 3 * (6 * 4 + 4 * 4)),
    (keras.layers.GRU(4, reset_after=False), 10 * 3 * (6 * 4 + 4 * 4)),
    (keras.layers.LSTM(4, return_sequences=True), 10 * 4 * (6 * 4 + 4 * 4)),
    (keras.layers.Bidirectional(keras.layers.GRU(4)), 2 * 10 * 3 * (6 * 4 + 4 * 4)),
    (keras.layers.Bidirectional(
        keras.layers.LSTM(4), backward_layer=keras.layers.LSTM(3, go_backwards=True)
    ), 10 * 4 * (6 * 4 + 4 * 4) + 10 * 4 * (6 * 3 + 3 * 3)),
], ids=["simple_rnn", "gru", "gru_reset_before", "lstm", "bidirectional_gru",
        "bidirectional_lstm_3_backward_units"])
def test_flops_of_recurrent_layers_by_hand(layer, expected):
    """Time steps x gates x (inputs + units) x units, on 10 steps of 6."""
    assert flops_of(layer, (10, 6)) == expected


def test_flops_of_a_recurrent_layer_over_unknown_time_steps_are_missing():
    assert flops_of(keras.layers.GRU(4), (None, 6)) is None


@pytest.mark.parametrize("use_gate", [False, True])
def test_flops_of_self_attention_by_hand(use_gate):
    inputs = keras.Input((10, 6))
    attention = keras.layers.MultiHeadAttention(
        num_heads=2, key_dim=4, use_gate=use_gate
    )
    model = keras.Model(inputs, attention(inputs, inputs))
    projections = 3 * 10 * 6 * 2 * 4       # query, key, value
    scores = 10 * 10 * 2 * 4
    weighted_sum = 10 * 10 * 2 * 4         # value size = key size
    gate = 10 * 6 * 2 * 4 if use_gate else 0  # the query to the value size
    output = 10 * 2 * 4 * 6                # back to the query's 6 channels
    assert count_flops(model) == projections + scores + weighted_sum + gate + output


def test_flops_of_cross_attention_by_hand():
    """Key and value passed by keyword: the layer's `input` lists them
    sorted by name (key, query, value), not in the call's order."""
    query, key, value = keras.Input((5, 6)), keras.Input((7, 2)), keras.Input((7, 3))
    attention = keras.layers.MultiHeadAttention(
        num_heads=2, key_dim=4, value_dim=3, output_shape=8
    )
    model = keras.Model(
        [query, key, value], attention(query=query, key=key, value=value)
    )
    projections = 5 * 6 * 2 * 4 + 7 * 2 * 2 * 4 + 7 * 3 * 2 * 3
    scores = 5 * 7 * 2 * 4
    weighted_sum = 5 * 7 * 2 * 3
    output = 5 * 2 * 3 * 8
    assert count_flops(model) == projections + scores + weighted_sum + output


def test_flops_of_one_dimensional_separable_and_depthwise_convolutions_by_hand():
    separable = keras.layers.SeparableConv1D(5, 3, padding="same", depth_multiplier=2)
    assert flops_of(separable, (10, 3)) == 10 * (3 * 2 * 3 + 3 * 2 * 5)
    assert flops_of(keras.layers.DepthwiseConv1D(3), (10, 3)) == 8 * 3 * 3


def test_an_embedding_is_a_lookup():
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(100, 8)(inputs)
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3)(x))
    assert count_flops(model) == 8 * 3


class Projection(keras.layers.Layer):
    """Every time step times a kernel, counting its own multiply-adds."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.steps = input_shape[1]
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units))

    def call(self, inputs):
        return keras.ops.matmul(inputs, self.kernel)

    def multiply_adds(self):
        if self.steps is None:
            return None
        return self.steps * math.prod(self.kernel.shape)


def test_a_layer_counts_its_own_multiply_adds():
    assert flops_of(Projection(4), (10, 6)) == 10 * 6 * 4
    assert flops_of(Projection(4), (None, 6)) is None


def test_dilation_does_not_change_the_count():
    inputs = keras.Input((8, 8, 3))
    plain = keras.Model(inputs, keras.layers.Conv2D(4, 3, padding="same")(inputs))
    dilated = keras.Model(
        inputs, keras.layers.Conv2D(4, 3, padding="same", dilation_rate=2)(inputs)
    )
    assert count_flops(dilated) == count_flops(plain) == 64 * 4 * 27


def test_flops_of_an_unknown_layer_are_missing_not_zero():
    inputs = keras.Input((4,))
    outputs = keras.layers.Lambda(lambda t: t * 2)(keras.layers.Dense(3)(inputs))
    model = keras.Model(inputs, outputs)
    assert count_flops(model) is None
    assert "flops" not in measure_costs(model)


def test_subclassed_model_has_no_flops_and_no_latency():
    class Doubler(keras.Model):
        def call(self, x):
            return x * 2

    model = Doubler()
    model.build((None, 4))
    costs = measure_costs(model, LatencySettings(repeats=2))
    assert "flops" not in costs and "latency_ms" not in costs
    assert costs["params"] == 0


def test_latency_and_throughput_of_a_larger_model_are_larger():
    small = random_architecture(MLP(input_shape=(64,), num_classes=10, widths=(8,), max_layers=1), 0)
    large = keras.Sequential([
        keras.Input((64,)), *[keras.layers.Dense(1024) for _ in range(4)]
    ])
    settings = LatencySettings(repeats=15, throughput_batch_size=64)
    small_costs, large_costs = measure_costs(small, settings), measure_costs(large, settings)
    assert large_costs["latency_ms"] > small_costs["latency_ms"]
    assert large_costs["throughput"] < small_costs["throughput"]
    assert large_costs["model_bytes"] > 4 * 1024 * 1024 * 3  # 3M float32 weights


def test_latency_settings_are_validated():
    with pytest.raises(ValueError, match="latency.repeats"):
        LatencySettings(repeats=0)
    with pytest.raises(ValueError, match="'batch'"):
        LatencySettings.from_config({"batch": 2})


def test_constraints_name_the_worst_violation():
    constraints = Constraints(max_params=100, max_flops=1000)
    measured = {"params": 150.0, "flops": 4000.0}
    violation = constraints.violation(measured)
    assert violation == (4.0, "max_flops", 4000.0, 1000)
    assert describe_violation(violation) == (
        "infeasible: flops 4,000 > max_flops 1,000, not trained"
    )
    assert constraints.violation({"params": 100.0, "flops": 1000.0}) is None


@pytest.mark.parametrize("name,value", [("max_params", 0), ("max_flops", -1),
                                        ("max_latency_ms", "fast"), ("max_model_bytes", 1.5)])
def test_bad_budgets_are_named(name, value):
    with pytest.raises(ValueError, match=f"{name}={value!r}"):
        Constraints(**{name: value})


def test_a_budget_on_an_unmeasurable_cost_is_refused():
    with pytest.raises(ValueError, match="max_flops"):
        Constraints(max_flops=10).violation({"params": 1.0})
