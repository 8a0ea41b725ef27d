"""Tests of keras_nas.darts: mixed op, supernets, bilevel steps, derive, guard."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_nas.darts import CollapseGuard
from keras_nas.darts import DartsSearch
from keras_nas.darts import MixedOp
from keras_nas.darts import alpha_weights
from keras_nas.darts import build_supernet
from keras_nas.darts import derive
from keras_nas.darts import paired_dataset
from keras_nas.darts import parameter_free_decisions
from keras_nas.darts import supernet_spec
from keras_nas.layers import Zeros
from keras_nas.spaces import MLP
from keras_nas.spaces import ConvNet
from keras_nas.spaces import NB201Cell
from keras_nas.spaces.nb201 import from_arch_str

# Fewer operations than NB201's five keep the traced graphs (and the tests)
# small; every kind of operation is still covered somewhere below.
NB201_OPS = ("none", "skip_connect", "nor_conv_1x1")


def tiny_data(n=16, classes=3, shape=(4, 4, 1), seed=0, dtype="float32"):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = rng.normal(size=(n, *shape)) * 0.5 + y[:, None, None, None]
    return x.astype(dtype), y.astype("int32")


def tiny_nb201(operations=NB201_OPS):
    return NB201Cell(
        input_shape=(4, 4, 1), num_classes=3, operations=operations, channels=2
    )


def tiny_convnet(**kwargs):
    settings = {
        "max_blocks": 2,
        "operations": ("conv3x3", "sep_conv3x3", "identity"),
        "filters": (4, 8),
    }
    settings.update(kwargs)
    return ConvNet(input_shape=(4, 4, 1), num_classes=3, **settings)


def by_creation(model):
    """A model's weights ordered by layer type, then layer creation order."""

    def key(item):
        index, variable = item
        layer = variable.path.rsplit("/", 2)[-2]
        base, _, number = layer.rpartition("_")
        if not number.isdigit():
            base, number = layer, "0"
        return base, int(number), index

    return [v for _, v in sorted(enumerate(model.weights), key=key)]


def read(variables):
    return [np.array(keras.ops.convert_to_numpy(v)) for v in variables]


# --- the mixed operation ---------------------------------------------------


def test_mixed_op_is_the_weighted_sum_and_round_trips_its_config():
    inputs = keras.Input((4, 4, 2))
    conv = keras.Model(inputs, keras.layers.Conv2D(2, 3, padding="same")(inputs))
    layer = MixedOp(["none", "skip", "conv"], [Zeros(), keras.layers.Identity(), conv])
    x = np.random.default_rng(0).normal(size=(3, 4, 4, 2)).astype("float32")
    w = np.tile(np.array([[0.2, 0.3, 0.5]], "float32"), (3, 1))

    expected = 0.3 * x + 0.5 * keras.ops.convert_to_numpy(conv(x))
    np.testing.assert_allclose(layer(x, w), expected, rtol=1e-5, atol=1e-6)

    config = keras.saving.serialize_keras_object(layer)
    assert config["registered_name"] == "keras_nas>MixedOp"
    clone = keras.saving.deserialize_keras_object(json.loads(json.dumps(config)))
    clone(x, w)
    clone.set_weights(layer.get_weights())
    assert clone.operations == ["none", "skip", "conv"]
    np.testing.assert_allclose(clone(x, w), layer(x, w), rtol=1e-6)


def test_mixed_op_rejects_mismatched_candidates():
    with pytest.raises(ValueError, match="one layer per operation"):
        MixedOp(["a", "b"], [keras.layers.Identity()])


# --- supernets -------------------------------------------------------------


