"""Tests for keras_nas.spaces and keras_nas.layers: building architectures."""

import keras
import keras_tuner as kt
import numpy as np
import pytest
from keras.src.models.functional import Functional

from keras_nas.encoding import ArchitectureEncoding
from keras_nas.layers import Zeros
from keras_nas.spaces import MLP
from keras_nas.spaces import ConvNet
from keras_nas.spaces import NB201Cell
from keras_nas.spaces import get_space
from keras_nas.spaces.nb201 import EDGES
from keras_nas.spaces.nb201 import from_arch_str
from keras_nas.spaces.nb201 import to_arch_str

NUM_CLASSES = 3
IMAGE = (8, 8, 1)
BENCH_STR = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
    "+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
)


def make_space(name, **kwargs):
    if name == "mlp":
        args = dict(max_layers=3, widths=(4, 8), dropout_rates=(0.0, 0.2))
        args.update(kwargs)
        return MLP(IMAGE, NUM_CLASSES, **args)
    if name == "convnet":
        args = dict(max_blocks=3, filters=(4, 8))
        args.update(kwargs)
        return ConvNet(IMAGE, NUM_CLASSES, **args)
    args = dict(channels=4)
    args.update(kwargs)
    return NB201Cell(IMAGE, NUM_CLASSES, **args)


def declared(space):
    hp = kt.HyperParameters()
    space.declare_hyperparameters(hp)
    return hp


def encoding_of(space):
    return ArchitectureEncoding(declared(space), space.structure())


def build(space, values):
    """Builds `values`, missing active decisions taking their defaults."""
    hp = declared(space)
    enc = ArchitectureEncoding(hp)
    hp.values = enc.decode(enc.encode(values))
    return space.build(hp)


def layers_of(model, *types):
    return [layer for layer in model.layers if isinstance(layer, types)]


def hidden_dense(model):
    return [
        layer
        for layer in layers_of(model, keras.layers.Dense)
        if layer.name.startswith("dense_")
    ]


def block_convs(model):
    """Convolutions of ConvNet blocks: not the stem, not 1x1 shortcuts."""
    return [
        layer
        for layer in layers_of(
            model, keras.layers.Conv2D, keras.layers.SeparableConv2D
        )
        if layer.name != "stem" and tuple(layer.kernel_size) != (1, 1)
    ]


# ------------------------------------------------------------------ building


@pytest.mark.parametrize("name", ["mlp", "convnet", "nb201"])
def test_random_architectures_build_compiled_functional_models(name):
    space = make_space(name)
    enc = encoding_of(space)
    rng = np.random.default_rng(0)
    x = np.zeros((2,) + IMAGE, dtype="float32")
    for _ in range(3):
        values = enc.decode(enc.random_vector(rng))
        model = build(space, values)
        assert isinstance(model, Functional)
        assert model.compiled and model.optimizer is not None
        assert model.output_shape == (None, NUM_CLASSES)
        assert model.input_shape == (None,) + IMAGE
        out = model(x, training=False)
        assert tuple(out.shape) == (2, NUM_CLASSES)
        np.testing.assert_allclose(np.sum(out, axis=-1), 1.0, rtol=1e-5)


def test_mlp_depth_follows_num_layers():
    space = make_space("mlp", skip_connections=False, batch_norm=(False,))
    for depth in (1, 2, 3):
        values = {"num_layers": depth}
        for i in range(depth):
            values[f"units_{i}"] = 8 if i % 2 else 4
        model = build(space, values)
        dense = hidden_dense(model)
        assert len(dense) == depth
        assert [layer.units for layer in dense] == [
            8 if i % 2 else 4 for i in range(depth)
        ]
        assert not layers_of(model, keras.layers.Add)


def test_mlp_layer_options_are_built():
    space = make_space("mlp")
    model = build(space, {
        "num_layers": 1, "units_0": 8, "activation_0": "tanh",
        "dropout_0": 0.2, "batch_norm_0": True, "skip_0": False,
    })
    assert len(layers_of(model, keras.layers.BatchNormalization)) == 1
    assert [d.rate for d in layers_of(model, keras.layers.Dropout)] == [0.2]
    acts = [a.get_config()["activation"]
            for a in layers_of(model, keras.layers.Activation)]
    assert acts == ["tanh"]
    plain = build(space, {"num_layers": 1, "dropout_0": 0.0})
    assert not layers_of(plain, keras.layers.Dropout)
    assert not layers_of(plain, keras.layers.BatchNormalization)


