"""Per-trial costs: FLOPs against TensorFlow's profiler, latency, budgets."""

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

def profiler_float_ops(model):
    """TensorFlow's profiler count of one inference: total, and by op type."""
    spec = tf.TensorSpec([1, *model.inputs[0].shape[1:]], model.inputs[0].dtype)
    graph = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        spec
    ).graph
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


def random_architecture(space, seed):
    hp = kt.HyperParameters()
    space.declare_hyperparameters(hp)
    rng = np.random.default_rng(seed)
    for parameter in hp.space:
        values = list(parameter.values)
        hp.values[parameter.name] = values[int(rng.integers(len(values)))]
    return space.build(hp)


_MULTIPLY_ADD_OPS = ("MatMul", "Conv2D", "DepthwiseConv2dNative")
"""The profiler's op types that are multiply-adds."""

SPACES = {
    "mlp": lambda: MLP(input_shape=(64,), num_classes=10),
    "convnet": lambda: ConvNet(input_shape=(8, 8, 1), num_classes=10),
    "nb201": lambda: NB201Cell(input_shape=(16, 16, 3), num_classes=10, channels=8),
    "separable": lambda: ConvNet(
        input_shape=(8, 8, 1), num_classes=10, operations=("sep_conv3x3", "conv5x5"),
        pooling=("avg",)
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
    assert count_flops(model) == pytest.approx(multiply_adds(by_op), rel=0.05)
    assert count_flops(model) <= total / 2


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
