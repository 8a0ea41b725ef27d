"""`MLP`: a multilayer perceptron of searchable depth and layers."""

import keras

from keras_nas import validation
from keras_nas.spaces.base import SearchSpace
from keras_nas.spaces.base import batch_norm_layer
from keras_nas.spaces.base import chain_structure
from keras_nas.spaces.base import depth_scope

ACTIVATIONS = ("relu", "tanh", "gelu", "elu", "swish", "sigmoid")


def _bool_decision(hp, name, options):
    """A Boolean decision, or a Fixed one when only one option is allowed."""
    if len(options) == 2:
        return hp.Boolean(name)
    return hp.Fixed(name, options[0])


class MLP(SearchSpace):
    """Dense networks: depth, and per layer width, activation, dropout,
    batch normalisation and an optional residual skip.

    Decisions: `num_layers`, then for each layer `i` (active when
    `num_layers > i`): `units_i`, `activation_i`, `dropout_i`,
    `batch_norm_i` and, with `skip_connections=True`, `skip_i` (add the
    layer's input to its output, through a linear projection when the widths
    differ).

    Args:
        input_shape: Shape of one sample; inputs of rank > 1 are flattened.
        num_classes: Number of classes of a multiclass task.
        min_layers: Fewest hidden layers.
        max_layers: Most hidden layers.
        widths: Widths a hidden layer may take.
        activations: Activations a hidden layer may take.
        dropout_rates: Dropout rates a hidden layer may take.
        batch_norm: Options for batch normalisation after a layer; `(False,)`
            switches it off everywhere.
        skip_connections: Whether each layer may have a residual skip.
        learning_rate: Adam learning rate.
        **options: `task`, `normalize` (default: on) and
            `normalization`, as in `SearchSpace`.

    Example:

    ```python
    space = MLP(input_shape=(64,), num_classes=10, max_layers=3)
    ```
    """

    space_name = "mlp"
    normalize_by_default = True

    def __init__(
        self,
        input_shape,
        num_classes=None,
        min_layers=1,
        max_layers=3,
        widths=(32, 64, 128),
        activations=("relu", "tanh", "gelu"),
        dropout_rates=(0.0, 0.2),
        batch_norm=(False, True),
        skip_connections=True,
        learning_rate=1e-3,
        **options,
    ):
        super().__init__(input_shape, num_classes, learning_rate, **options)
        self.min_layers, self.max_layers = validation.check_depth_limits(
            "layers", min_layers, max_layers
        )
        self.widths = validation.check_positive_ints("widths", widths)
        self.activations = validation.check_choices(
            "activations", activations, ACTIVATIONS
        )
        self.dropout_rates = validation.check_dropout_rates("dropout_rates",
                                                            dropout_rates)
        self.batch_norm = validation.check_choices(
            "batch_norm", batch_norm, (False, True)
        )
        if not isinstance(skip_connections, bool):
            raise ValueError(
                "Received an invalid value for `skip_connections`, expected a "
                f"bool. Received: skip_connections={skip_connections!r}"
            )
        self.skip_connections = skip_connections

    def _decide(self, hp):
        num_layers = hp.Int("num_layers", self.min_layers, self.max_layers)
        layers = []
        for i in range(self.max_layers):
            with depth_scope(hp, "num_layers", i, self.max_layers):
                layer = {
                    "units": hp.Choice(f"units_{i}", list(self.widths)),
                    "activation": hp.Choice(
                        f"activation_{i}", list(self.activations)
                    ),
                    "dropout": hp.Choice(f"dropout_{i}", list(self.dropout_rates)),
                    "batch_norm": _bool_decision(
                        hp, f"batch_norm_{i}", self.batch_norm
                    ),
                }
                if self.skip_connections:
                    layer["skip"] = hp.Boolean(f"skip_{i}")
            layers.append(layer)
        return {"num_layers": num_layers, "layers": layers[:num_layers]}

    def _build_network(self, decisions):
        inputs = self._inputs()
        x = self._features(inputs)
        if len(self.input_shape) > 1:
            x = keras.layers.Flatten()(x)
        for i, layer in enumerate(decisions["layers"]):
            h = keras.layers.Dense(layer["units"], name=f"dense_{i}")(x)
            if layer["batch_norm"]:
                h = batch_norm_layer()(h)
            h = keras.layers.Activation(layer["activation"])(h)
            if layer["dropout"] > 0:
                h = keras.layers.Dropout(layer["dropout"])(h)
            if layer.get("skip"):
                shortcut = x
                if x.shape[-1] != layer["units"]:
                    shortcut = keras.layers.Dense(
                        layer["units"], use_bias=False, name=f"projection_{i}"
                    )(x)
                h = keras.layers.Add()([h, shortcut])
            x = h
        return keras.Model(inputs, self._classifier(x), name="mlp")

    def structure(self):
        roles = {
            "operation": "activation",
            "units": "units",
            "dropout": "dropout",
            "batch_norm": "batch_norm",
        }
        if self.skip_connections:
            roles["skip"] = "skip"
        return chain_structure(roles, "num_layers", self.max_layers)

    def get_config(self):
        return {
            **super().get_config(),
            "min_layers": self.min_layers,
            "max_layers": self.max_layers,
            "widths": list(self.widths),
            "activations": list(self.activations),
            "dropout_rates": list(self.dropout_rates),
            "batch_norm": list(self.batch_norm),
            "skip_connections": self.skip_connections,
        }