def test_mlp_skip_adds_add_layer_and_projection():
    space = make_space("mlp")
    base = {"num_layers": 2, "units_0": 8, "units_1": 8}
    assert not layers_of(build(space, base), keras.layers.Add)
    same_width = build(space, {**base, "skip_1": True})
    assert len(layers_of(same_width, keras.layers.Add)) == 1
    assert not [l for l in same_width.layers if l.name.startswith("projection")]
    # The first layer's input is the flattened 64-pixel image: projected.
    projected = build(space, {**base, "skip_0": True, "skip_1": True})
    assert len(layers_of(projected, keras.layers.Add)) == 2
    assert [l.name for l in projected.layers
            if l.name.startswith("projection")] == ["projection_0"]


def test_convnet_depth_follows_num_blocks():
    space = make_space("convnet", skip_connections=False)
    for depth in (1, 2, 3):
        values = {"num_blocks": depth}
        for i in range(depth):
            values[f"op_{i}"] = "conv3x3"
            values[f"filters_{i}"] = 8
        model = build(space, values)
        assert len(block_convs(model)) == depth
        assert model.get_layer("stem").filters == 4


def test_convnet_operations_are_built():
    space = make_space("convnet", skip_connections=False)
    values = {
        "num_blocks": 3,
        "op_0": "sep_conv3x3", "filters_0": 8,
        "op_1": "dilated_conv3x3", "filters_1": 4,
        "op_2": "conv5x5", "filters_2": 8,
    }
    model = build(space, values)
    convs = block_convs(model)
    assert isinstance(convs[0], keras.layers.SeparableConv2D)
    assert tuple(convs[1].dilation_rate) == (2, 2)
    assert tuple(convs[2].kernel_size) == (5, 5)
    assert [c.filters for c in convs] == [8, 4, 8]


def test_convnet_identity_builds_no_convolution():
    space = make_space("convnet")
    model = build(space, {"num_blocks": 2, "op_0": "identity", "op_1": "identity"})
    assert block_convs(model) == []
    hp = declared(space)
    hp.values = {"num_blocks": 2, "op_0": "identity", "op_1": "conv3x3"}
    active = {p.name for p in hp.space if hp.is_active(p)}
    assert "filters_0" not in active and "filters_1" in active


def test_convnet_skip_adds_add_layer():
    space = make_space("convnet")
    base = {"num_blocks": 1, "op_0": "conv3x3", "filters_0": 4, "pool_0": "none"}
    assert not layers_of(build(space, base), keras.layers.Add)
    model = build(space, {**base, "skip_0": True})
    assert len(layers_of(model, keras.layers.Add)) == 1
    # Wider block: the shortcut goes through a 1x1 convolution.
    wide = build(space, {**base, "filters_0": 8, "skip_0": True})
    ones = [l for l in layers_of(wide, keras.layers.Conv2D)
            if tuple(l.kernel_size) == (1, 1)]
    assert len(ones) == 1 and ones[0].filters == 8


def test_convnet_pooling_stops_at_one_pixel():
    space = make_space("convnet", max_blocks=4, skip_connections=False)
    values = {"num_blocks": 4}
    for i in range(4):
        values.update({f"op_{i}": "identity", f"pool_{i}": "max"})
    model = build(space, values)
    # 8 -> 4 -> 2 -> 1, then no fourth pooling.
    assert len(layers_of(model, keras.layers.MaxPooling2D)) == 3
    assert model.output_shape == (None, NUM_CLASSES)


# ------------------------------------------------------------- descriptions


def test_describe_lists_only_active_decisions():
    space = make_space("mlp")
    hp_values = {
        "num_layers": 2, "units_0": 4, "units_1": 8,
        "units_2": 4, "activation_2": "relu",  # inactive leftovers
    }
    decisions = space.describe(hp_values)["decisions"]
    assert space.describe(hp_values)["space"] == "mlp"
    assert decisions["num_layers"] == 2
    assert "units_0" in decisions and "units_1" in decisions
    assert "units_2" not in decisions and "activation_2" not in decisions
    assert not any(name.endswith("_3") for name in decisions)
    enc = encoding_of(space)
    full = enc.decode(enc.encode(hp_values))
    assert space.describe(full)["decisions"] == full
    assert list(space.describe(full)["decisions"]) == list(full)


def test_describe_convnet_identity_has_no_filters():
    space = make_space("convnet")
    enc = encoding_of(space)
    values = enc.decode(enc.encode(
        {"num_blocks": 1, "op_0": "identity", "filters_0": 8}
    ))
    decisions = space.describe(values)["decisions"]
    assert decisions["op_0"] == "identity"
    assert "filters_0" not in decisions


def test_describe_nb201_has_arch_str():
    space = make_space("nb201")
    values = space.from_arch_str(BENCH_STR)
    description = space.describe(values)
    assert description["space"] == "nb201"
    assert description["arch_str"] == BENCH_STR
    assert description["decisions"] == values


