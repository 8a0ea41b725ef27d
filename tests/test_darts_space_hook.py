"""A space written here becomes searchable by DARTS through `supernet` alone."""

import keras
import numpy as np
import pytest

from keras_nas.darts import DartsSearch
from keras_nas.darts import build_supernet
from keras_nas.spaces import MLP
from keras_nas.spaces import SearchSpace
from keras_nas.spaces import SupernetSpec
from keras_nas.spaces.base import batch_norm_layer

WIDTH = 4
DECISIONS = {"activation": ("relu", "tanh", "identity"), "layer": ("dense", "identity")}


def _operation(x, operation, units, affine=True):
    if operation == "identity":
        return x
    if operation == "dense":
        x = keras.layers.Dense(units, use_bias=False)(x)
        return batch_norm_layer(affine)(x)
    return keras.layers.Activation(operation)(x)


class TinyDense(SearchSpace):
    """A stem, an activation, an optional dense layer of `units`, the head."""

    space_name = "tiny_dense"

    def _decide(self, hp):
        decisions = {name: hp.Choice(name, list(o)) for name, o in DECISIONS.items()}
        with hp.conditional_scope("layer", ["dense"]):
            decisions["units"] = hp.Choice("units", [WIDTH, 8])
        return decisions

    def _build_network(self, decisions):
        inputs = self._inputs()
        outputs = self._outputs(
            inputs, lambda x, name: _operation(x, decisions[name], decisions["units"])
        )
        return keras.Model(inputs, outputs)

    def supernet(self, fixed=None):
        if fixed:
            raise ValueError(f"Received: fixed={fixed!r}")

        def build(mixed, affine):
            inputs = self._inputs()
            outputs = self._outputs(
                inputs,
                lambda x, name: mixed(
                    name, x, lambda h, op: _operation(h, op, WIDTH, affine)
                ),
            )
            return inputs, outputs

        return SupernetSpec(
            decisions=DECISIONS,
            build=build,
            fixed_when_active={"units": WIDTH},
            parameter_free=("identity",),
        )

    def _outputs(self, inputs, operation):
        x = keras.layers.Dense(WIDTH, name="stem")(inputs)
        for name in DECISIONS:
            x = operation(x, name)
        return self._classifier(x)


def test_darts_searches_a_space_through_its_supernet_hook():
    space = TinyDense(input_shape=(6,), num_classes=3)
    assert space.has_supernet()
    rng = np.random.default_rng(0)
    y = np.arange(16) % 3
    x = (rng.normal(size=(16, 6)) + y[:, None]).astype("float32")

    search = DartsSearch(space, seed=0)
    history = search.fit(x, y, x, y, epochs=1, batch_size=8)

    assert np.isfinite(history.history["loss"]).all()
    assert "parameter_free_fraction" in history.history
    assert list(search.get_alphas()) == list(DECISIONS)
    model = search.build_model()
    assert model(x).shape == (16, 3)
    search.set_alphas({"activation": [0.0, 1.0, 0.0], "layer": [1.0, 0.0]})
    assert search.derive() == {"activation": "tanh", "layer": "dense", "units": WIDTH}
    search.set_alphas({"activation": [0.0, 0.0, 1.0], "layer": [0.0, 1.0]})
    assert search.derive() == {"activation": "identity", "layer": "identity"}


def test_spaces_without_a_supernet_are_refused_by_name():
    space = MLP(input_shape=(4,), num_classes=2)
    assert not space.has_supernet()
    with pytest.raises(NotImplementedError, match="MLP has no supernet"):
        space.supernet()
    with pytest.raises(TypeError, match="Received: space=MLP"):
        DartsSearch(space)


def test_a_declared_decision_that_is_never_mixed_is_refused():
    class Unmixed(TinyDense):
        def supernet(self, fixed=None):
            spec = super().supernet(fixed)
            return SupernetSpec({**DECISIONS, "extra": ("a", "b")}, spec.build)

    with pytest.raises(ValueError, match=r"\['extra'\] never mixed"):
        build_supernet(Unmixed(input_shape=(6,), num_classes=3))
    with pytest.raises(ValueError, match="Received: decisions={}"):
        SupernetSpec({}, build=None)