@pytest.mark.parametrize(
    "space, values, fixed",
    [
        (
            NB201Cell((4, 4, 1), 3, operations=("nor_conv_3x3",), channels=2),
            {f"edge_{t}_{s}": "nor_conv_3x3" for t in (1, 2, 3) for s in range(t)},
            None,
        ),
        (
            ConvNet(
                (4, 4, 1),
                3,
                max_blocks=2,
                operations=("conv3x3",),
                filters=(4,),
                pooling=("max",),
            ),
            {
                "num_blocks": 2,
                "op_0": "conv3x3",
                "filters_0": 4,
                "pool_0": "max",
                "skip_0": True,
                "op_1": "conv3x3",
                "filters_1": 4,
                "pool_1": "max",
                "skip_1": True,
            },
            {"skip": True},
        ),
    ],
    ids=["nb201", "convnet"],
)
def test_supernet_reproduces_the_space_skeleton(space, values, fixed):
    # With one operation per decision and affine batch norms, the supernet is
    # the space's network.
    supernet = build_supernet(space, fixed=fixed, affine=True)
    model = space.build_architecture(values)
    assert supernet.network.count_params() == model.count_params()
    for target, source in zip(by_creation(supernet.network), by_creation(model)):
        target.assign(source)
    x, _ = tiny_data(4)
    np.testing.assert_allclose(supernet(x), model(x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("space_fn", [tiny_nb201, tiny_convnet])
def test_candidate_batch_norms_are_not_affine_by_default(space_fn):
    # DARTS: no scale or offset in the candidates' batch norms; the space's
    # stem, reduction blocks and head keep theirs.
    plain = build_supernet(space_fn())
    affine = build_supernet(space_fn(), affine=True)

    def batch_norms(supernet):
        return [
            layer
            for layer in supernet.network._flatten_layers()
            if isinstance(layer, keras.layers.BatchNormalization)
        ]

    inside = {
        id(layer)
        for mixed in plain.network._flatten_layers()
        if isinstance(mixed, MixedOp)
        for layer in mixed._flatten_layers()
    }
    norms = batch_norms(plain)
    assert any(id(n) in inside for n in norms)
    for norm in norms:
        assert norm.center == norm.scale == (id(norm) not in inside)
    assert all(n.center and n.scale for n in batch_norms(affine))
    candidate_norms = sum(id(n) in inside for n in norms)
    assert len(affine.network_variables) - len(plain.network_variables) == (
        2 * candidate_norms
    )


def test_architecture_weights_are_separate_from_network_weights():
    supernet = build_supernet(tiny_nb201(), seed=3)
    arch = {id(v) for v in supernet.arch_variables}
    assert len(supernet.arch_variables) == 6
    assert not arch & {id(v) for v in supernet.trainable_variables}
    assert [id(v) for v in supernet.network_variables] == [
        id(v) for v in supernet.trainable_variables
    ]
    alphas = supernet.get_alphas()
    assert list(alphas) == [f"edge_{t}_{s}" for t in (1, 2, 3) for s in range(t)]
    assert all(len(a) == 3 and max(map(abs, a)) < 0.01 for a in alphas.values())
    new = {name: [0.0, 1.0, 2.0] for name in alphas}
    supernet.set_alphas(new)
    assert supernet.get_alphas() == new
    with pytest.raises(ValueError, match=r"alphas\['edge_1_0'\]"):
        supernet.set_alphas({**new, "edge_1_0": [1.0]})


def test_invalid_arguments_name_the_argument():
    with pytest.raises(ValueError, match=r"expected 1 or 2\. Received: order=3"):
        build_supernet(tiny_convnet(), order=3)
    with pytest.raises(TypeError, match="NB201Cell or ConvNet"):
        supernet_spec(MLP(input_shape=(4,), num_classes=2))
    with pytest.raises(ValueError, match=r"keys among"):
        supernet_spec(tiny_convnet(), fixed={"filters": 8})
    with pytest.raises(ValueError, match=r"fixed\['num_blocks'\]"):
        supernet_spec(tiny_convnet(), fixed={"num_blocks": 5})
    with pytest.raises(ValueError, match="Received: guard="):
        DartsSearch(tiny_convnet(), guard="yes")
    with pytest.raises(ValueError, match="Received: affine=1"):
        DartsSearch(tiny_convnet(), affine=1)


def test_paired_dataset_epochs_hold_every_train_example_in_full_batches():
    x, y = tiny_data(10)
    ids = np.arange(10)
    dataset = paired_dataset(x, ids, x[:3], y[:3], batch_size=4, seed=0)
    # Static batch shapes: the bilevel step is traced for one shape only.
    (train_spec, _), (val_spec, _) = dataset.element_spec
    assert train_spec.shape == (4, 4, 4, 1) and val_spec.shape == (4, 4, 4, 1)
    orders = []
    for _ in range(3):
        batches = list(dataset)
        assert len(batches) == 3  # ceil(10 / 4) steps per epoch
        seen = np.concatenate([train[1].numpy() for train, _ in batches])
        assert len(seen) == 12 and set(seen[:10]) == set(range(10))
        assert all(val[0].shape == (4, 4, 4, 1) for _, val in batches)
        orders.append(seen[:10].tolist())
    assert orders[0] != orders[1]  # reshuffled every epoch
    with pytest.raises(ValueError, match="y_val"):
        paired_dataset(x, y, x, y[:3])


# --- architecture gradients -----------------------------------------------


def test_first_order_gradient_is_the_plain_validation_gradient():
    supernet = build_supernet(tiny_nb201(), order=1, seed=0, alpha_stddev=0.5)
    train, val = tiny_data(8, seed=1), tiny_data(8, seed=2)
    gradients, _, _ = supernet.arch_gradients(train, val)

    variables = [v.value for v in supernet.arch_variables]
    with tf.GradientTape() as tape:
        tape.watch(variables)
        loss = keras.ops.mean(
            keras.losses.sparse_categorical_crossentropy(
                val[1], supernet(val[0], training=True)
            )
        )
    expected = tape.gradient(loss, variables)
    for got, want in zip(gradients, expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_second_order_gradient_matches_finite_differences():
    """DARTS's unrolled gradient against central differences of the objective.

    The objective is `f(alpha) = L_val(w - xi * grad_w L_train(w, alpha),
    alpha)` at fixed batches, in float64, batch norm on batch statistics: a
    deterministic function of alpha. The reference differentiates it by
    central differences (h=1e-5, truncation ~h**2, round-off ~1e-16/h: both
    ~1e-10 relative). `arch_gradients` is the code `train_step` runs; its
    finite-difference Hessian-vector product uses `hessian_radius=1e-6`
    here, where its own error is ~1e-9 relative (measured: 3e-9). DARTS's
    radius 0.01 (the default) is an approximation, coarse on a 2-channel
    network whose ReLUs and 8-sample batch norms make the loss sharply
    curved, so it is not what this test pins. Tolerance: 1e-6 of the
    gradient's norm; the second-order term itself is asserted to be large.
    """
    keras.config.set_floatx("float64")
    try:
        xi = 0.5
        space = tiny_nb201(("none", "skip_connect", "nor_conv_1x1", "avg_pool_3x3"))
        supernet = build_supernet(
            space,
            order=2,
            seed=0,
            alpha_stddev=0.5,
            unrolled_learning_rate=xi,
            hessian_radius=1e-6,
        )
        train = tiny_data(8, seed=1, dtype="float64")
        val = tiny_data(8, seed=2, dtype="float64")
        gradients, _, _ = supernet.arch_gradients(train, val)
        supernet.order = 1
        first_order, _, _ = supernet.arch_gradients(train, val)

        weights = [tf.identity(v.value) for v in supernet.network_variables]
        alphas = [tf.identity(v.value) for v in supernet.arch_variables]

        @tf.function
        def objective(alphas):
            with tf.GradientTape() as tape:
                tape.watch(weights)
                train_loss, _ = supernet.batch_loss(weights, alphas, *train)
            grads = tape.gradient(train_loss, weights, unconnected_gradients="zero")
            unrolled = [w - xi * g for w, g in zip(weights, grads)]
            return supernet.batch_loss(unrolled, alphas, *val)[0]

        h = 1e-5
        reference = []
        for d, alpha in enumerate(alphas):
            for k in range(alpha.shape[0]):
                step = tf.one_hot(k, alpha.shape[0], dtype=alpha.dtype) * h
                plus = list(alphas)
                minus = list(alphas)
                plus[d] = alpha + step
                minus[d] = alpha - step
                reference.append(float(objective(plus) - objective(minus)) / (2 * h))
    finally:
        keras.config.set_floatx("float32")

    reference = np.array(reference)
    analytic = np.concatenate([np.asarray(g) for g in gradients])
    first = np.concatenate([np.asarray(g) for g in first_order])
    scale = np.linalg.norm(reference)
    assert np.linalg.norm(analytic - reference) < 1e-6 * scale
    # The unrolled correction matters here: first order is far off.
    assert np.linalg.norm(first - reference) > 0.1 * scale


# --- search through model.fit ---------------------------------------------


class WeightsAtEpochEnd(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(epoch)


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize(
    "space_fn", [tiny_nb201, tiny_convnet], ids=["nb201", "convnet"]
)
def test_search_runs_through_fit_and_derives_a_buildable_architecture(space_fn, order):
    space = space_fn()
    x, y = tiny_data(16)
    x_val, y_val = tiny_data(8, seed=1)
    with tf.distribute.get_strategy().scope():
        search = DartsSearch(
            space, order=order, guard=False, seed=0, arch_learning_rate=0.01
        )
    alphas = search.get_alphas()
    weights = read(search.supernet.network_variables)
    callback = WeightsAtEpochEnd()

    history = search.fit(
        x, y, x_val, y_val, epochs=2, batch_size=8, callbacks=[callback]
    )

    assert callback.epochs == [0, 1]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"):
        assert len(history.history[key]) == 2
    assert np.isfinite(history.history["val_loss"]).all()
    assert history.history["learning_rate"][1] < history.history["learning_rate"][0]
    moved = max(
        np.abs(np.subtract(alphas[name], values)).max()
        for name, values in search.get_alphas().items()
    )
    assert moved > 1e-3
    after = read(search.supernet.network_variables)
    assert all(not np.array_equal(a, b) for a, b in zip(weights, after))

    values = search.derive()
    model = space.build_architecture(values)
    assert model(x).shape == (16, 3)
    weights = search.alphas()
    assert json.loads(json.dumps(weights)) == weights
    if isinstance(space, NB201Cell):
        assert "none" not in values.values()
        assert from_arch_str(search.describe()["arch_str"]) == values


def test_search_runs_under_a_distribution_strategy():
    x, y = tiny_data(16)
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    search = DartsSearch(
        tiny_convnet(), order=2, seed=0, distribution_strategy=strategy
    )
    history = search.fit(x, y, x, y, epochs=1, batch_size=8)
    assert np.isfinite(history.history["loss"]).all()
    assert search.space.build_architecture(search.derive()) is not None


# --- derive ----------------------------------------------------------------


def test_derive_excludes_none_and_accepts_saved_alphas():
    space = tiny_nb201(("none", "skip_connect", "nor_conv_1x1", "avg_pool_3x3"))
    supernet = build_supernet(space)
    logits = {name: [0.0, 0.1, 0.2, 0.3] for name in supernet.decisions}
    logits["edge_1_0"] = [5.0, 1.0, 2.0, 0.0]  # none strongest: excluded
    logits["edge_2_1"] = [0.0, 3.0, 0.0, 0.0]
    supernet.set_alphas(logits)

    values = derive(supernet, space)
    assert values["edge_1_0"] == "nor_conv_1x1"
    assert values["edge_2_1"] == "skip_connect"
    assert values["edge_3_2"] == "avg_pool_3x3"
    assert derive(supernet.get_alphas(), space) == values
    weights = json.loads(json.dumps(alpha_weights(supernet)))
    assert derive(weights, space) == values
    assert abs(sum(weights["edge_1_0"].values()) - 1.0) < 1e-9
    assert max(weights["edge_1_0"], key=weights["edge_1_0"].get) == "none"
    assert space.describe(values)["arch_str"].startswith("|nor_conv_1x1~0|+")
    with pytest.raises(ValueError, match="source"):
        derive({"edge_1_0": [1.0]}, space)


def test_derive_maps_convnet_back_to_its_fixed_values():
    space = tiny_convnet(max_blocks=3, pooling=("none", "max"))
    search = DartsSearch(space, fixed={"num_blocks": 2, "pool": "max", "skip": True})
    search.set_alphas({"op_0": [0.0, 1.0, 0.0], "op_1": [0.0, 0.0, 1.0]})
    values = search.derive()
    assert values == {
        "num_blocks": 2,
        "op_0": "sep_conv3x3",
        "filters_0": 4,
        "pool_0": "max",
        "skip_0": True,
        "op_1": "identity",
        "pool_1": "max",
        "skip_1": True,
    }
    assert space.build_architecture(values).count_params() > 0

    default = supernet_spec(space)
    assert default.fixed == {
        "num_blocks": 3,
        "pool_0": "none",
        "skip_0": False,
        "pool_1": "none",
        "skip_1": False,
        "pool_2": "none",
        "skip_2": False,
    }
    assert default.fixed_when_active == {"filters_0": 4, "filters_1": 4, "filters_2": 4}


# --- collapse guard --------------------------------------------------------


def test_collapse_guard_stops_before_parameter_free_operations_take_over():
    """A search built to collapse onto `identity`, with and without the guard.

    The network barely learns (learning rate 1e-4), so its convolutions stay
    random and the architecture step (Adam, lr 0.05) keeps favouring the
    parameter-free `identity`, as in the early phase of DARTS's collapse.
    The logits start in favour of `conv3x3` by 0.5. Without the guard two of
    the three blocks end on `identity` (by ~2 logits); the guard stops the
    search at the first epoch where identity leads more than half of the
    blocks and keeps the logits of the epoch before, where conv3x3 still
    leads every block.
    """
    space = ConvNet(
        (4, 4, 1),
        2,
        max_blocks=3,
        operations=("conv3x3", "identity"),
        filters=(4,),
        skip_connections=False,
    )
    rng = np.random.default_rng(0)
    y = np.arange(32) % 2
    x = rng.normal(size=(32, 4, 4, 1)) * 0.5 + y[:, None, None, None]
    x = x.astype("float32")
    start = {f"op_{i}": [0.5, 0.0] for i in range(3)}

    results = {}
    for guard in (False, True):
        keras.utils.set_random_seed(1234)
        search = DartsSearch(
            space,
            guard=guard,
            seed=0,
            learning_rate=1e-4,
            min_learning_rate=0.0,
            arch_learning_rate=0.05,
        )
        search.set_alphas(start)
        history = search.fit(x, y, x[::-1], y[::-1], epochs=8, batch_size=8)
        results[guard] = (search, history)

    search, history = results[False]
    assert len(history.epoch) == 8
    assert len(parameter_free_decisions(search.supernet)) >= 2
    assert sum(op == "identity" for op in search.derive().values()) >= 2

    search, history = results[True]
    guard = search.guard
    assert guard.stopped_epoch is not None and len(history.epoch) < 8
    assert history.history["parameter_free_fraction"][-1] > 0.5
    assert len(parameter_free_decisions(search.supernet)) <= 1
    assert sum(op == "identity" for op in search.derive().values()) <= 1
    assert guard.restored_epoch == guard.stopped_epoch - 1
    state = json.loads(json.dumps(guard.get_state()))
    restored = CollapseGuard()
    restored.set_state(state)
    assert restored.get_state() == guard.get_state()


def test_collapse_guard_is_on_by_default_and_ignores_near_ties():
    search = DartsSearch(tiny_convnet())
    assert isinstance(search.guard, CollapseGuard)
    assert search.guard.max_fraction == 0.5 and search.guard.margin == 0.1
    # ops: conv3x3, sep_conv3x3, identity; identity leads by 0.05, then 0.2.
    search.set_alphas({"op_0": [0.0, 0.1, 0.15], "op_1": [0.0, 0.1, 0.3]})
    supernet = search.supernet
    assert parameter_free_decisions(supernet) == ["op_0", "op_1"]
    assert parameter_free_decisions(supernet, margin=0.1) == ["op_1"]
    with pytest.raises(ValueError, match="max_fraction"):
        CollapseGuard(max_fraction=1.0)


# --- resume, retrain, export -------------------------------------------------


def test_save_and_load_weights_restore_the_search(tmp_path):
    x, y = tiny_data(16)
    first = DartsSearch(tiny_convnet(), seed=0, arch_learning_rate=0.01)
    first.fit(x, y, x, y, epochs=1, batch_size=8)
    path = str(tmp_path / "search.weights.h5")
    first.save_weights(path)

    second = DartsSearch(tiny_convnet(), seed=5)
    second.load_weights(path)
    assert second.get_alphas() == first.get_alphas()
    for a, b in zip(read(first.supernet.weights), read(second.supernet.weights)):
        np.testing.assert_array_equal(a, b)
    for attr in ("optimizer", "arch_optimizer"):
        saved = read(getattr(first.supernet, attr).variables)
        loaded = read(getattr(second.supernet, attr).variables)
        assert int(loaded[0]) == 2  # iterations
        for a, b in zip(saved, loaded):
            np.testing.assert_array_equal(a, b)
    history = second.fit(x, y, x, y, epochs=2, batch_size=8, initial_epoch=1)
    assert history.epoch == [1]


def test_retrain_and_export_like_a_trial(tmp_path):
    space = tiny_nb201()
    search = DartsSearch(space)
    search.set_alphas(
        {
            name: [9.0, 0.0, 1.0] if name == "edge_1_0" else [0.0, 1.0, 0.0]
            for name in search.get_alphas()
        }
    )
    x, y = tiny_data(16)
    model = search.retrain(x, y, validation_data=(x, y), epochs=1, batch_size=8)
    assert "val_accuracy" in model.history.history
    path = search.export(model, tmp_path / "darts", x_test=x, y_test=y)

    architecture = json.loads((path / "architecture.json").read_text())
    assert architecture["strategy"] == "darts"
    assert architecture["arch_str"] == (
        "|nor_conv_1x1~0|+|skip_connect~0|skip_connect~1|"
        "+|skip_connect~0|skip_connect~1|skip_connect~2|"
    )
    assert architecture["decisions"] == search.derive()
    assert set(architecture["darts"]["alphas"]) == set(search.get_alphas())
    metrics = json.loads((path / "metrics.json").read_text())
    assert "test_accuracy" in metrics
    loaded = tf.saved_model.load(str(path))
    np.testing.assert_allclose(loaded.serve(x), model(x), rtol=1e-4, atol=1e-5)