# -------------------------------------------------------------------- NB201


def test_arch_str_round_trips_all_architectures():
    space = make_space("nb201")
    enc = encoding_of(space)
    strings = set()
    for vec in enc.enumerate():
        values = enc.decode(vec)
        arch_str = to_arch_str(values)
        assert from_arch_str(arch_str) == values
        assert space.from_arch_str(arch_str) == values
        strings.add(arch_str)
    assert len(strings) == 15625


def test_known_benchmark_string():
    values = from_arch_str(BENCH_STR)
    assert values == {
        "edge_1_0": "nor_conv_3x3",
        "edge_2_0": "nor_conv_3x3",
        "edge_2_1": "nor_conv_3x3",
        "edge_3_0": "skip_connect",
        "edge_3_1": "nor_conv_3x3",
        "edge_3_2": "nor_conv_3x3",
    }
    assert list(values) == [f"edge_{t}_{s}" for t, s in EDGES]
    assert to_arch_str(values) == BENCH_STR
    enc = encoding_of(make_space("nb201"))
    assert to_arch_str(enc.decode(enc.encode(values))) == BENCH_STR


@pytest.mark.parametrize(
    "arch_str, reason",
    [
        ("|none~0|+|none~0|none~1|", "three nodes"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|+|none~0|", "three"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 needs 2 inputs"),
        ("|none~0|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "node 1"),
        ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "~1"),
        ("|none~0|+|none~0|none~0|+|none~0|none~1|none~2|", "~0"),
        ("|none~0|+|none~0|none~1|+|none~0|none~2|none~1|", "~2"),
        ("|conv_7x7~0|+|none~0|none~1|+|none~0|none~1|none~2|", "conv_7x7"),
        ("|Skip~0|+|none~0|none~1|+|none~0|none~1|none~2|", "malformed"),
        ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "malformed"),
        ("", "three nodes"),
        (None, "not a string"),
    ],
)
def test_malformed_arch_str_raises(arch_str, reason):
    with pytest.raises(ValueError, match="arch_str") as info:
        from_arch_str(arch_str)
    assert reason in str(info.value)


def test_from_arch_str_rejects_unavailable_operation():
    space = make_space(
        "nb201", operations=("none", "skip_connect", "nor_conv_3x3")
    )
    with pytest.raises(ValueError, match="skip_connect|avg_pool_3x3") as info:
        space.from_arch_str(
            "|avg_pool_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|"
        )
    assert "avg_pool_3x3" in str(info.value)
    assert space.from_arch_str(BENCH_STR)["edge_3_0"] == "skip_connect"


def test_all_none_cell_predicts_constant_output():
    space = make_space("nb201")
    values = {f"edge_{t}_{s}": "none" for t, s in EDGES}
    model = build(space, values)
    assert layers_of(model, Zeros)
    x = np.random.default_rng(0).normal(size=(4,) + IMAGE).astype("float32")
    out = np.asarray(model.predict(x, verbose=0))
    assert np.all(np.isfinite(out))
    # Every cell outputs zeros, so the classifier sees zeros: softmax(bias).
    np.testing.assert_allclose(out, np.full_like(out, 1 / NUM_CLASSES), atol=1e-6)


def test_nb201_cells_per_stage_and_channels():
    space = make_space("nb201", cells_per_stage=2, channels=4)
    values = {f"edge_{t}_{s}": "nor_conv_1x1" for t, s in EDGES}
    model = build(space, values)
    one_by_one = [l for l in layers_of(model, keras.layers.Conv2D)
                  if tuple(l.kernel_size) == (1, 1) and l.strides == (1, 1)]
    # 6 edges x 2 cells x 3 stages, plus 2 reduction shortcuts.
    assert len(one_by_one) == 6 * 2 * 3 + 2
    assert sorted({l.filters for l in one_by_one}) == [4, 8, 16]


# ---------------------------------------------------------------- training


@pytest.mark.parametrize("name", ["mlp", "convnet", "nb201"])
def test_tiny_fit(name, tiny_images):
    x, y = tiny_images
    space = make_space(name)
    enc = encoding_of(space)
    values = enc.decode(enc.random_vector(np.random.default_rng(1)))
    model = build(space, values)
    history = model.fit(x, y, epochs=1, batch_size=12, verbose=0,
                        validation_split=0.25)
    assert set(history.history) >= {"loss", "accuracy", "val_accuracy"}
    assert np.isfinite(history.history["loss"][0])


# -------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "factory, kwargs, argument, shown",
    [
        (MLP, dict(min_layers=3, max_layers=2), "max_layers", "max_layers=2"),
        (MLP, dict(widths=[]), "widths", "widths=[]"),
        (MLP, dict(widths=[0]), "widths", "widths=[0]"),
        (MLP, dict(activations=["softplus"]), "activations", "softplus"),
        (MLP, dict(dropout_rates=[1.5]), "dropout_rates", "1.5"),
        (MLP, dict(num_classes=1), "num_classes", "num_classes=1"),
        (MLP, dict(min_layers=0), "min_layers", "min_layers=0"),
        (MLP, dict(skip_connections="yes"), "skip_connections", "'yes'"),
        (MLP, dict(input_shape=()), "input_shape", "input_shape=()"),
        (ConvNet, dict(min_blocks=4, max_blocks=2), "max_blocks", "max_blocks=2"),
        (ConvNet, dict(operations=["conv9x9"]), "operations", "conv9x9"),
        (ConvNet, dict(filters=[0]), "filters", "filters=[0]"),
        (ConvNet, dict(input_shape=(64,)), "input_shape", "(64,)"),
        (ConvNet, dict(pooling=["median"]), "pooling", "median"),
        (ConvNet, dict(num_classes=1), "num_classes", "num_classes=1"),
        (NB201Cell, dict(operations=["conv9x9"]), "operations", "conv9x9"),
        (NB201Cell, dict(input_shape=(64,)), "input_shape", "(64,)"),
        (NB201Cell, dict(channels=0), "channels", "channels=0"),
        (NB201Cell, dict(cells_per_stage=0), "cells_per_stage", "=0"),
        (NB201Cell, dict(num_classes=1), "num_classes", "num_classes=1"),
        (NB201Cell, dict(learning_rate=0), "learning_rate", "learning_rate=0"),
    ],
)
def test_constructor_validation(factory, kwargs, argument, shown):
    args = dict(input_shape=IMAGE, num_classes=NUM_CLASSES)
    args.update(kwargs)
    with pytest.raises(ValueError) as info:
        factory(**args)
    message = str(info.value)
    assert f"`{argument}`" in message, message
    assert shown in message, message


def test_get_space():
    assert isinstance(get_space("mlp", (4,), 3, max_layers=1), MLP)
    assert isinstance(get_space("convnet", IMAGE, 3), ConvNet)
    space = get_space("nb201", IMAGE, 3, channels=2)
    assert isinstance(space, NB201Cell) and space.channels == 2
    with pytest.raises(ValueError, match="`space`") as info:
        get_space("nope", (4,), 3)
    assert "space='nope'" in str(info.value)


def test_get_config_recreates_space():
    for name in ("mlp", "convnet", "nb201"):
        space = make_space(name)
        config = space.get_config()
        clone = type(space)(**config)
        assert clone.get_config() == config
        assert encoding_of(clone).count() == encoding_of(space).count()


# -------------------------------------------------------------- Zeros layer


def test_zeros_layer_outputs_zeros():
    x = np.random.default_rng(0).normal(size=(2, 3, 3, 2)).astype("float32")
    out = Zeros()(x)
    assert tuple(out.shape) == x.shape
    assert out.dtype == "float32"
    np.testing.assert_array_equal(out, np.zeros_like(x))


def test_zeros_layer_config_round_trip():
    layer = Zeros(name="zero_edge")
    config = keras.saving.serialize_keras_object(layer)
    assert config["registered_name"] == "keras_nas>Zeros"
    clone = keras.saving.deserialize_keras_object(config)
    assert isinstance(clone, Zeros)
    assert clone.name == "zero_edge"
    assert clone.get_config() == layer.get_config()
    assert Zeros.from_config(layer.get_config()).get_config() == layer.get_config()


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
def test_model_with_zeros_saves_and_reloads(tmp_path):
    space = make_space("nb201")
    values = from_arch_str(
        "|none~0|+|nor_conv_3x3~0|skip_connect~1|+|none~0|none~1|skip_connect~2|"
    )
    model = build(space, values)
    assert layers_of(model, Zeros)
    x = np.random.default_rng(0).normal(size=(3,) + IMAGE).astype("float32")
    expected = np.asarray(model(x, training=False))
    path = tmp_path / "nb201.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert layers_of(reloaded, Zeros)
    np.testing.assert_allclose(
        np.asarray(reloaded(x, training=False)), expected, rtol=1e-5, atol=1e-6
    )


def test_build_architecture_builds_the_model_of_the_values():
    space = make_space("nb201")
    values = from_arch_str(BENCH_STR)
    model = space.build_architecture(values)
    hp = declared(space)
    hp.values = dict(values)
    assert model.count_params() == space.build(hp).count_params()
    assert model.count_params() != space.build(declared(space)).count_params()
    assert model.optimizer is not None and model.compiled
